"""`NodeCounts`: the number of Nodes over cluster time, for summaries.

A store observer: each time a Node is created or deleted it appends
`(cluster seconds, nodes now)`; several changes at the same instant keep the
last. The JSON summary of `kubeloop run` carries it as `node_counts`, which
shows what a cluster autoscaler did over a run.

Neighbours: `runtime.cluster.cluster` (registers it), `runtime.summary`.
"""

from __future__ import annotations

from engine.api.core import Node
from engine.clock import Clock
from engine.store import WriteRecord
from engine.watch import ADDED

__all__ = ["NodeCounts"]


class NodeCounts:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.count = 0
        self.history: list[tuple[float, int]] = []

    def __call__(self, record: WriteRecord) -> None:
        if record.kind != "Node" or not isinstance(record.object, Node):
            return
        if record.removed:
            self.count -= 1
        elif record.type == ADDED:
            self.count += 1
        else:
            return
        now = round(self.clock.monotonic(), 3)
        if self.history and self.history[-1][0] == now:
            self.history[-1] = (now, self.count)
        else:
            self.history.append((now, self.count))
