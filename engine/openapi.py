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

Neighbours: `engine.openapi_schemas` (definitions, CRD schemas),
`engine.openapi_paths` (operations), `engine.openapi_proto` (the protobuf
encoding of v2), `engine.catalogue` (what is served).
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from engine.openapi_paths import _paths
from engine.openapi_schemas import (
    _DELETE_OPTIONS,
    _LIST_META,
    _OBJECT_META,
    _PATCH,
    _STATUS,
    ApiKind,
    _builtin_definitions,
    _builtin_kinds,
    _closure,
    _crd_definitions,
    _crd_kinds,
    _definition,
)
from engine.schema.builtin import KUBERNETES_RELEASE

__all__ = [
    "ApiKind",
    "json_bytes",
    "openapi_v2",
    "openapi_v3",
    "openapi_v3_index",
]

_TITLE: Final = "Kubernetes"
_VERSION: Final = f"v{KUBERNETES_RELEASE}"


def json_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical JSON of a document (what the v3 index hashes)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


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
