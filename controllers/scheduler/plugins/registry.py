"""The default plugin registry: plugin name -> factory `(args, handle) -> plugin`.

Pass `{**default_registry(), "MyPlugin": factory}` to the Scheduler to add
your own (see `controllers.scheduler.config`).

Neighbours: every module in `controllers.scheduler.plugins`.
"""

from __future__ import annotations

from controllers.scheduler.config import PluginFactory
from controllers.scheduler.plugins import (
    balanced_allocation,
    default_binder,
    default_preemption,
    dynamic_resources,
    image_locality,
    inter_pod_affinity,
    node_affinity,
    node_name,
    node_ports,
    node_resources_fit,
    node_unschedulable,
    node_volume_limits,
    pod_topology_spread,
    priority_sort,
    scheduling_gates,
    taint_toleration,
    volume_binding,
    volume_restrictions,
    volume_zone,
)

__all__ = ["default_registry"]


def default_registry() -> dict[str, PluginFactory]:
    return {
        "SchedulingGates": scheduling_gates.new,
        "PrioritySort": priority_sort.new,
        "NodeUnschedulable": node_unschedulable.new,
        "NodeName": node_name.new,
        "TaintToleration": taint_toleration.new,
        "NodeAffinity": node_affinity.new,
        "NodePorts": node_ports.new,
        "NodeResourcesFit": node_resources_fit.new,
        "VolumeRestrictions": volume_restrictions.new,
        "NodeVolumeLimits": node_volume_limits.new,
        "VolumeBinding": volume_binding.new,
        "VolumeZone": volume_zone.new,
        "PodTopologySpread": pod_topology_spread.new,
        "InterPodAffinity": inter_pod_affinity.new,
        "DefaultPreemption": default_preemption.new,
        "NodeResourcesBalancedAllocation": balanced_allocation.new,
        "ImageLocality": image_locality.new,
        "DefaultBinder": default_binder.new,
        "DynamicResources": dynamic_resources.new,
    }
