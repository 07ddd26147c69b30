"""The paths of the OpenAPI documents: for each served kind its collection,
object and status endpoints with Kubernetes' operations (operationId,
`x-kubernetes-action`, `x-kubernetes-group-version-kind`), query parameters
and media types, in Swagger 2.0 or OpenAPI 3.0 form.

Neighbours: `engine.openapi` (the documents), `engine.openapi_schemas`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from engine.openapi_schemas import _DELETE_OPTIONS, _PATCH, _STATUS, ApiKind

# -- paths -----------------------------------------------------------------------

_JSON: Final = "application/json"
_PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
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


def _produces(op: _Op, api_kind: ApiKind) -> list[str]:
    """What kube-apiserver says an operation answers in: protobuf for built-in
    kinds only (custom resources are JSON), watch streams for lists."""
    kinds = [_JSON, "application/yaml"]
    if not api_kind.custom:
        kinds.append(_PROTOBUF)
    if op.action == "list":
        kinds.append(f"{_JSON};stream=watch")
        if not api_kind.custom:
            kinds.append(f"{_PROTOBUF};stream=watch")
    return kinds


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
                "content": {t: {"schema": response_schema} for t in _produces(op, api_kind)},
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
        operation["produces"] = _produces(op, api_kind)
        operation["schemes"] = ["https"]
        operation["responses"] = {
            "200": {"description": "OK", "schema": response_schema},
            "401": {"description": "Unauthorized"},
        }
    operation["parameters"] = params
    return operation
