"""SchedulingGates (PreEnqueue): a pod with `spec.schedulingGates` stays out of
the active queue until the last gate is removed.

Neighbours: `controllers.scheduler.queue` (keeps gated pods aside and
re-checks them when the pod is updated).
"""

from __future__ import annotations

from typing import Any, Final

from controllers.scheduler.cluster_events import (
    UNSCHEDULED_POD,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.handle import Handle
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status

__all__ = ["SchedulingGates"]


class SchedulingGates:
    name: Final = "SchedulingGates"

    def pre_enqueue(self, pod: PodInfo) -> Status | None:
        if not pod.scheduling_gates:
            return None
        return Status.unresolvable(f"waiting for scheduling gates: {list(pod.scheduling_gates)}")

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(
                ClusterEvent(UNSCHEDULED_POD, Action.UPDATE_POD_SCHEDULING_GATES_ELIMINATED)
            )
        ]


def new(_args: PluginArgs, _handle: Handle) -> Any:
    return SchedulingGates()
