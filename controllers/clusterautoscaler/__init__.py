"""The cluster autoscaler: Kubernetes Cluster Autoscaler's core on the injected clock.

It adds nodes to node groups when pods are unschedulable and a group's
template node would take them, and removes nodes that have stayed
underutilized while their pods fit elsewhere, deciding both with the
scheduler's own filter plugins. Machines come and go through a `CloudProvider`
the caller supplies (`runtime.cluster.nodegroups` over simulated nodes).

    autoscaler = setup(manager, provider, SchedulingSimulator(), options=AutoscalingOptions())

Modules: `autoscaler` (the loop), `scaleup`, `scaledown`, `drainability`,
`expander`, `backoff`, `status`, `options`, `provider` (the protocols).
"""

from __future__ import annotations

from controllers.clusterautoscaler.autoscaler import AutoscalerState, ClusterAutoscaler
from controllers.clusterautoscaler.drainability import SAFE_TO_EVICT
from controllers.clusterautoscaler.expander import PRIORITY_CONFIG_MAP, Option
from controllers.clusterautoscaler.options import EXPANDERS, AutoscalingOptions
from controllers.clusterautoscaler.provider import CloudProvider, Instance, NodeGroup, Simulator
from controllers.clusterautoscaler.scaledown import SCALE_DOWN_DISABLED, TO_BE_DELETED_TAINT
from engine.manager import Manager

__all__ = [
    "EXPANDERS",
    "PRIORITY_CONFIG_MAP",
    "SAFE_TO_EVICT",
    "SCALE_DOWN_DISABLED",
    "TO_BE_DELETED_TAINT",
    "AutoscalerState",
    "AutoscalingOptions",
    "CloudProvider",
    "ClusterAutoscaler",
    "Instance",
    "NodeGroup",
    "Option",
    "Simulator",
    "setup",
]


def setup(
    manager: Manager,
    provider: CloudProvider,
    simulator: Simulator,
    *,
    options: AutoscalingOptions | None = None,
) -> ClusterAutoscaler:
    """A ClusterAutoscaler on the manager's informers, clock and RNG, run beside its controllers."""
    autoscaler = ClusterAutoscaler(
        manager.client,
        manager.factory,
        provider,
        simulator,
        clock=manager.clock,
        rng=manager.rng,
        options=options,
    )
    manager.add_runnable(autoscaler.run)
    return autoscaler
