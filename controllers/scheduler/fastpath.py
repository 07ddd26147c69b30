"""The fast path: the default profile's scheduling cycle for a plain pod, with
the same result as the framework's generic path and a fraction of its calls.

A pod is plain when, under the default plugins, only NodeResourcesFit filters
it and only NodeResourcesFit and NodeResourcesBalancedAllocation score nodes
differently (so NodeAffinity has no `addedAffinity`): it names no node, asks
for no host port, has no node selector or node affinity, no pod
(anti-)affinity, no spread constraints (and no default ones apply), no
PersistentVolumeClaim or generic ephemeral volume (VolumeBinding,
NodeVolumeLimits, VolumeRestrictions, VolumeZone) and no in-line disk
volume (VolumeRestrictions), claims no devices (DynamicResources), is not
nominated; and the
cluster has no tainted or cordoned node, no node reporting images and no pod
carrying affinity terms. Other
pods' nominations count as in the generic path: NodeResourcesFit's filter
keeps the room nominated pods of equal or higher priority hold. Every other
default plugin would then Skip or give every node the same score, which
cannot change the choice.

For such a pod the cycle is: Fit's PreFilter, the round-robin windowed search
over Fit's mask, then Fit and BalancedAllocation scores (each a gather from a
cached column) weighted and summed, the highest taken with the same RNG tie
break. Anything else, or a pod that fits nowhere (whose diagnosis needs every
plugin), goes through the generic path. `tests/scheduler/test_fastpath.py`
checks both paths place pods identically.

Neighbours: `controllers.scheduler.algorithm` (uses this first),
`plugins.node_resources_fit`, `plugins.balanced_allocation`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from controllers.scheduler.affinity import NO_NODE_AFFINITY
from controllers.scheduler.config import DEFAULT_PLUGINS
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.framework import Framework
from controllers.scheduler.handle import Handle
from controllers.scheduler.plugins.balanced_allocation import BalancedAllocation
from controllers.scheduler.plugins.node_affinity import NodeAffinity
from controllers.scheduler.plugins.node_resources_fit import NodeResourcesFit
from controllers.scheduler.plugins.pod_topology_spread import PodTopologySpread
from controllers.scheduler.plugins.volume_restrictions import is_disk
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.window import Window

if TYPE_CHECKING:
    from controllers.scheduler.interfaces import BoolMask, Slots

__all__ = ["FastPath"]

_DEFAULT_NAMES: Final = tuple(p.name for p in DEFAULT_PLUGINS)


def _volume_plugins_apply(pod: PodInfo) -> bool:
    """Some volume of the pod is one the volume plugins check (a claim, an
    ephemeral claim, an in-line disk); configMap, secret, projected and
    emptyDir volumes are not."""
    return any(
        v.persistent_volume_claim is not None or v.ephemeral is not None or is_disk(v)
        for v in pod.pod.spec.volumes
    )


class FastPath:
    """The plain-pod cycle for one framework (None-returning when not usable)."""

    def __init__(self, framework: Framework, handle: Handle) -> None:
        self.handle = handle
        plugins = framework.plugins
        fit = plugins.get("NodeResourcesFit")
        balanced = plugins.get("NodeResourcesBalancedAllocation")
        spread = plugins.get("PodTopologySpread")
        affinity = plugins.get("NodeAffinity")
        self.enabled = (
            tuple(plugins) == _DEFAULT_NAMES
            and not framework.profile.disabled
            and all(
                type(p).__module__.startswith("controllers.scheduler.plugins")
                for p in plugins.values()
            )
            and isinstance(fit, NodeResourcesFit)
            and isinstance(balanced, BalancedAllocation)
            and isinstance(spread, PodTopologySpread)
            and isinstance(affinity, NodeAffinity)
            and not affinity.enforces
        )
        self.fit: NodeResourcesFit = fit  # type: ignore[assignment]
        self.balanced: BalancedAllocation = balanced  # type: ignore[assignment]
        self.spread: PodTopologySpread = spread  # type: ignore[assignment]
        weights = {entry.name: entry.weight for entry in framework.score}
        self.fit_weight = weights.get("NodeResourcesFit", 1)
        self.balanced_weight = weights.get("NodeResourcesBalancedAllocation", 1)
        self.taken = 0

    def applies(self, pod: PodInfo) -> bool:
        if not self.enabled:
            return False
        handle = self.handle
        table = handle.table
        return (
            pod.node_affinity is NO_NODE_AFFINITY
            and not pod.host_ports
            and not pod.spread
            and pod.pod_affinity.empty
            and not pod.pod.spec.node_name
            and not pod.pod.status.nominated_node_name
            and table.hard_taint_nodes == 0
            and table.soft_taint_nodes == 0
            and table.unschedulable_count == 0
            and not table.images
            and handle.cache.groups.empty
            and not self.spread.constraints_for(pod)
            and not (pod.pod.spec.volumes and _volume_plugins_apply(pod))
            and not pod.pod.spec.resource_claims
        )

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask:
        mask = self.fit.filter(state, pod, window)
        assert mask is not None
        table = self.handle.table
        if table.count != table.size:
            mask = mask & window.take(table.valid)
        return mask

    def scores(self, state: CycleState, pod: PodInfo, chosen: Slots) -> Slots:
        totals = self.fit.score(state, pod, chosen)
        assert not isinstance(totals, int)
        if self.fit_weight != 1:
            totals = totals * self.fit_weight
        if self.balanced.pre_score(state, pod, chosen) is None:
            balanced = self.balanced.score(state, pod, chosen)
            assert not isinstance(balanced, int)
            totals = totals + (
                balanced if self.balanced_weight == 1 else balanced * self.balanced_weight
            )
        return totals
