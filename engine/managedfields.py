"""Field ownership for server-side apply: field sets, their `FieldsV1`
encoding, conflicts, and what an apply or an update does to
`metadata.managedFields`, as Kubernetes' structured-merge-diff does.

A field set is a set of paths; a path is a tuple of `FieldsV1` keys:
`f:<name>` for a map field, `k:{"name":"c"}` for the element of a list
merged by key (a list-map), `v:<json>` for a value of a set list, and a
final `.` for the element itself. `("f:spec", "f:replicas")` is the field
`.spec.replicas`. Lists with no merge key are atomic: the list is one leaf.

List kinds come from `list_kinds(obj)`: `engine.patch.DEFAULT_MERGE_KEYS`
(Kubernetes' patchMergeKey tags) for built-in kinds, the CRD schema's
`x-kubernetes-list-type` (map with its `x-kubernetes-list-map-keys`, set)
for custom kinds, atomic otherwise.

Contract:
* `fields(doc, kinds)` -> {path: value} for every leaf (and `.` element
  member, value `MEMBER`) of a JSON document;
* `encode(paths)` / `decode(fieldsV1)` convert to and from `FieldsV1`;
* `conflicts(...)`, `remove(doc, paths, kinds)`, `merge(doc, config, kinds)`
  are the pieces `engine.store.Store.apply` and `Store.update` assemble.

Neighbours: `engine.store` (apply, update tracking), `engine.patch`
(strategic merge of the applied configuration).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from engine.api.base import Resource
from engine.crd import CustomResource
from engine.patch import DEFAULT_MERGE_KEYS, SCALAR_SET, strategic_merge_patch
from engine.schema.node import Node

__all__ = [
    "MEMBER",
    "SERVER_METADATA",
    "ListKinds",
    "Path",
    "decode",
    "describe",
    "encode",
    "fields",
    "list_kinds",
    "merge",
    "remove",
    "spec_document",
]

Path = tuple[str, ...]
ListKinds = Mapping[str, tuple[str, ...]]
"""Dotted list path (as `engine.patch` merge keys) -> its key fields; `()`
for a set. Lists not named are atomic."""

MEMBER: Final = object()
"""The value of a `.` path: the element exists (never compared)."""

SERVER_METADATA: Final = frozenset(
    {
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "selfLink",
    }
)
"""Metadata the server sets: owned by nobody, compared by no one."""
_IDENTITY: Final = frozenset({"apiVersion", "kind"})
_META_IDENTITY: Final = frozenset({"name", "namespace", "generateName"})


def _builtin_kinds() -> dict[str, tuple[str, ...]]:
    return {p: () if k == SCALAR_SET else (k,) for p, k in DEFAULT_MERGE_KEYS.items()}


_BUILTIN: Final = _builtin_kinds()


def list_kinds(obj: Resource) -> ListKinds:
    """The list-map and set lists of `obj`'s kind (see the module docstring)."""
    if isinstance(obj, CustomResource):
        schema = type(obj).openapi_schema
        found = {k: v for k, v in _BUILTIN.items() if k.startswith("metadata.")}
        if schema is not None:
            _schema_kinds(schema, "", found, 0)
        return found
    return _BUILTIN


def _schema_kinds(node: Node, path: str, found: dict[str, tuple[str, ...]], depth: int) -> None:
    if depth > 32:
        return
    for name, child in node.properties.items():
        sub = f"{path}.{name}" if path else name
        if child.list_type == "map" and child.list_map_keys:
            found[sub] = child.list_map_keys
        elif child.list_type == "set":
            found[sub] = ()
        _schema_kinds(child, sub, found, depth + 1)
        if child.items is not None:
            _schema_kinds(child.items, sub + "[]", found, depth + 1)


def spec_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """What fields are owned in: the object without status, identity and
    server-set metadata."""
    result = {k: v for k, v in document.items() if k not in _IDENTITY and k != "status"}
    meta = {
        k: v
        for k, v in (document.get("metadata") or {}).items()
        if k not in SERVER_METADATA and k not in _META_IDENTITY
    }
    result.pop("metadata", None)
    if meta:
        result["metadata"] = meta
    return result


def _key(element: Mapping[str, Any], keys: tuple[str, ...]) -> str:
    return "k:" + json.dumps({k: element.get(k) for k in keys}, separators=(",", ":"))


def fields(document: Mapping[str, Any], kinds: ListKinds) -> dict[Path, Any]:
    """Every owned leaf of `document` with its value (see the module docstring)."""
    found: dict[Path, Any] = {}
    _walk(document, (), "", kinds, found)
    return found


def _walk(
    node: Mapping[str, Any], path: Path, dotted: str, kinds: ListKinds, found: dict[Path, Any]
) -> None:
    if not node:
        if path:
            found[path] = {}
        return
    for name, value in node.items():
        sub = (*path, f"f:{name}")
        sub_dotted = f"{dotted}.{name}" if dotted else name
        if isinstance(value, dict):
            _walk(value, sub, sub_dotted, kinds, found)
        elif isinstance(value, list) and sub_dotted in kinds:
            keys = kinds[sub_dotted]
            if not keys:
                for item in value:
                    found[(*sub, "v:" + json.dumps(item, separators=(",", ":")))] = item
                continue
            for item in value:
                if not isinstance(item, dict):
                    found[sub] = value  # not a list-map after all: atomic
                    break
                element = (*sub, _key(item, keys))
                found[(*element, ".")] = MEMBER
                rest = {k: v for k, v in item.items() if k not in keys}
                for key in keys:
                    if key in item:
                        found[(*element, f"f:{key}")] = item[key]
                if rest:
                    _walk(rest, element, sub_dotted + "[]", kinds, found)
        else:
            found[sub] = value


def encode(paths: Iterable[Path]) -> dict[str, Any]:
    """A field set in Kubernetes' `FieldsV1` form."""
    root: dict[str, Any] = {}
    for path in sorted(paths):
        node = root
        for part in path:
            node = node.setdefault(part, {})
    return root


def decode(fields_v1: Mapping[str, Any] | None) -> set[Path]:
    """The paths of a `FieldsV1` value."""
    found: set[Path] = set()

    def walk(node: Mapping[str, Any], path: Path) -> None:
        for key, sub in node.items():
            if key == ".":
                found.add((*path, "."))
            elif isinstance(sub, Mapping) and sub:
                walk(sub, (*path, key))
            else:
                found.add((*path, key))

    walk(fields_v1 or {}, ())
    return found


def describe(path: Path) -> str:
    """A path as Kubernetes prints it in conflicts: `.spec.replicas`,
    `.spec.containers[name="c"].image`, `.metadata.finalizers[="x"]`."""
    text = ""
    for part in path:
        if part.startswith("f:"):
            text += "." + part[2:]
        elif part.startswith("k:"):
            keys = json.loads(part[2:])
            text += "[" + ",".join(f"{k}={json.dumps(v)}" for k, v in keys.items()) + "]"
        elif part.startswith("v:"):
            text += f"[={part[2:]}]"
    return text


def merge(current: dict[str, Any], config: Mapping[str, Any], kinds: ListKinds) -> Any:
    """`current` with the applied configuration merged in: list-maps by key,
    sets as unions, everything else replaced."""
    merge_keys = {p: (SCALAR_SET if not k else k[0]) for p, k in kinds.items() if len(k) <= 1}
    return strategic_merge_patch(current, dict(config), merge_keys)


def remove(document: dict[str, Any], paths: Iterable[Path]) -> None:
    """Remove `paths` from `document` (a private copy, changed in place): the
    list elements whose `.` is among them, then the other fields (the key
    fields of an element that stays are kept: they name it)."""
    ordered = sorted(paths, key=lambda p: p[-1] != ".")
    for path in ordered:
        if path[-1] == ".":
            _remove_at(document, path[:-1])
        elif not _is_key_field(path):
            _remove_at(document, path)


def _is_key_field(path: Path) -> bool:
    return len(path) >= 2 and path[-2].startswith("k:") and path[-1][2:] in json.loads(path[-2][2:])


def _remove_at(document: Any, path: Path) -> None:
    node = document
    for part in path[:-1]:
        node = _step(node, part)
        if node is None:
            return
    last = path[-1]
    if last.startswith("f:") and isinstance(node, dict):
        node.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(node, list):
        keys = json.loads(last[2:])
        node[:] = [e for e in node if not _matches(e, keys)]
    elif last.startswith("v:") and isinstance(node, list):
        value = json.loads(last[2:])
        node[:] = [e for e in node if e != value]


def _matches(element: Any, keys: Mapping[str, Any]) -> bool:
    return isinstance(element, dict) and all(element.get(k) == v for k, v in keys.items())


def _step(node: Any, part: str) -> Any:
    if part.startswith("f:") and isinstance(node, dict):
        return node.get(part[2:])
    if part.startswith("k:") and isinstance(node, list):
        keys = json.loads(part[2:])
        return next((e for e in node if _matches(e, keys)), None)
    return None
