"""Subresources: `status`, `scale`, and pods' `binding`, `eviction` and `log`.

* `status`: GET is the object; PUT and PATCH change only its status
  (`Store.update_status`); kinds without a status subresource are 404.
* `scale`: an `autoscaling/v1 Scale` view of a Deployment, ReplicaSet,
  StatefulSet, ReplicationController or a custom kind whose CRD declares a
  scale subresource; PUT and PATCH set `spec.replicas` (a `resourceVersion`
  in the Scale is a precondition).
* `pods/{name}/binding` (POST a Binding): assigns the pod to `target.name`.
* `pods/{name}/eviction` (POST a policy/v1 Eviction): deletes the pod if its
  PodDisruptionBudget allows (`engine.eviction`), 429 otherwise.
* `pods/{name}/log`: a container's log as text (`container`, `tailLines`,
  `previous`, `follow` streams until the container's log ends or the client
  goes), from the `logs` hook; `sinceSeconds`/`sinceTime`/`timestamps` are
  validated but not applied (the runtimes' log lines carry no timestamps).

Neighbours: `runtime.apiserver.app` (dispatch), `.patching`, `engine.store`,
`engine.eviction`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.api.base import Resource
from engine.api.core import Pod
from engine.errors import BadRequest, MethodNotAllowed, NotFound
from engine.eviction import evict
from engine.store import Scale
from runtime.apiserver.context import ApiContext, storage_model
from runtime.apiserver.encoding import Query, decode_object, dumps, read_body, read_document
from runtime.apiserver.objects import dry_run
from runtime.apiserver.patching import apply_patch_document, patch_type
from runtime.apiserver.paths import Target
from runtime.apiserver.status import StatusDetails, success_body

__all__ = ["binding", "eviction", "logs", "scale"]


def _scale_document(target: Target, obj: Resource, scale: Scale) -> dict[str, Any]:
    meta = obj.metadata
    metadata: dict[str, Any] = {
        "name": meta.name,
        "uid": meta.uid,
        "resourceVersion": scale.resource_version,
    }
    if meta.namespace:
        metadata["namespace"] = meta.namespace
    if meta.creation_timestamp is not None:
        metadata["creationTimestamp"] = meta.creation_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": metadata,
        "spec": {"replicas": scale.replicas},
        "status": {"replicas": scale.status_replicas, "selector": scale.selector},
    }


def _replicas(document: Any) -> tuple[int, str | None]:
    if not isinstance(document, dict):
        raise BadRequest("a Scale must be a JSON object")
    if document.get("kind", "Scale") != "Scale":
        raise BadRequest(f"expected a Scale, got {document.get('kind')!r}")
    spec = document.get("spec")
    replicas = spec.get("replicas", 0) if isinstance(spec, dict) else None
    if type(replicas) is not int:
        raise BadRequest(f"Scale spec.replicas must be an integer, got {replicas!r}")
    meta = document.get("metadata") or {}
    version = meta.get("resourceVersion") if isinstance(meta, dict) else None
    return replicas, version if isinstance(version, str) and version else None


async def scale(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    assert target.name is not None
    store = ctx.store
    model = storage_model(target)
    namespace = target.namespace
    current = store.get(model, target.name, namespace)
    view = store.get_scale(model, target.name, namespace)
    if request.method == "GET":
        return _json(_scale_document(target, current, view))
    if request.method == "PUT":
        body = await read_document(request, ("autoscaling/v1", "Scale"))
    elif request.method == "PATCH":
        kind = patch_type(request, target)
        if kind == "apply":
            raise BadRequest("server-side apply of the scale subresource is not supported")
        patch = decode_object(await read_body(request), what="the patch")
        body = apply_patch_document(kind, _scale_document(target, current, view), patch)
    else:
        raise MethodNotAllowed(f"{request.method} is not allowed on scale")
    replicas, version = _replicas(body)
    if dry_run(Query(request)):
        return _json(
            _scale_document(
                target,
                current,
                Scale(replicas, view.status_replicas, view.selector, view.resource_version),
            )
        )
    updated = store.scale(
        model, target.name, namespace, replicas=replicas, resource_version=version
    )
    return _json(_scale_document(target, updated, store.get_scale(model, target.name, namespace)))


def _json(document: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(body=dumps(document), status=status, content_type="application/json")


async def binding(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    assert target.name is not None
    body = await read_document(request, ("v1", "Binding"))
    node = body.get("target", {}).get("name") if isinstance(body, dict) else None
    if not isinstance(node, str) or not node:
        raise BadRequest("a Binding names its node in target.name")
    if not dry_run(Query(request)):
        ctx.store.bind(target.name, target.namespace, node)
    return _json(success_body(StatusDetails()), 201)


async def eviction(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    assert target.name is not None
    body = await read_document(request, ("policy/v1", "Eviction"))
    if not isinstance(body, dict):
        raise BadRequest("an Eviction must be a JSON object")
    options = body.get("deleteOptions") or {}
    grace = options.get("gracePeriodSeconds") if isinstance(options, dict) else None
    if grace is not None and (type(grace) is not int or grace < 0):
        raise BadRequest(f"deleteOptions.gracePeriodSeconds must be >= 0, got {grace!r}")
    if dry_run(Query(request)):
        ctx.store.get(Pod, target.name, target.namespace)
    else:
        evict(ctx.store, target.name, target.namespace, grace_period_seconds=grace)
    return _json(success_body(StatusDetails()), 201)


async def logs(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    assert target.name is not None
    query = Query(request)
    tail = query.integer("tailLines")
    follow = query.flag("follow")
    previous = query.flag("previous")
    query.integer("sinceSeconds", minimum=1)
    query.flag("timestamps")
    pod = ctx.store.get(Pod, target.name, target.namespace)
    names = [c.name for c in pod.spec.containers]
    container = query.text("container")
    if container is None:
        if len(names) != 1:
            raise BadRequest(
                f"a container name must be specified for pod {pod.metadata.name}, "
                f"choose one of: [{' '.join(names)}]"
            )
        container = names[0]
    elif container not in names and container not in [c.name for c in pod.spec.init_containers]:
        raise BadRequest(f"container {container} is not valid for pod {pod.metadata.name}")
    source = ctx.hooks.logs
    if source is None:
        raise NotFound("this server has no container logs (no node agents serve them)")
    if not pod.spec.node_name:
        raise BadRequest(
            f'container "{container}" in pod "{pod.metadata.name}" is waiting to start: '
            "the pod is not scheduled"
        )
    lines = source(pod, container, tail=tail, follow=follow, previous=previous)
    response = web.StreamResponse(headers={"Content-Type": "text/plain"})
    response.enable_chunked_encoding()
    started = False
    try:
        async for line in lines:
            if not started:
                await response.prepare(request)
                started = True
            await response.write(line.encode() + (b"" if line.endswith("\n") else b"\n"))
    except ConnectionResetError:
        return response
    if not started:
        await response.prepare(request)
    await response.write_eof()
    return response
