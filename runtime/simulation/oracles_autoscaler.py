"""Safety invariants of the cluster autoscaler.

A simulation whose node pools are autoscaled (`NodePool.max_count`) adds
these to its monitor:

* `node-pool-within-bounds`: when a Node of an autoscaled pool is created, the
  pool has no more Nodes than `max_count`; when one is deleted, no fewer than
  `min_count` (pool membership is the node's name, `<pool>-<i>`);
* `autoscaler-drains-before-delete`: when a node the autoscaler tainted
  ToBeDeletedByClusterAutoscaler is deleted, no pod that had to move is still
  bound to it (only DaemonSet and mirror pods, and pods finished or already
  going, may remain), so no pod is removed that the autoscaler did not find a
  place for and evict first.

Neighbours: `runtime.simulation.invariants` (the protocol, the monitor),
`runtime.simulation.simulation` (adds them), `controllers.clusterautoscaler`.
"""

from __future__ import annotations

from collections.abc import Sequence

from controllers.clusterautoscaler import TO_BE_DELETED_TAINT
from controllers.clusterautoscaler.drainability import stays_with_node
from engine.api.core import Node
from engine.store import WriteRecord
from engine.watch import ADDED
from runtime.cluster import NodePool
from runtime.simulation.view import ClusterView

__all__ = ["AutoscalerDrainsBeforeDelete", "NodePoolWithinBounds", "autoscaler_invariants"]


def _pool_of(node_name: str) -> str:
    return node_name.rsplit("-", 1)[0]


class NodePoolWithinBounds:
    name = "node-pool-within-bounds"

    def __init__(self, pools: Sequence[NodePool]) -> None:
        self.bounds = {p.name: (p.min_count or 0, p.max_count or 0) for p in pools if p.autoscaled}

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        if record.kind != "Node" or (record.type != ADDED and not record.removed):
            return None
        pool = _pool_of(record.name)
        bounds = self.bounds.get(pool)
        if bounds is None:
            return None
        count = sum(1 for n in view.store.objects(Node) if _pool_of(n.metadata.name) == pool)
        low, high = bounds
        if record.removed and count < low:
            return f"node pool {pool} has {count} node(s) after deleting {record.name}, min {low}"
        if not record.removed and count > high:
            return f"node pool {pool} has {count} node(s) after adding {record.name}, max {high}"
        return None


class AutoscalerDrainsBeforeDelete:
    name = "autoscaler-drains-before-delete"

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        if record.kind != "Node" or not record.removed or not isinstance(record.object, Node):
            return None
        if not any(t.key == TO_BE_DELETED_TAINT for t in record.object.spec.taints):
            return None
        left = [
            f"{p.metadata.namespace}/{p.metadata.name}"
            for p in view.pods_on(record.name)
            if not stays_with_node(p)
        ]
        if left:
            return f"node {record.name} deleted by the autoscaler with pods still on it: {left}"
        return None


def autoscaler_invariants(
    pools: Sequence[NodePool],
) -> list[NodePoolWithinBounds | AutoscalerDrainsBeforeDelete]:
    """The invariants for a simulation with these pools (none unless one is autoscaled)."""
    if not any(p.autoscaled for p in pools):
        return []
    return [NodePoolWithinBounds(pools), AutoscalerDrainsBeforeDelete()]
