"""`kubeloop top` against a running cluster: the metrics API over HTTP.

`remote_top_rows(kubeconfig, "pods" | "nodes", namespace=)` reads
`metrics.k8s.io/v1beta1` PodMetrics or NodeMetrics from the server a
kubeconfig names (its current context's cluster and user: a bearer token,
and the CA to trust when the server is HTTPS), as `kubectl top` does, and
returns the same `TopRow`s `Cluster.top` gives. A kubeconfig is read as
`kubeloop serve` writes one; a missing file, an unreachable server or a
refusal is a `ValueError` naming it.

Neighbours: `runtime.cluster.top` (rows and their table), `runtime.cli`
(`kubeloop top`), `runtime.cli_serve` writes the kubeconfig.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp

from engine.quantity import parse_quantity
from runtime.cluster.top import TopRow
from runtime.remote.connection import Connection

__all__ = ["remote_top_rows"]


async def remote_top_rows(
    kubeconfig: Path, what: str, *, namespace: str | None = None
) -> list[TopRow]:
    connection = Connection.from_kubeconfig(kubeconfig)
    server = connection.server
    if what == "pods":
        scope = f"/namespaces/{namespace}" if namespace else ""
        url = f"{server}/apis/metrics.k8s.io/v1beta1{scope}/pods"
    else:
        url = f"{server}/apis/metrics.k8s.io/v1beta1/nodes"
    try:
        async with (
            aiohttp.ClientSession(headers=connection.headers) as session,
            session.get(url, ssl=connection.ssl) as response,
        ):
            body = await response.json(content_type=None)
            if response.status != 200:
                message = body.get("message") if isinstance(body, dict) else None
                raise ValueError(f"{url}: {response.status} {message or response.reason}")
    except aiohttp.ClientError as error:
        raise ValueError(f"{server}: cannot reach the cluster: {error}") from None
    rows = []
    for item in body.get("items") or []:
        meta = item.get("metadata") or {}
        usages = [c.get("usage") or {} for c in item.get("containers") or []] or [
            item.get("usage") or {}
        ]
        rows.append(
            TopRow(
                meta.get("namespace") or "",
                meta.get("name") or "",
                sum(parse_quantity(u["cpu"]).milli_value() for u in usages if "cpu" in u),
                sum(parse_quantity(u["memory"]).value() for u in usages if "memory" in u),
            )
        )
    return sorted(rows, key=lambda row: (row.namespace, row.name))
