"""Settings of the node lifecycle controller, with kube-controller-manager's defaults.

* `node_monitor_period` 5 s: how often every node's health is checked.
* `node_monitor_grace_period` 50 s: a node whose kubelet has neither renewed
  its Lease nor posted its status for that long is marked Unknown.
* `node_startup_grace_period` 60 s: the same, for a node that never posted.
* `node_eviction_rate` 0.1 nodes/s: how fast nodes of a healthy zone get the
  NoExecute taint; `secondary_node_eviction_rate` 0.01 for a zone in partial
  disruption (at least `unhealthy_zone_threshold` 55 % of its nodes, and more
  than 2, not ready) that has more than `large_cluster_size_threshold` 50
  nodes; a smaller partially disrupted zone stops tainting.
* `pod_gc_quarantine` 40 s: pods bound to a node that no longer exists are
  deleted once the node has been missing that long (the pod GC's orphan rule).
* `terminated_pod_gc_threshold` 12,500: finished pods beyond this many are
  deleted, oldest first (0 turns it off).

Neighbours: `controllers.nodelifecycle.controller`, `.podgc`.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NodeLifecycleConfig"]


@dataclass(frozen=True, slots=True)
class NodeLifecycleConfig:
    node_monitor_period: float = 5.0
    node_monitor_grace_period: float = 50.0
    node_startup_grace_period: float = 60.0
    node_eviction_rate: float = 0.1
    secondary_node_eviction_rate: float = 0.01
    large_cluster_size_threshold: int = 50
    unhealthy_zone_threshold: float = 0.55
    pod_gc_quarantine: float = 40.0
    terminated_pod_gc_threshold: int = 12_500
