"""Node lifecycle: node health from heartbeats, NoExecute taints, taint-based
eviction, and the pods of deleted nodes.

* `NodeLifecycleController` (`.controller`): marks nodes Unknown when their
  kubelet goes quiet, taints them (NoSchedule at once, NoExecute rate limited
  per zone), marks their pods not ready.
* `TaintEvictionController` (`.tainteviction`): deletes pods whose
  tolerations of those taints run out (or that have none).
* `OrphanPodCollector` (`.podgc`): force-deletes pods bound to deleted nodes,
  and the oldest finished pods beyond `terminated_pod_gc_threshold`.

`setup(manager)` builds all three on the manager's client, informers and
clock and adds them. Never imports `runtime`: the kubelet is seen only
through Leases, Nodes and Pods.
"""

from __future__ import annotations

from dataclasses import dataclass

from controllers.nodelifecycle.config import NodeLifecycleConfig
from controllers.nodelifecycle.controller import NodeLifecycleController, NodeLifecycleStatistics
from controllers.nodelifecycle.podgc import OrphanPodCollector
from controllers.nodelifecycle.tainteviction import (
    TaintEvictionController,
    matching_tolerations,
    min_toleration_seconds,
)
from engine.manager import Manager

__all__ = [
    "NodeLifecycle",
    "NodeLifecycleConfig",
    "NodeLifecycleController",
    "NodeLifecycleStatistics",
    "OrphanPodCollector",
    "TaintEvictionController",
    "matching_tolerations",
    "min_toleration_seconds",
    "setup",
]


@dataclass(frozen=True, slots=True)
class NodeLifecycle:
    lifecycle: NodeLifecycleController
    eviction: TaintEvictionController
    podgc: OrphanPodCollector


def setup(manager: Manager, *, config: NodeLifecycleConfig | None = None) -> NodeLifecycle:
    """Create the node lifecycle, taint eviction and orphan pod controllers on `manager`."""
    config = config or NodeLifecycleConfig()
    lifecycle = NodeLifecycleController(
        manager.client, manager.factory, clock=manager.clock, config=config
    )
    eviction = TaintEvictionController(manager.client, manager.factory, clock=manager.clock)
    podgc = OrphanPodCollector(
        manager.client,
        manager.factory,
        clock=manager.clock,
        quarantine=config.pod_gc_quarantine,
        terminated_threshold=config.terminated_pod_gc_threshold,
    )
    lifecycle.register(manager)
    eviction.register(manager)
    podgc.register(manager)
    return NodeLifecycle(lifecycle, eviction, podgc)
