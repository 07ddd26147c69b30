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

import base64
import ssl
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from engine.quantity import parse_quantity
from runtime.cluster.top import TopRow

__all__ = ["remote_top_rows"]


def _current(config: dict[str, Any], section: str, name: str) -> dict[str, Any]:
    for entry in config.get(section) or []:
        if entry.get("name") == name:
            found: dict[str, Any] = entry.get(section[:-1]) or {}
            return found
    raise ValueError(f"the kubeconfig has no {section[:-1]} named {name!r}")


def _connection(path: Path) -> tuple[str, dict[str, str], ssl.SSLContext | None]:
    try:
        config = yaml.safe_load(path.expanduser().read_text())
    except OSError as error:
        raise ValueError(f"{path}: cannot read the kubeconfig ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise ValueError(f"{path}: not a kubeconfig: {error}") from None
    if not isinstance(config, dict) or not config.get("current-context"):
        raise ValueError(f"{path}: not a kubeconfig with a current context")
    context = _current(config, "contexts", config["current-context"])
    cluster = _current(config, "clusters", context.get("cluster", ""))
    user = _current(config, "users", context.get("user", ""))
    server = str(cluster.get("server", "")).rstrip("/")
    headers = {"Accept": "application/json"}
    if user.get("token"):
        headers["Authorization"] = f"Bearer {user['token']}"
    context_ssl = None
    if server.startswith("https://"):
        context_ssl = ssl.create_default_context()
        if cluster.get("certificate-authority-data"):
            ca = base64.b64decode(cluster["certificate-authority-data"]).decode()
            context_ssl = ssl.create_default_context(cadata=ca)
    return server, headers, context_ssl


async def remote_top_rows(
    kubeconfig: Path, what: str, *, namespace: str | None = None
) -> list[TopRow]:
    server, headers, context_ssl = _connection(kubeconfig)
    if what == "pods":
        scope = f"/namespaces/{namespace}" if namespace else ""
        url = f"{server}/apis/metrics.k8s.io/v1beta1{scope}/pods"
    else:
        url = f"{server}/apis/metrics.k8s.io/v1beta1/nodes"
    try:
        async with (
            aiohttp.ClientSession(headers=headers) as session,
            session.get(url, ssl=context_ssl if context_ssl is not None else False) as response,
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
