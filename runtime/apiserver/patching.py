"""PATCH: the four patch types the apiserver takes, by Content-Type.

* `application/json-patch+json` (RFC 6902): a failed `test` operation, or an
  operation that cannot be applied, is 422; a body that is no array is 400.
* `application/merge-patch+json` (RFC 7386).
* `application/strategic-merge-patch+json`: built-in kinds only (Kubernetes'
  merge keys, `engine.patch`); custom kinds answer 415, as they have no
  patch strategy.
* `application/apply-patch+yaml`: server-side apply (`Store.apply`), which needs
  `fieldManager` and takes `force`; it creates the object if missing (201).
  Applying to a subresource is not supported (400).

The patched document must keep its apiVersion, kind, name and namespace; it
then goes through the same decoding (`fieldValidation`), dry run and update
as a PUT, so a patch that fails any check changes nothing. A
`metadata.resourceVersion` in the patch is a precondition (409 when stale).
Patches of `scale` go to `runtime.apiserver.subresources`.

Neighbours: `runtime.apiserver.app` (dispatch), `.objects`, `engine.patch`.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from engine import crd
from engine.errors import BadRequest
from engine.patch import PatchError, json_merge_patch, json_patch, strategic_merge_patch
from runtime.apiserver.context import ApiContext, storage_model
from runtime.apiserver.encoding import Query, decode_object, read_body
from runtime.apiserver.objects import (
    dry_run,
    dry_run_update,
    field_manager,
    field_validation,
    fill_envelope,
    parse_body,
)
from runtime.apiserver.paths import Target
from runtime.apiserver.status import UnprocessableEntity, UnsupportedMediaType

__all__ = ["PATCH_TYPES", "apply_patch_document", "patch", "patch_type"]

PATCH_TYPES = {
    "application/json-patch+json": "json",
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/apply-patch+yaml": "apply",
}


def patch_type(request: web.Request, target: Target) -> str:
    kind = PATCH_TYPES.get(request.content_type)
    if kind is None:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format ({request.content_type!r}) - "
            f"accepted media types include: {', '.join(PATCH_TYPES)}"
        )
    if kind == "strategic" and issubclass(target.info.model, crd.CustomResource):
        raise UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types "
            "include: application/json-patch+json, application/merge-patch+json, "
            "application/apply-patch+yaml (custom resources have no strategic merge patch)"
        )
    return kind


def apply_patch_document(kind: str, document: dict[str, Any], body: Any) -> dict[str, Any]:
    """`document` patched by `body` (json, merge or strategic)."""
    subject = f'{document.get("kind", "object")} "{(document.get("metadata") or {}).get("name")}"'
    try:
        if kind == "json":
            if not isinstance(body, list):
                raise BadRequest("a JSON patch must be an array of operations")
            patched = json_patch(document, body)
        elif kind == "merge":
            if not isinstance(body, dict):
                raise BadRequest("a merge patch must be a JSON object")
            patched = json_merge_patch(document, body)
        else:
            if not isinstance(body, dict):
                raise BadRequest("a strategic merge patch must be a JSON object")
            patched = strategic_merge_patch(document, body)
    except PatchError as error:
        raise UnprocessableEntity(f"{subject}: the patch could not be applied: {error}") from None
    if not isinstance(patched, dict):
        raise BadRequest("the patched object is not a JSON object")
    for field in ("apiVersion", "kind"):
        if patched.get(field) != document.get(field):
            raise BadRequest(f"a patch may not change {field} (from {document.get(field)!r})")
    meta, old = patched.get("metadata"), document.get("metadata") or {}
    if not isinstance(meta, dict) or any(
        meta.get(key, "") != old.get(key, "") for key in ("name", "namespace")
    ):
        raise BadRequest("a patch may not change metadata.name or metadata.namespace")
    return patched


async def patch(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    assert target.name is not None
    kind = patch_type(request, target)
    query = Query(request)
    dry = dry_run(query)
    validation = field_validation(query)
    manager = field_manager(query, request.headers.get("User-Agent"))
    force = query.flag("force")
    body = decode_object(await read_body(request), what="the patch")
    store = ctx.store
    if kind == "apply":
        if target.subresource is not None:
            raise BadRequest(
                f"server-side apply of the {target.subresource} subresource is not "
                "supported; apply the object itself"
            )
        if query.text("fieldManager") is None:
            raise BadRequest(
                "PatchOptions.meta.k8s.io is invalid: fieldManager: Required value: is "
                "required for apply patch"
            )
        config = fill_envelope(body, target, name_required=True)
        existed = store.try_get(storage_model(target), target.name, target.namespace) is not None
        result = store.apply(config, manager, force=force, dry_run=dry)
        return ctx.respond(result, target, 200 if existed else 201)
    if force:
        raise BadRequest("force: Forbidden: may not be specified for non-apply patch")
    current = store.get(storage_model(target), target.name, target.namespace)
    document = json.loads(ctx.encode(current, target))
    patched = apply_patch_document(kind, document, body)
    obj, warnings = parse_body(store, patched, validation)
    if dry:
        return ctx.respond(dry_run_update(store, obj), target, 200, warnings)
    if target.subresource == "status":
        stored = store.update_status(obj)
    else:
        stored = store.update(obj, field_manager=manager)
    return ctx.respond(stored, target, 200, warnings)
