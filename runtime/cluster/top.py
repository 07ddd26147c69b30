"""`kubectl top`: usage rows from the metrics API, and their table.

`top_rows(client, "pods" | "nodes", namespace=)` reads PodMetrics or
NodeMetrics through the client (metrics.k8s.io, served by
`runtime.metrics.MetricsServer`) and returns one `TopRow` per pod or node,
sorted by namespace and name; `format_top` prints them as kubectl does
(`CPU(cores)` in millicores, `MEMORY(bytes)` in Mi).

Neighbours: `runtime.cluster.cluster` (`Cluster.top`), `runtime.cli`
(`kubeloop top`).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api.metrics import NodeMetrics, PodMetrics
from engine.client import Client

__all__ = ["TopRow", "format_top", "top_rows"]


@dataclass(frozen=True, slots=True)
class TopRow:
    namespace: str
    name: str
    cpu_millicores: int
    memory_bytes: int


async def top_rows(client: Client, what: str, *, namespace: str | None = None) -> list[TopRow]:
    if what in ("pods", "pod", "po"):
        pods = await client.list(PodMetrics, namespace=namespace)
        return [
            TopRow(
                p.metadata.namespace,
                p.metadata.name,
                sum(c.usage["cpu"].milli_value() for c in p.containers if "cpu" in c.usage),
                sum(c.usage["memory"].value() for c in p.containers if "memory" in c.usage),
            )
            for p in pods.items
        ]
    if what in ("nodes", "node", "no"):
        nodes = await client.list(NodeMetrics)
        return [
            TopRow(
                "",
                n.metadata.name,
                n.usage["cpu"].milli_value() if "cpu" in n.usage else 0,
                n.usage["memory"].value() if "memory" in n.usage else 0,
            )
            for n in nodes.items
        ]
    raise ValueError(f"top shows pods or nodes, not {what!r}")


def format_top(rows: list[TopRow], what: str, *, all_namespaces: bool = False) -> str:
    """The rows as `kubectl top` prints them."""
    header = ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    if all_namespaces and what.startswith("po"):
        header.insert(0, "NAMESPACE")
    table = [header]
    for row in rows:
        cells = [row.name, f"{row.cpu_millicores}m", f"{row.memory_bytes // (1024 * 1024)}Mi"]
        if len(header) == 4:
            cells.insert(0, row.namespace)
        table.append(cells)
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    return "\n".join(
        "   ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip()
        for r in table
    )
