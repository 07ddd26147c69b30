"""Watches over HTTP: `?watch=true` streams newline-delimited JSON events
(`{"type": "ADDED", "object": {...}}`) in a chunked HTTP/1.1 response.

* `resourceVersion` unset or "0": synthetic ADDED events for every object that
  exists, then every change (Kubernetes' "get state and start at most
  recent"); `resourceVersion=N`: every change after N, or, when N has left
  the store's history, one `ERROR` event carrying a 410 Expired Status.
* `sendInitialEvents=true` (with `resourceVersionMatch=NotOlderThan` and
  `allowWatchBookmarks=true`, as Kubernetes requires): the current objects as
  ADDED events, then a BOOKMARK annotated `k8s.io/initial-events-end: "true"`.
* `allowWatchBookmarks`: BOOKMARK events (kind, apiVersion and
  `metadata.resourceVersion` only) when the watch has been quiet for the
  store's bookmark interval.
* A client that accepts only protobuf gets the events as protobuf frames
  (`runtime.apiserver.negotiation.watch_frames`).
* `timeoutSeconds` (default 1800, on the cluster's clock) ends the stream.
* Limits: at most `Limits.max_watches_per_user` open watches per user (429
  beyond); a client that reads so slowly that `Limits.watch_buffer` events
  wait for it gets an ERROR 410 event and the end of the stream (its next
  watch resumes from the last revision it saw, or relists); a chunk that
  takes longer than `Limits.write_timeout` to be taken ends the connection.

Neighbours: `runtime.apiserver.resources` (list semantics), `engine.store`
(`Store.watch`), `engine.watch`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from engine.api.base import Resource
from engine.errors import ApiError, BadRequest, Gone, TooManyRequests
from engine.watch import BOOKMARK, WatchEvent
from runtime.apiserver.context import ApiContext, request_user, storage_model
from runtime.apiserver.encoding import Query, dumps
from runtime.apiserver.negotiation import (
    FORMAT_KEY,
    WATCH_PROTOBUF,
    has_protobuf_form,
    watch_frames,
)
from runtime.apiserver.paths import Target
from runtime.apiserver.resources import parse_revision
from runtime.apiserver.status import NotAcceptable, status_body

__all__ = ["DEFAULT_TIMEOUT_SECONDS", "watch"]

DEFAULT_TIMEOUT_SECONDS = 1800


class _ProtobufStream(web.StreamResponse):
    """A watch stream whose JSON event lines go out as protobuf frames."""

    async def write(self, data: bytes | bytearray | memoryview) -> None:
        await super().write(watch_frames(bytes(data)))


INITIAL_EVENTS_END = "k8s.io/initial-events-end"


def _bookmark(target: Target, revision: int, *, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    obj = {"kind": target.info.kind, "apiVersion": target.info.api_version, "metadata": meta}
    return dumps({"type": BOOKMARK, "object": obj}) + b"\n"


def _event(ctx: ApiContext, target: Target, kind: str, obj: Resource) -> bytes:
    if type(obj) is target.info.model:  # stored as served: one line for every watcher
        return ctx.encoder.event_line(kind, obj)
    return b'{"type":"' + kind.encode() + b'","object":' + ctx.encode(obj, target) + b"}\n"


def _error_event(error: ApiError) -> bytes:
    return dumps({"type": "ERROR", "object": status_body(error)}) + b"\n"


def _selectors(query: Query, target: Target) -> tuple[str | None, str | None]:
    fields = query.text("fieldSelector")
    if target.name is not None:  # /watch/.../pods/{name}: a watch of one object
        by_name = f"metadata.name={target.name}"
        fields = f"{fields},{by_name}" if fields else by_name
    return query.text("labelSelector"), fields


async def watch(ctx: ApiContext, request: web.Request, target: Target) -> web.StreamResponse:
    query = Query(request)
    version = query.text("resourceVersion")
    match = query.choice("resourceVersionMatch", ("NotOlderThan", "Exact"))
    bookmarks = query.flag("allowWatchBookmarks")
    initial = query.flag("sendInitialEvents")
    timeout = query.integer("timeoutSeconds")
    if initial and (match != "NotOlderThan" or not bookmarks):
        raise BadRequest(
            "sendInitialEvents: Forbidden: sendInitialEvents requires "
            "resourceVersionMatch=NotOlderThan and allowWatchBookmarks=true"
        )
    if match is not None and not initial:
        raise BadRequest(
            "resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden for watch "
            "unless sendInitialEvents is provided"
        )
    labels, fields = _selectors(query, target)
    store = ctx.store
    model = storage_model(target)
    namespace = target.namespace if target.info.namespaced else None
    user = request_user(request).name
    if ctx.watches[user] >= ctx.limits.max_watches_per_user:
        raise TooManyRequests(
            f"too many watches: user {user!r} has {ctx.watches[user]} open "
            f"(limit {ctx.limits.max_watches_per_user})"
        )
    existing: list[Resource] = []
    if version in (None, "0") or initial:
        if version not in (None, "0") and parse_revision(version) > store.revision:
            raise Gone(f"too large resource version: {version}, current: {store.revision}")
        listed = store.list(model, namespace, label_selector=labels, field_selector=fields)
        existing, since = listed.items, listed.resource_version
    else:
        since = parse_revision(version)
    protobuf = request[FORMAT_KEY] == "protobuf"
    if protobuf and not has_protobuf_form(target.info.api_version, target.info.kind):
        raise NotAcceptable(f"{target.info.kind} has no protobuf form: accept application/json")
    stream = _ProtobufStream if protobuf else web.StreamResponse
    response = stream(headers={"Content-Type": WATCH_PROTOBUF if protobuf else "application/json"})
    response.enable_chunked_encoding()
    try:
        watcher = store.watch(
            model,
            namespace,
            label_selector=labels,
            field_selector=fields,
            since=since,
            bookmarks=bookmarks,
            capacity=ctx.limits.watch_buffer,
        )
    except Gone as error:
        await response.prepare(request)
        await response.write(_error_event(error))
        await response.write_eof()
        return response
    ctx.watches[user] += 1
    timer = store.clock.call_later(
        float(timeout if timeout is not None else DEFAULT_TIMEOUT_SECONDS), watcher.stop
    )
    write_timeout = ctx.limits.write_timeout
    try:
        await response.prepare(request)
        if existing:
            chunk = b"".join(_event(ctx, target, "ADDED", obj) for obj in existing)
            await asyncio.wait_for(response.write(chunk), write_timeout)
        if initial:
            await response.write(_bookmark(target, since, initial_end=True))
        while True:
            try:
                batch: list[WatchEvent[Any]] = await watcher.next_batch()
            except StopAsyncIteration:
                break
            except Gone as error:
                await asyncio.wait_for(response.write(_error_event(error)), write_timeout)
                break
            chunk = b"".join(
                _bookmark(target, event.revision)
                if event.type == BOOKMARK or event.object is None
                else _event(ctx, target, event.type, event.object)
                for event in batch
            )
            await asyncio.wait_for(response.write(chunk), write_timeout)
        await response.write_eof()
    except (ConnectionResetError, TimeoutError):
        pass  # the client went away or stopped reading: the watch ends
    finally:
        timer.cancel()
        watcher.stop()
        ctx.watches[user] -= 1
    return response
