"""The OpenAPI documents an apiserver publishes: `/openapi/v2` (Swagger 2.0, which
kubectl fetches as protobuf, see `engine.openapi_proto`) and `/openapi/v3`
(an index of one OpenAPI 3.0 document per group-version).

Contract:

* `openapi_v2(crds)`: the Swagger 2.0 document with a definition per schema
  of every served built-in kind (`engine.catalogue.SERVED`, from the published
  1.34 schemas kubeloop validates with, `engine.schema.builtin`), its List,
  the types they reference, and a definition per served version of each CRD
  (`<reversed group>.<version>.<Kind>`, from its `openAPIV3Schema`, made
  Swagger-compatible as kube-apiserver does: no nullable, no oneOf/anyOf/
  allOf/not, int-or-string untyped); definitions of kinds carry
  `x-kubernetes-group-version-kind`. Paths: for every kind the collection
  (list, watch, create, deletecollection), the object (get, replace, patch,
  delete) and its status when it has the subresource, each operation with its
  `x-kubernetes-group-version-kind`, `x-kubernetes-action` and Kubernetes'
  query parameters (PATCH takes `dryRun`, `fieldManager`, `fieldValidation`
  and `force`: kubectl reads that to decide that the server validates fields).
* `openapi_v3_index(crds)`: `{"paths": {"api/v1": {"serverRelativeURL":
  "/openapi/v3/api/v1?hash=<SHA-512>"}, "apis/apps/v1": ...}}`, the hash
  being that of the document's `json_bytes` (serve exactly those bytes).
* `openapi_v3(group_version, crds)`: that group-version's document (only its
  paths, and the schemas they reach, under `#/components/schemas/`), or None
  for a group-version that is not served. `group_version` is written as in
  the index (`api/v1`, `apis/apps/v1`) or as an apiVersion (`v1`, `apps/v1`).

`crds` are CustomResourceDefinition objects as JSON; only Established-able
ones matter to the caller, every served version given is published. The
built-in part is computed once per process; CRDs are added per call.

Not published: the review kinds, subresources other than status (scale,
binding, eviction, log are served by the API server but absent here), the
non-resource paths (/version, /healthz...). Descriptions are the published
ones.

Neighbours: `engine.openapi_proto` (the protobuf encoding of v2),
`engine.schema.builtin` (the schemas), `engine.catalogue` (what is served).
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from engine.catalogue import SERVED
from engine.schema.builtin import KUBERNETES_RELEASE, definition_for, definitions

__all__ = [
    "ApiKind",
    "json_bytes",
    "openapi_v2",
    "openapi_v3",
    "openapi_v3_index",
]

_META: Final = "io.k8s.apimachinery.pkg.apis.meta.v1."
_OBJECT_META: Final = _META + "ObjectMeta"
_LIST_META: Final = _META + "ListMeta"
_STATUS: Final = _META + "Status"
_DELETE_OPTIONS: Final = _META + "DeleteOptions"
_WATCH_EVENT: Final = _META + "WatchEvent"
_PATCH: Final = _META + "Patch"
_TITLE: Final = "Kubernetes"
_VERSION: Final = f"v{KUBERNETES_RELEASE}"


def json_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a document (what the v3 index hashes)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


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


# -- paths -----------------------------------------------------------------------

_JSON: Final = "application/json"
_PRODUCES: Final = [_JSON, "application/yaml", "application/vnd.kubernetes.protobuf"]
_PATCH_TYPES: Final = [
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/strategic-merge-patch+json",
    "application/apply-patch+yaml",
]

# name -> (type, description)
_QUERY: Final[dict[str, tuple[str, str]]] = {
    "pretty": ("string", "If 'true', then the output is pretty printed."),
    "dryRun": (
        "string",
        "When present, indicates that modifications should not be persisted. Valid values "
        "are: - All: all dry run stages will be processed",
    ),
    "fieldManager": (
        "string",
        "fieldManager is a name associated with the actor or entity that is making these changes.",
    ),
    "fieldValidation": (
        "string",
        "fieldValidation instructs the server on how to handle objects in the request "
        "(POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: Ignore, "
        "Warn (the default), Strict.",
    ),
    "force": (
        "boolean",
        'Force is going to "force" Apply requests. It means user will re-acquire conflicting '
        "fields owned by other people.",
    ),
    "allowWatchBookmarks": (
        "boolean",
        "allowWatchBookmarks requests watch events with type BOOKMARK.",
    ),
    "continue": (
        "string",
        "The continue option should be set when retrieving more results from the server.",
    ),
    "fieldSelector": (
        "string",
        "A selector to restrict the list of returned objects by their fields.",
    ),
    "labelSelector": (
        "string",
        "A selector to restrict the list of returned objects by their labels.",
    ),
    "limit": ("integer", "limit is a maximum number of responses to return for a list call."),
    "resourceVersion": (
        "string",
        "resourceVersion sets a constraint on what resource versions a request may be served from.",
    ),
    "resourceVersionMatch": (
        "string",
        "resourceVersionMatch determines how resourceVersion is applied to list calls.",
    ),
    "sendInitialEvents": (
        "boolean",
        "`sendInitialEvents=true` may be set together with `watch=true`.",
    ),
    "timeoutSeconds": ("integer", "Timeout for the list/watch call."),
    "watch": (
        "boolean",
        "Watch for changes to the described resources and return them as a stream of add, "
        "update, and remove notifications.",
    ),
    "gracePeriodSeconds": (
        "integer",
        "The duration in seconds before the object should be deleted.",
    ),
    "propagationPolicy": ("string", "Whether and how garbage collection will be performed."),
    "orphanDependents": ("boolean", "Deprecated: please use the PropagationPolicy."),
}
_LIST_PARAMS: Final = (
    "allowWatchBookmarks",
    "continue",
    "fieldSelector",
    "labelSelector",
    "limit",
    "resourceVersion",
    "resourceVersionMatch",
    "sendInitialEvents",
    "timeoutSeconds",
    "watch",
)
_WRITE_PARAMS: Final = ("dryRun", "fieldManager", "fieldValidation")
_DELETE_PARAMS: Final = ("dryRun", "gracePeriodSeconds", "orphanDependents", "propagationPolicy")


def _camel(text: str) -> str:
    text = text.removesuffix(".k8s.io")
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[.\-]", text) if part)


def _operation_id(verb: str, api_kind: ApiKind, *, namespaced: bool, suffix: str = "") -> str:
    group = _camel(api_kind.group) if api_kind.group else "Core"
    scope = "Namespaced" if namespaced else ""
    return f"{verb}{group}{_camel(api_kind.version)}{scope}{api_kind.kind}{suffix}"


@dataclass(frozen=True, slots=True)
class _Op:
    method: str
    verb: str  # operationId prefix
    action: str  # x-kubernetes-action
    query: tuple[str, ...]
    body: str | None  # definition of the request body
    response: str | None
    list_response: bool = False
    suffix: str = ""


def _operations(api_kind: ApiKind) -> dict[str, list[_Op]]:
    """Path suffix ("" collection, "/{name}" object, "/{name}/status") -> operations."""
    obj, lst = api_kind.definition, api_kind.list_definition
    collection = [
        _Op("get", "list", "list", _LIST_PARAMS, None, lst, list_response=True),
        _Op("post", "create", "post", _WRITE_PARAMS, obj, obj),
        _Op(
            "delete",
            "deleteCollection",
            "deletecollection",
            _DELETE_PARAMS + _LIST_PARAMS[:-1],
            _DELETE_OPTIONS,
            _STATUS,
        ),
    ]
    item = [
        _Op("get", "read", "get", (), None, obj),
        _Op("put", "replace", "put", _WRITE_PARAMS, obj, obj),
        _Op("patch", "patch", "patch", (*_WRITE_PARAMS, "force"), _PATCH, obj),
        _Op("delete", "delete", "delete", _DELETE_PARAMS, _DELETE_OPTIONS, _STATUS),
    ]
    status = [
        _Op("get", "read", "get", (), None, obj, suffix="Status"),
        _Op("put", "replace", "put", _WRITE_PARAMS, obj, obj, suffix="Status"),
        _Op("patch", "patch", "patch", (*_WRITE_PARAMS, "force"), _PATCH, obj, suffix="Status"),
    ]
    if api_kind.kind == "Binding":  # pods/binding's own kind: create only
        return {"": collection[1:2]}
    ops = {"": collection, "/{name}": item}
    if api_kind.status:
        ops["/{name}/status"] = status
    return ops


def _paths(api_kind: ApiKind, v3: bool) -> dict[str, dict[str, Any]]:
    ref_prefix = "#/components/schemas/" if v3 else "#/definitions/"
    scope = "/namespaces/{namespace}" if api_kind.namespaced else ""
    base = f"{api_kind.prefix}{scope}/{api_kind.plural}"
    paths: dict[str, dict[str, Any]] = {}
    for suffix, ops in _operations(api_kind).items():
        path_params = (["namespace"] if api_kind.namespaced else []) + (["name"] if suffix else [])
        item: dict[str, Any] = {
            "parameters": [_parameter(p, "path", v3) for p in path_params]
            + [_parameter("pretty", "query", v3)]
        }
        for op in ops:
            item[op.method] = _operation(op, api_kind, v3, ref_prefix)
        paths[base + suffix] = item
    if api_kind.namespaced and api_kind.kind != "Binding":
        everywhere = _Op("get", "list", "list", _LIST_PARAMS, None, api_kind.list_definition)
        operation = _operation(everywhere, api_kind, v3, ref_prefix, namespaced=False)
        operation["operationId"] += "ForAllNamespaces"
        paths[f"{api_kind.prefix}/{api_kind.plural}"] = {
            "parameters": [_parameter("pretty", "query", v3)],
            "get": operation,
        }
    return paths


def _parameter(name: str, where: str, v3: bool) -> dict[str, Any]:
    if where == "path":
        kind, description = (
            "string",
            f"name of the {'Namespace' if name == 'namespace' else 'object'}",
        )
    else:
        kind, description = _QUERY[name]
    param: dict[str, Any] = {"name": name, "in": where, "description": description}
    if where == "path":
        param["required"] = True
    if name in ("pretty",) or where == "query":
        param["uniqueItems"] = True
    if v3:
        param["schema"] = {"type": kind, "uniqueItems": True}
        param.pop("uniqueItems", None)
    else:
        param["type"] = kind
    return param


def _operation(
    op: _Op, api_kind: ApiKind, v3: bool, ref_prefix: str, *, namespaced: bool | None = None
) -> dict[str, Any]:
    scoped = api_kind.namespaced if namespaced is None else namespaced
    operation: dict[str, Any] = {
        "description": f"{op.action} {api_kind.kind}",
        "operationId": _operation_id(op.verb, api_kind, namespaced=scoped, suffix=op.suffix),
        "tags": [f"{_camel(api_kind.group) if api_kind.group else 'core'}_{api_kind.version}"],
        "x-kubernetes-action": op.action,
        "x-kubernetes-group-version-kind": api_kind.gvk,
    }
    params = [_parameter(q, "query", v3) for q in op.query]
    consumes = _PATCH_TYPES if op.body == _PATCH else ["*/*"]
    if api_kind.custom and op.body == _PATCH:
        consumes = [t for t in _PATCH_TYPES if "strategic" not in t]
    response_schema = {"$ref": ref_prefix + op.response} if op.response else {}
    if v3:
        if op.body is not None:
            operation["requestBody"] = {
                "content": {t: {"schema": {"$ref": ref_prefix + op.body}} for t in consumes},
                "required": op.method != "delete",
            }
        operation["responses"] = {
            "200": {
                "description": "OK",
                "content": {t: {"schema": response_schema} for t in _PRODUCES},
            },
            "401": {"description": "Unauthorized"},
        }
    else:
        if op.body is not None:
            params.insert(
                0,
                {
                    "name": "body",
                    "in": "body",
                    "required": op.method != "delete",
                    "schema": {"$ref": ref_prefix + op.body},
                },
            )
        operation["consumes"] = consumes
        operation["produces"] = _PRODUCES
        operation["schemes"] = ["https"]
        operation["responses"] = {
            "200": {"description": "OK", "schema": response_schema},
            "401": {"description": "Unauthorized"},
        }
    operation["parameters"] = params
    return operation


# -- the documents ---------------------------------------------------------------


def _all_kinds(
    crds: Sequence[Mapping[str, Any]],
) -> tuple[list[ApiKind], list[tuple[ApiKind, dict[str, Any]]]]:
    custom = _crd_kinds(crds)
    return [*_builtin_kinds(), *(k for k, _ in custom)], custom


@functools.cache
def _builtin_paths(v3: bool) -> dict[str, dict[str, Any]]:
    paths: dict[str, dict[str, Any]] = {}
    for api_kind in _builtin_kinds():
        paths.update(_paths(api_kind, v3))
    return paths


def openapi_v2(crds: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The Swagger 2.0 document of every served kind (see the module docstring)."""
    _, custom = _all_kinds(crds)
    definitions_ = dict(_builtin_definitions(False))
    paths = dict(_builtin_paths(False))
    for api_kind, schema in custom:
        definitions_.update(_crd_definitions(api_kind, schema, "#/definitions/", False))
        paths.update(_paths(api_kind, False))
    return {
        "swagger": "2.0",
        "info": {"title": _TITLE, "version": _VERSION},
        "paths": dict(sorted(paths.items())),
        "definitions": dict(sorted(definitions_.items())),
        "securityDefinitions": {
            "BearerToken": {
                "description": "Bearer Token authentication",
                "type": "apiKey",
                "name": "authorization",
                "in": "header",
            }
        },
        "security": [{"BearerToken": []}],
    }


def _gv_path(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _normalize_gv(group_version: str) -> str:
    text = group_version.strip("/")
    text = text.removeprefix("openapi/v3/")
    if text.startswith(("api/", "apis/")):
        return text
    group, _, version = text.rpartition("/")
    return _gv_path(group, version)


def _v3_document(
    selected: Sequence[ApiKind], custom: Sequence[tuple[ApiKind, dict[str, Any]]]
) -> dict[str, Any]:
    prefix = "#/components/schemas/"
    builtin = _builtin_definitions(True)
    schemas: dict[str, dict[str, Any]] = {}
    paths: dict[str, dict[str, Any]] = {}
    roots: list[str] = [_STATUS, _DELETE_OPTIONS, _PATCH]
    for api_kind in selected:
        paths.update(_paths(api_kind, True))
        if api_kind.custom:
            schema = next(s for k, s in custom if k == api_kind)
            schemas.update(_crd_definitions(api_kind, schema, prefix, True))
            roots.append(_OBJECT_META)
            roots.append(_LIST_META)
        else:
            roots.append(api_kind.definition)
            if api_kind.list_definition:
                roots.append(api_kind.list_definition)
    for name in _closure(roots):
        schemas[name] = builtin[name] if name in builtin else _definition(name, prefix, True)
    return {
        "openapi": "3.0.0",
        "info": {"title": _TITLE, "version": _VERSION},
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "BearerToken": {
                    "type": "apiKey",
                    "description": "Bearer Token authentication",
                    "name": "authorization",
                    "in": "header",
                }
            },
        },
    }


def _hash(document: Mapping[str, Any]) -> str:
    return hashlib.sha512(json_bytes(document)).hexdigest().upper()


@functools.cache
def _builtin_v3(gv_path: str) -> tuple[dict[str, Any], str] | None:
    """A built-in group-version's document and its hash, computed once."""
    selected = [k for k in _builtin_kinds() if _gv_path(k.group, k.version) == gv_path]
    if not selected:
        return None
    document = _v3_document(selected, ())
    return document, _hash(document)


def openapi_v3(group_version: str, crds: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any] | None:
    """The OpenAPI 3.0 document of one group-version, or None if it is not served.
    A built-in group-version's document is built once and shared: do not change it."""
    wanted = _normalize_gv(group_version)
    custom = [(k, s) for k, s in _crd_kinds(crds) if _gv_path(k.group, k.version) == wanted]
    builtin = _builtin_v3(wanted)
    if not custom:
        return builtin[0] if builtin is not None else None
    selected = [k for k in _builtin_kinds() if _gv_path(k.group, k.version) == wanted]
    return _v3_document([*selected, *(k for k, _ in custom)], custom)


def openapi_v3_index(crds: Sequence[Mapping[str, Any]] = ()) -> dict[str, Any]:
    """The `/openapi/v3` discovery document: one entry per served group-version."""
    kinds, custom = _all_kinds(crds)
    custom_gvs = {_gv_path(k.group, k.version) for k, _ in custom}
    index = {}
    for gv in sorted({_gv_path(k.group, k.version) for k in kinds}):
        builtin = _builtin_v3(gv)
        if gv in custom_gvs or builtin is None:
            document = openapi_v3(gv, crds)
            assert document is not None
            digest = _hash(document)
        else:
            digest = builtin[1]
        index[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": index}
