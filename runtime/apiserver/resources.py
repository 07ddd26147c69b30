"""The verbs on objects: get, list, create, update, delete, deletecollection.

Each handler takes the parsed `Target` and answers as the apiserver does:
201 with the object for a create, 200 with the object for get, update and a
delete that only marked the object (finalizers, graceful pod deletion), 200
with a `Success` Status once it is gone. Lists carry `metadata.resourceVersion`
(the revision they were read at) and `continue` while pages remain.

List semantics: `resourceVersion` unset or "0" reads the latest state;
`resourceVersion=N` with `resourceVersionMatch=NotOlderThan` (or no match)
reads the latest state if the store has reached N, else 504 as the apiserver
answers "Too large resource version"; `Exact` is served when N is the current
revision, else 410 (the store keeps no snapshots of old states; an informer
relists). `continue` tokens come from the store (`Store.list`), expire with
410, and may not be combined with a `resourceVersion`.

Neighbours: `runtime.apiserver.app` (dispatch), `.objects` (bodies),
`.watching` (watch=true), `engine.store`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.api.base import Resource
from engine.errors import (
    BadRequest,
    Conflict,
    Gone,
    MethodNotAllowed,
    NotFound,
    ServerTimeout,
)
from engine.store import ObjectList
from runtime.apiserver.context import ApiContext, storage_model, warning_headers
from runtime.apiserver.encoding import Query, dumps, read_document
from runtime.apiserver.objects import (
    dry_run,
    dry_run_create,
    dry_run_update,
    field_manager,
    field_validation,
    fill_envelope,
    parse_body,
)
from runtime.apiserver.paths import Target
from runtime.apiserver.status import StatusDetails, success_body
from runtime.apiserver.tables import table_response, wants_table

__all__ = [
    "create",
    "delete",
    "delete_collection",
    "get",
    "list_objects",
    "list_response",
    "update",
]


def _kind(target: Target) -> tuple[str, str]:
    return target.info.api_version, target.info.kind


def _namespace(target: Target) -> str | None:
    return target.namespace if target.info.namespaced else None


async def get(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    assert target.name is not None
    obj = ctx.store.get(storage_model(target), target.name, _namespace(target))
    if wants_table(request, ctx):
        return table_response(ctx, request, target, [obj], None)
    return ctx.respond(obj, target)


def read_list(ctx: ApiContext, query: Query, target: Target) -> ObjectList[Resource]:
    """The list a GET on a collection asks for (see the module docstring)."""
    version = query.text("resourceVersion")
    match = query.choice("resourceVersionMatch", ("Exact", "NotOlderThan"))
    token = query.text("continue")
    if match is not None and version is None:
        raise BadRequest(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless "
            "resourceVersion is provided"
        )
    if token is not None and version not in (None, "0"):
        raise BadRequest(
            "resourceVersion: Forbidden: specifying resource version is not allowed when "
            "using continue"
        )
    store = ctx.store
    if version is not None:
        revision = parse_revision(version)
        if match == "Exact" and revision == 0:
            raise BadRequest(
                'resourceVersionMatch: Forbidden: resourceVersionMatch "Exact" is forbidden '
                'for resourceVersion "0"'
            )
        if revision > store.revision:
            raise ServerTimeout(
                f"Too large resource version: {revision}, current: {store.revision}"
            )
        if match == "Exact" and revision != store.revision:
            raise Gone(
                f"too old resource version: {revision} ({store.revision}): only the current "
                "revision can be listed exactly"
            )
    return store.list(
        storage_model(target),
        _namespace(target),
        label_selector=query.text("labelSelector"),
        field_selector=query.text("fieldSelector"),
        limit=query.integer("limit"),
        continue_=token,
    )


def parse_revision(text: str) -> int:
    try:
        revision = int(text)
    except ValueError:
        raise BadRequest(f"invalid resource version {text!r}: not an integer") from None
    if revision < 0:
        raise BadRequest(f"invalid resource version {text!r}: negative")
    return revision


def list_response(ctx: ApiContext, target: Target, listed: ObjectList[Resource]) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(listed.resource_version)}
    if listed.continue_:
        meta["continue"] = listed.continue_
    info = target.info
    head = dumps({"kind": f"{info.kind}List", "apiVersion": info.api_version, "metadata": meta})
    items = b",".join(ctx.encode(obj, target) for obj in listed.items)
    return head[:-1] + b',"items":[' + items + b"]}"


async def list_objects(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    listed = read_list(ctx, Query(request), target)
    if wants_table(request, ctx):
        return table_response(ctx, request, target, listed.items, listed)
    return web.Response(body=list_response(ctx, target, listed), content_type="application/json")


async def create(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    if target.info.namespaced and target.namespace is None:
        raise MethodNotAllowed(
            f"create {target.info.plural} in a namespace: POST "
            f"/.../namespaces/{{namespace}}/{target.info.plural}"
        )
    query = Query(request)
    validation = field_validation(query)
    dry = dry_run(query)
    body = await read_document(request, _kind(target), checked_later=True)
    document = fill_envelope(body, target, name_required=False)
    obj, warnings = parse_body(ctx.store, document, validation)
    stored = dry_run_create(ctx.store, obj) if dry else ctx.store.create(obj)
    return ctx.respond(stored, target, 201, warnings)


async def update(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    query = Query(request)
    validation = field_validation(query)
    dry = dry_run(query)
    manager = field_manager(query, request.headers.get("User-Agent"))
    body = await read_document(request, _kind(target), checked_later=True)
    document = fill_envelope(body, target, name_required=True)
    obj, warnings = parse_body(ctx.store, document, validation)
    if dry:
        return ctx.respond(dry_run_update(ctx.store, obj), target, 200, warnings)
    if target.subresource == "status":
        stored = ctx.store.update_status(obj)
    else:
        stored = ctx.store.update(obj, field_manager=manager)
    return ctx.respond(stored, target, 200, warnings)


async def _delete_options(request: web.Request, query: Query) -> dict[str, Any]:
    """DeleteOptions from the body (kubectl sends one) and the query."""
    options: dict[str, Any] = {}
    if request.can_read_body:
        body = await read_document(request, ("meta.k8s.io/v1", "DeleteOptions"), optional=True)
        if body is not None:
            if not isinstance(body, dict):
                raise BadRequest("DeleteOptions must be a JSON object")
            options = body
    grace = query.integer("gracePeriodSeconds")
    if grace is not None:
        options["gracePeriodSeconds"] = grace
    policy = query.text("propagationPolicy")
    if policy is not None:
        options["propagationPolicy"] = policy
    orphan = query.text("orphanDependents")
    if orphan is not None:
        options["orphanDependents"] = query.flag("orphanDependents")
    if query.all("dryRun"):
        options["dryRun"] = query.all("dryRun")
    return options


def _checked_options(
    options: dict[str, Any],
) -> tuple[str | None, int | None, str | None, str | None, bool]:
    policy = options.get("propagationPolicy")
    if policy is not None and policy not in ("Background", "Foreground", "Orphan"):
        raise BadRequest(
            f"propagationPolicy: Unsupported value: {policy!r}: supported values: "
            '"Background", "Foreground", "Orphan"'
        )
    orphan = options.get("orphanDependents")
    if orphan is not None:
        if policy is not None:
            raise BadRequest(
                "propagationPolicy: Invalid value: orphanDependents and propagationPolicy "
                "cannot both be set"
            )
        policy = "Orphan" if orphan else "Background"
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (type(grace) is not int or grace < 0):
        raise BadRequest(f"gracePeriodSeconds: Invalid value: {grace!r}: must be >= 0")
    pre = options.get("preconditions") or {}
    if not isinstance(pre, dict):
        raise BadRequest("preconditions must be an object")
    uid, version = pre.get("uid"), pre.get("resourceVersion")
    for name, value in (("uid", uid), ("resourceVersion", version)):
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"preconditions.{name} must be a string")
    dry = options.get("dryRun") or []
    if not isinstance(dry, list) or any(v != "All" for v in dry):
        raise BadRequest('dryRun: only "All" is supported')
    return policy, grace, uid, version, bool(dry)


def _deleted(ctx: ApiContext, target: Target, before: Resource) -> dict[str, Any]:
    details = StatusDetails(
        name=before.metadata.name,
        group=target.info.group,
        kind=target.info.plural,
        uid=before.metadata.uid,
    )
    return success_body(details)


async def delete(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    assert target.name is not None
    options = await _delete_options(request, Query(request))
    policy, grace, uid, version, dry = _checked_options(options)
    model = storage_model(target)
    namespace = _namespace(target)
    before = ctx.store.get(model, target.name, namespace)
    if dry:
        _check_preconditions(before, uid, version)
        return ctx.respond(before, target)
    result = ctx.store.delete(
        model,
        target.name,
        namespace,
        propagation_policy=policy,
        grace_period_seconds=grace,
        uid=uid,
        resource_version=version,
    )
    if result is None:
        return web.Response(
            body=dumps(_deleted(ctx, target, before)), content_type="application/json"
        )
    return ctx.respond(result, target)


def _check_preconditions(obj: Resource, uid: str | None, version: str | None) -> None:
    if uid is not None and uid != obj.metadata.uid:
        raise Conflict(
            f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
            f"{obj.metadata.uid}"
        )
    if version is not None and version != obj.metadata.resource_version:
        raise Conflict(
            f"Precondition failed: ResourceVersion in precondition: {version}, "
            f"ResourceVersion in object meta: {obj.metadata.resource_version}"
        )


async def delete_collection(
    ctx: ApiContext, request: web.Request, target: Target
) -> web.StreamResponse:
    query = Query(request)
    options = await _delete_options(request, query)
    policy, grace, _, _, dry = _checked_options(options)
    listed = ctx.store.list(
        storage_model(target),
        _namespace(target),
        label_selector=query.text("labelSelector"),
        field_selector=query.text("fieldSelector"),
    )
    results: list[Resource] = []
    for obj in listed.items:
        if dry:
            results.append(obj)
            continue
        try:
            result = ctx.store.delete(
                type(obj),
                obj.metadata.name,
                obj.metadata.namespace or None,
                propagation_policy=policy,
                grace_period_seconds=grace,
            )
        except NotFound:
            continue  # gone since the list (an owner's deletion took it along)
        results.append(result if result is not None else obj)
    done = ObjectList(results, ctx.store.revision)
    return web.Response(
        body=list_response(ctx, target, done),
        content_type="application/json",
        headers=warning_headers(None),
    )
