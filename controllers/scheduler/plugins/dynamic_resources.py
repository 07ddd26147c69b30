"""DynamicResources (PreFilter): a pod that claims devices through
`spec.resourceClaims` is placed only on a node where its claims can be
allocated, as kube-scheduler's dynamicresources plugin decides.

kubeloop's nodes run no DRA driver, so they publish no ResourceSlices and no
claim can ever be allocated: such a pod stays Pending and unschedulable
("cannot allocate all claims"), as it does in a Kubernetes cluster where no
driver offers the devices its claims ask for, rather than running without
them. A pod without claims skips the plugin.

Deviation: kube-scheduler reads each claim (one that does not exist yet is
`resourceclaim "NAME" not found`), allocates devices from the ResourceSlices
at Filter and Reserve, and writes the allocation at PreBind; with no devices
to allocate, none of that is modelled here, and the reason is given once
for all nodes rather than counted per node.

Neighbours: `controllers.scheduler.plugins.registry`, `engine.api.core.pod`
(`PodResourceClaim`).
"""

from __future__ import annotations

from typing import Any, Final

from controllers.scheduler.cluster_events import EventRegistration
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status

__all__ = ["REASON", "DynamicResources"]

REASON: Final = "cannot allocate all claims"
_STATUS: Final = Status.unresolvable(REASON)


class DynamicResources:
    name: Final = "DynamicResources"

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return _STATUS if pod.pod.spec.resource_claims else Status.skip()

    def events_to_register(self) -> list[EventRegistration]:
        return []  # no device ever appears, so nothing makes such a pod schedulable


def new(_args: PluginArgs, _handle: Handle) -> Any:
    return DynamicResources()
