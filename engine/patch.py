"""The three Kubernetes patch formats, on plain JSON values (dicts, lists, str,
int, float, bool, None):

* `json_merge_patch(target, patch)`: RFC 7386 (`application/merge-patch+json`).
  Objects merge key by key, `null` deletes a key, anything else replaces.
* `json_patch(target, operations)`: RFC 6902 (`application/json-patch+json`):
  add, remove, replace, move, copy, test, with RFC 6901 pointers (`~0` `~1`
  escapes, `-` for the end of an array). A failing operation raises
  `PatchError` naming its index, its op and its path; nothing is applied.
* `strategic_merge_patch(target, patch, merge_keys)`: Kubernetes' strategic
  merge patch (`application/strategic-merge-patch+json`). Like a merge patch,
  except lists named in `merge_keys` merge element by element on a key
  (containers by `name`, ports by `containerPort`, ...) or, for lists of
  scalars with merge key `SCALAR_SET` (finalizers), as a set union. Other lists
  are replaced whole (tolerations and taints are, as in Kubernetes).
  Directives: `$patch: delete` (on a list element: remove the element with that
  key; on a map: remove the map), `$patch: replace` (on a map: replace it
  instead of merging; as a list element: replace the whole list with the other
  elements), `$patch: merge` (the default), `$retainKeys: [...]` (drop every
  other key of that map), `$deleteFromPrimitiveList/<field>: [...]` (remove
  values from a scalar set list). `$setElementOrder/<field>` is accepted and
  ignored: merged lists keep the target's order with new elements appended.

`merge_keys` maps a list field's path to its merge key. Paths are dotted
camelCase JSON paths from the object root, with `[]` after a list whose
elements they descend into: `spec.containers`, `spec.containers[].ports`,
`spec.template.spec.containers[].env`. `DEFAULT_MERGE_KEYS` holds Kubernetes'
patchMergeKey tags for the built-in kinds, including every pod template.

No function mutates its inputs, and results share no mutable part with them.

Neighbours: `engine.store` and `engine.client` apply patches to an object's
JSON form (`to_dict()`) and validate the result back into its model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = [
    "DEFAULT_MERGE_KEYS",
    "SCALAR_SET",
    "PatchError",
    "json_merge_patch",
    "json_patch",
    "strategic_merge_patch",
]

Json = Any
"""A JSON value: dict[str, Json] | list[Json] | str | int | float | bool | None."""


class PatchError(ValueError):
    """A patch that cannot be applied; the message names where and why."""


def _copy(value: Json) -> Json:
    """A deep copy of a JSON value (much cheaper than copy.deepcopy)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# -- RFC 7386 merge patch ------------------------------------------------------


def json_merge_patch(target: Json, patch: Json) -> Json:
    """Apply an RFC 7386 merge patch; returns a new value."""
    if not isinstance(patch, dict):
        return _copy(patch)
    result = {k: _copy(v) for k, v in target.items()} if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = json_merge_patch(result.get(key), value)
    return result


# -- RFC 6902 JSON patch -------------------------------------------------------


def _parse_pointer(pointer: Any) -> list[str]:
    if not isinstance(pointer, str):
        raise ValueError(f"a JSON pointer must be a string, not {type(pointer).__name__}")
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must be empty or start with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            raise ValueError(f"JSON pointer {pointer!r} has an invalid escape (only ~0 and ~1)")
    return [t.replace("~1", "/").replace("~0", "~") for t in tokens]


def _array_index(token: str, array: list[Any], *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(array)
    if not token.isdigit() or not token.isascii() or (len(token) > 1 and token[0] == "0"):
        raise ValueError(f"{token!r} is not an array index")
    index = int(token)
    limit = len(array) if allow_end else len(array) - 1
    if index > limit:
        raise ValueError(f"index {index} is out of range (array length {len(array)})")
    return index


def _resolve(doc: Json, tokens: Sequence[str]) -> Json:
    value = doc
    for depth, token in enumerate(tokens):
        if isinstance(value, dict):
            if token not in value:
                raise ValueError(f"no member {token!r} at /{'/'.join(tokens[:depth])}")
            value = value[token]
        elif isinstance(value, list):
            value = value[_array_index(token, value, allow_end=False)]
        else:
            raise ValueError(f"cannot descend into a scalar at /{'/'.join(tokens[:depth])}")
    return value


def _add(doc: Json, tokens: list[str], value: Json) -> Json:
    if not tokens:
        return value
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_array_index(last, parent, allow_end=True), value)
    else:
        raise ValueError("the parent of the target is not an object or an array")
    return doc


def _remove(doc: Json, tokens: list[str]) -> tuple[Json, Json]:
    """(document, removed value)."""
    if not tokens:
        raise ValueError("cannot remove the whole document")
    parent = _resolve(doc, tokens[:-1])
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise ValueError(f"no member {last!r} to remove")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_array_index(last, parent, allow_end=False))
    raise ValueError("the parent of the target is not an object or an array")


def _json_equal(a: Json, b: Json) -> bool:
    """RFC 6902 equality: like ==, except booleans never equal numbers."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return False
    return bool(a == b)


def _member(operation: Mapping[str, Any], name: str) -> Any:
    if name not in operation:
        raise ValueError(f"missing {name!r}")
    return operation[name]


def json_patch(target: Json, operations: Sequence[Mapping[str, Any]]) -> Json:
    """Apply an RFC 6902 patch; returns a new value. All or nothing: the first
    failing operation raises PatchError("operation 2 (remove /spec/x): ...")."""
    if not isinstance(operations, Sequence) or isinstance(operations, str | bytes):
        raise PatchError("a JSON patch must be an array of operations")
    doc = _copy(target)
    for index, operation in enumerate(operations):
        if not isinstance(operation, Mapping):
            raise PatchError(f"operation {index}: must be an object, not {operation!r}")
        op = operation.get("op")
        path = operation.get("path")
        try:
            tokens = _parse_pointer(_member(operation, "path"))
            if op == "add":
                doc = _add(doc, tokens, _copy(_member(operation, "value")))
            elif op == "remove":
                doc, _ = _remove(doc, tokens)
            elif op == "replace":
                value = _copy(_member(operation, "value"))
                _resolve(doc, tokens)  # the target must exist
                if tokens:
                    doc, _ = _remove(doc, tokens)
                doc = _add(doc, tokens, value)
            elif op == "move":
                source = _parse_pointer(_member(operation, "from"))
                if tokens[: len(source)] == source and len(tokens) > len(source):
                    raise ValueError("cannot move a value into one of its own children")
                _resolve(doc, source)  # the source must exist, even for a no-op move
                if source != tokens:
                    doc, moved = _remove(doc, source)
                    doc = _add(doc, tokens, moved)
            elif op == "copy":
                source = _parse_pointer(_member(operation, "from"))
                doc = _add(doc, tokens, _copy(_resolve(doc, source)))
            elif op == "test":
                expected = _member(operation, "value")
                if not _json_equal(_resolve(doc, tokens), expected):
                    raise ValueError(f"test failed: the value is not {expected!r}")
            else:
                raise ValueError(f"unknown op {op!r} (add, remove, replace, move, copy, test)")
        except ValueError as error:
            raise PatchError(f"operation {index} ({op} {path}): {error}") from None
    return doc


# -- Kubernetes strategic merge patch ------------------------------------------

SCALAR_SET: Final = ""
"""Merge key of a list of scalars merged as a set (Kubernetes' patchStrategy
merge without a patchMergeKey, e.g. metadata.finalizers)."""

_PATCH: Final = "$patch"
_RETAIN_KEYS: Final = "$retainKeys"
_SET_ELEMENT_ORDER: Final = "$setElementOrder/"
_DELETE_FROM_PRIMITIVE_LIST: Final = "$deleteFromPrimitiveList/"


class _Deleted:
    """Marker: the map being merged asked to be deleted (`$patch: delete`)."""


_DELETED: Final = _Deleted()


def strategic_merge_patch(
    target: Json, patch: Json, merge_keys: Mapping[str, str] | None = None
) -> Json:
    """Apply a Kubernetes strategic merge patch to a JSON object; returns a new
    object. `merge_keys` defaults to DEFAULT_MERGE_KEYS; pass `{}` for a plain
    merge patch with Kubernetes' directives."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    if not isinstance(target, dict):
        raise PatchError("a strategic merge patch applies to a JSON object")
    keys = DEFAULT_MERGE_KEYS if merge_keys is None else merge_keys
    merged = _Merger(keys).merge_map(_copy(target), patch, "")
    return {} if isinstance(merged, _Deleted) else merged


class _Merger:
    def __init__(self, merge_keys: Mapping[str, str]) -> None:
        self.merge_keys = merge_keys

    def merge_map(self, work: dict[str, Json], patch: dict[str, Json], path: str) -> Json:
        """Merge `patch` into `work` (a private copy, changed in place)."""
        directive = patch.get(_PATCH, "merge")
        if directive == "delete":
            return _DELETED
        if directive == "replace":
            return self.merge_map({}, {k: v for k, v in patch.items() if k != _PATCH}, path)
        if directive != "merge":
            raise PatchError(f"{path or '<root>'}: unknown $patch directive {directive!r}")

        for key, values in patch.items():
            if key.startswith(_DELETE_FROM_PRIMITIVE_LIST):
                field = key[len(_DELETE_FROM_PRIMITIVE_LIST) :]
                if not isinstance(values, list):
                    raise PatchError(f"{_join(path, key)}: must be a list of values")
                current = work.get(field)
                if isinstance(current, list):
                    work[field] = [v for v in current if v not in values]

        for key, value in patch.items():
            if key in (_PATCH, _RETAIN_KEYS) or key.startswith(
                (_SET_ELEMENT_ORDER, _DELETE_FROM_PRIMITIVE_LIST)
            ):
                continue
            if value is None:
                work.pop(key, None)
                continue
            sub = _join(path, key)
            current = work.get(key)
            if isinstance(value, dict):
                merged = self.merge_map(current if isinstance(current, dict) else {}, value, sub)
                if isinstance(merged, _Deleted):
                    work.pop(key, None)
                else:
                    work[key] = merged
            elif isinstance(value, list):
                merge_key = self.merge_keys.get(sub)
                if merge_key is None:
                    work[key] = [_copy(e) for e in value if not _is_replace_directive(e)]
                else:
                    base = current if isinstance(current, list) else []
                    work[key] = self.merge_list(base, value, sub, merge_key)
            else:
                work[key] = value

        retain = patch.get(_RETAIN_KEYS)
        if retain is not None:
            if not isinstance(retain, list) or not all(isinstance(k, str) for k in retain):
                raise PatchError(f"{path or '<root>'}: $retainKeys must be a list of strings")
            extra = [k for k in patch if not k.startswith("$") and k not in retain]
            if extra:
                raise PatchError(
                    f"{path or '<root>'}: $retainKeys does not list patched keys {extra}"
                )
            for key in [k for k in work if k not in retain]:
                del work[key]
        return work

    def merge_list(
        self, work: list[Json], patch: list[Json], path: str, merge_key: str
    ) -> list[Json]:
        if any(_is_replace_directive(e) for e in patch):
            others = [e for e in patch if not _is_replace_directive(e)]
            return self.merge_list([], others, path, merge_key)

        if merge_key == SCALAR_SET:
            merged: list[Json] = []
            for value in [*work, *patch]:
                if value not in merged:
                    merged.append(_copy(value))
            return merged

        element_path = path + "[]"

        result = work
        for index, element in enumerate(patch):
            if not isinstance(element, dict):
                raise PatchError(f"{path}[{index}]: elements of a list merged by key are objects")
            if merge_key not in element:
                raise PatchError(
                    f"{path}[{index}]: element does not contain the merge key {merge_key!r}"
                )
            key = element[merge_key]
            position = next(
                (
                    i
                    for i, e in enumerate(result)
                    if isinstance(e, dict) and merge_key in e and e[merge_key] == key
                ),
                None,
            )
            if element.get(_PATCH) == "delete":
                result = [
                    e for e in result if not (isinstance(e, dict) and e.get(merge_key) == key)
                ]
                continue
            base = result[position] if position is not None else {}
            merged = self.merge_map(base, element, element_path)
            if isinstance(merged, _Deleted):
                continue
            if position is None:
                result.append(merged)
            else:
                result[position] = merged
        return result


def _is_replace_directive(element: Json) -> bool:
    return isinstance(element, dict) and element.get(_PATCH) == "replace"


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


# -- Kubernetes' patchMergeKey tags for the built-in kinds -----------------------

_OBJECT_META: Final = {"ownerReferences": "uid", "finalizers": SCALAR_SET}
_CONTAINER: Final = {
    "ports": "containerPort",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
}
_POD_SPEC: Final = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
    "schedulingGates": "name",
    **{
        f"{containers}[].{field}": key
        for containers in ("containers", "initContainers", "ephemeralContainers")
        for field, key in _CONTAINER.items()
    },
}
_POD_STATUS: Final = {
    "conditions": "type",
    "podIPs": "ip",
    "hostIPs": "ip",
    "resourceClaimStatuses": "name",
}


def _under(prefix: str, keys: Mapping[str, str]) -> dict[str, str]:
    return {f"{prefix}.{path}": key for path, key in keys.items()}


DEFAULT_MERGE_KEYS: Final[Mapping[str, str]] = {
    # every kind
    **_under("metadata", _OBJECT_META),
    # Pod
    **_under("spec", _POD_SPEC),
    **_under("status", _POD_STATUS),
    # pod templates: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
    # ReplicationController (spec.template) and CronJob (spec.jobTemplate)
    **_under("spec.template.metadata", _OBJECT_META),
    **_under("spec.template.spec", _POD_SPEC),
    **_under("spec.jobTemplate.metadata", _OBJECT_META),
    **_under("spec.jobTemplate.spec.template.metadata", _OBJECT_META),
    **_under("spec.jobTemplate.spec.template.spec", _POD_SPEC),
    # Service
    "spec.ports": "port",
    # Node
    "spec.podCIDRs": SCALAR_SET,
    "status.addresses": "type",
    # conditions of every kind that has them (workloads, Node, Namespace, ...)
    "status.conditions": "type",
}
"""Kubernetes' patchMergeKey tags for Pod, pod templates (Deployment,
ReplicaSet, StatefulSet, DaemonSet, Job, CronJob, ReplicationController),
Service, Node and metadata. Lists not named here are replaced, as Kubernetes
replaces lists without a patch strategy (tolerations, taints, args, ...)."""
