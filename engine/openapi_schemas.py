"""The schemas of the OpenAPI documents: the published 1.34 JSON schemas of the
built-in kinds (`engine.schema.builtin`) as Kubernetes publishes them in
Swagger 2.0 and OpenAPI 3.0 (single types, no closed objects, IntOrString and
Quantity as strings, group-version-kinds limited to what is served), the
served kinds (`ApiKind`) and the CustomResourceDefinitions' versions with
their published schemas.

Neighbours: `engine.openapi` (the documents), `engine.openapi_paths`.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from engine.catalogue import SERVED
from engine.schema.builtin import definition_for, definitions

_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."
_OBJECT_META: Final = _META + "ObjectMeta"
_LIST_META: Final = _META + "ListMeta"
_STATUS: Final = _META + "Status"
_DELETE_OPTIONS: Final = _META + "DeleteOptions"
_WATCH_EVENT: Final = _META + "WatchEvent"
_PATCH: Final = _META + "Patch"


@dataclass(frozen=True, slots=True)
class ApiKind:
    """One kind in one served version, as the paths need it."""

    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool
    status: bool
    definition: str
    list_definition: str | None
    custom: bool = False

    @property
    def prefix(self) -> str:
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def gvk(self) -> dict[str, str]:
        return {"group": self.group, "kind": self.kind, "version": self.version}


# -- schemas: the published JSON schemas as Swagger 2.0 / OpenAPI 3.0 ----------


_INT_OR_STRING: Final = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
_QUANTITY: Final = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def _convert(schema: Any, ref_prefix: str, v3: bool) -> Any:
    """One published schema (JSON-schema flavoured: `$defs`, nullable type
    lists, closed objects) as Kubernetes publishes it in OpenAPI."""
    if isinstance(schema, list):
        return [_convert(item, ref_prefix, v3) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            out[key] = ref_prefix + value.rsplit("/", 1)[-1]
        elif key == "type":
            types = [t for t in (value if isinstance(value, list) else [value]) if t != "null"]
            if types:
                out[key] = types[0]
        elif key == "additionalProperties":
            if value is not False:
                out[key] = _convert(value, ref_prefix, v3)
        elif key == "enum" and not v3:
            continue
        elif key == "properties":
            out[key] = {name: _convert(prop, ref_prefix, v3) for name, prop in value.items()}
        else:
            out[key] = _convert(value, ref_prefix, v3)
    return out


def _definition(name: str, ref_prefix: str, v3: bool) -> dict[str, Any]:
    schema = definitions()[name]
    if name == _INT_OR_STRING:
        return {
            "description": schema.get("description", "")
            or "IntOrString is a type that can hold an int32 or a string.",
            "type": "string",
            "format": "int-or-string",
        }
    if name == _QUANTITY:
        converted: dict[str, Any] = {"type": "string"}
        if "description" in schema:
            converted["description"] = schema["description"]
        return converted
    converted = _convert(schema, ref_prefix, v3)
    # The apiVersion and kind enums are kubernetes-validate's own additions.
    for field in ("apiVersion", "kind"):
        prop = converted.get("properties", {}).get(field)
        if isinstance(prop, dict):
            prop.pop("enum", None)
    return converted


def _refs(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


def _closure(roots: Iterable[str]) -> list[str]:
    """`roots` and every definition they reference, in name order."""
    seen: set[str] = set()
    stack = [r for r in roots if r in definitions()]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(r for r in _refs(definitions()[name]) if r not in seen and r in definitions())
    return sorted(seen)


@functools.cache
def _builtin_kinds() -> tuple[ApiKind, ...]:
    kinds = []
    for served in SERVED:
        definition = definition_for(served.api_version, served.kind)
        if definition is None:
            continue
        group, _, version = served.api_version.rpartition("/")
        kinds.append(
            ApiKind(
                group,
                version,
                served.kind,
                served.plural,
                served.namespaced,
                served.status,
                definition,
                definition_for(served.api_version, served.kind + "List"),
            )
        )
    return tuple(kinds)


def _served_gvs(kinds: Iterable[ApiKind]) -> set[tuple[str, str]]:
    return {(k.group, k.version) for k in kinds}


def _filter_gvks(schema: dict[str, Any], served: set[tuple[str, str]]) -> None:
    gvks = schema.get("x-kubernetes-group-version-kind")
    if isinstance(gvks, list):
        kept = [g for g in gvks if (g.get("group", ""), g.get("version")) in served]
        if kept:
            schema["x-kubernetes-group-version-kind"] = kept
        else:
            del schema["x-kubernetes-group-version-kind"]


@functools.cache
def _builtin_definitions(v3: bool) -> dict[str, dict[str, Any]]:
    prefix = "#/components/schemas/" if v3 else "#/definitions/"
    kinds = _builtin_kinds()
    roots = [k.definition for k in kinds] + [k.list_definition or "" for k in kinds]
    roots += [_STATUS, _DELETE_OPTIONS, _WATCH_EVENT, _PATCH, _OBJECT_META, _LIST_META]
    served = _served_gvs(kinds)
    out = {}
    for name in _closure(roots):
        converted = _definition(name, prefix, v3)
        _filter_gvks(converted, served)
        out[name] = converted
    return out


# -- CRDs ------------------------------------------------------------------------


def _crd_definition_name(group: str, version: str, kind: str) -> str:
    return ".".join(reversed(group.split("."))) + f".{version}.{kind}"


_DROPPED_V2: Final = frozenset(
    {"nullable", "oneOf", "anyOf", "allOf", "not", "default", "x-kubernetes-validations"}
)


def _crd_schema(schema: Any, v3: bool) -> Any:
    """A CRD's structural schema as published: in v2 without what Swagger 2.0
    cannot say (nullable types lose their type, as int-or-string fields do)."""
    if isinstance(schema, list):
        return [_crd_schema(item, v3) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if not v3 and key in _DROPPED_V2:
            continue
        if key in ("properties", "patternProperties", "definitions"):
            out[key] = {name: _crd_schema(prop, v3) for name, prop in value.items()}
        else:
            out[key] = _crd_schema(value, v3)
    if not v3 and (schema.get("nullable") or schema.get("x-kubernetes-int-or-string")):
        out.pop("type", None)
    return out


_API_VERSION_DOC: Final = (
    "APIVersion defines the versioned schema of this representation of an object. Servers "
    "should convert recognized schemas to the latest internal value, and may reject "
    "unrecognized values. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources"
)
_KIND_DOC: Final = (
    "Kind is a string value representing the REST resource this object represents. Servers "
    "may infer this from the endpoint the client submits requests to. Cannot be updated. In "
    "CamelCase. More info: "
    "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds"
)


def _crd_kinds(crds: Sequence[Mapping[str, Any]]) -> list[tuple[ApiKind, dict[str, Any]]]:
    """Each served version of each CRD, with its published schema (refs unprefixed)."""
    out = []
    for crd in crds:
        spec = crd.get("spec") or {}
        group = str(spec.get("group") or "")
        names = spec.get("names") or {}
        kind, plural = str(names.get("kind") or ""), str(names.get("plural") or "")
        if not (group and kind and plural):
            continue
        for version in spec.get("versions") or ():
            if not version.get("served", True):
                continue
            name = str(version.get("name") or "")
            schema = copy.deepcopy(((version.get("schema") or {}).get("openAPIV3Schema")) or {})
            status = "status" in (version.get("subresources") or {})
            api_kind = ApiKind(
                group,
                name,
                kind,
                plural,
                spec.get("scope") == "Namespaced",
                status,
                _crd_definition_name(group, name, kind),
                _crd_definition_name(group, name, kind + "List"),
                custom=True,
            )
            out.append((api_kind, schema))
    return out


def _crd_definitions(
    api_kind: ApiKind, schema: dict[str, Any], ref_prefix: str, v3: bool
) -> dict[str, dict[str, Any]]:
    published = _crd_schema(schema, v3)
    published.setdefault("type", "object")
    properties = published.setdefault("properties", {})
    properties["apiVersion"] = {"description": _API_VERSION_DOC, "type": "string"}
    properties["kind"] = {"description": _KIND_DOC, "type": "string"}
    properties["metadata"] = {"$ref": ref_prefix + _OBJECT_META}
    published["x-kubernetes-group-version-kind"] = [api_kind.gvk]
    list_definition = {
        "description": f"{api_kind.kind}List is a list of {api_kind.kind}",
        "type": "object",
        "required": ["items"],
        "properties": {
            "apiVersion": {"description": _API_VERSION_DOC, "type": "string"},
            "items": {
                "description": f"List of {api_kind.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md",
                "type": "array",
                "items": {"$ref": ref_prefix + api_kind.definition},
            },
            "kind": {"description": _KIND_DOC, "type": "string"},
            "metadata": {"$ref": ref_prefix + _LIST_META},
        },
        "x-kubernetes-group-version-kind": [{**api_kind.gvk, "kind": api_kind.kind + "List"}],
    }
    assert api_kind.list_definition is not None
    return {api_kind.definition: published, api_kind.list_definition: list_definition}
