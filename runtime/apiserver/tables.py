"""`Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (what `kubectl get`
asks for): the columns kubectl shows, from the `table` hook (`Hooks.table`).

Without the hook the request is answered with the plain object or list, as
the Accept header's last choice (`application/json`) allows; kubectl then
prints it itself. `includeObject` (None, Metadata, Object) is passed on.

Neighbours: `runtime.apiserver.resources` (get and list), `.hooks`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from engine import crd
from engine.api.base import Resource
from engine.store import ObjectList
from runtime.apiserver.context import ApiContext
from runtime.apiserver.encoding import Query, dumps
from runtime.apiserver.paths import Target

__all__ = ["table_response", "wants_table"]

TABLE_CONTENT_TYPE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def wants_table(request: web.Request, ctx: ApiContext) -> bool:
    if ctx.hooks.table is None:
        return False
    accept = request.headers.get("Accept", "")
    return any(
        "as=Table" in part and "g=meta.k8s.io" in part and "v=v1" in part
        for part in accept.split(",")
    )


def table_response(
    ctx: ApiContext,
    request: web.Request,
    target: Target,
    objects: Sequence[Resource],
    listed: ObjectList[Resource] | None,
) -> web.Response:
    printer = ctx.hooks.table
    assert printer is not None  # wants_table said so
    include = Query(request).choice("includeObject", ("None", "Metadata", "Object")) or "Metadata"
    info = target.info
    model: Any = info.model
    columns = None
    if issubclass(model, crd.CustomResource) and model.version_info is not None:
        columns = list(model.version_info.printer_columns)
    documents = [orjson.loads(ctx.encode(obj, target)) for obj in objects]
    # The one place the printers module is called (engine.printers.table).
    table = printer(
        documents,
        group=info.group,
        version=info.version,
        kind=info.kind,
        include_object=include,
        crd_columns=columns,
        now=ctx.store.clock.now(),
    )
    if listed is not None:
        meta = dict(table.get("metadata") or {})
        meta["resourceVersion"] = str(listed.resource_version)
        if listed.continue_:
            meta["continue"] = listed.continue_
        table = {**table, "metadata": meta}
    return web.Response(body=dumps(table), headers={"Content-Type": TABLE_CONTENT_TYPE})
