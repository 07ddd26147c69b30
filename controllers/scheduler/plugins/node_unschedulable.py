"""NodeUnschedulable (Filter): nodes with `spec.unschedulable` (cordoned) reject
pods that do not tolerate the `node.kubernetes.io/unschedulable:NoSchedule`
taint. UnschedulableAndUnresolvable: preemption cannot uncordon a node.

Neighbours: `cache.snapshot.NodeTable.unschedulable` (the column read here).
"""

from __future__ import annotations

from typing import Any, Final

from controllers.scheduler.cluster_events import (
    NODE,
    UNSCHEDULED_POD,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import BoolMask, Explanation, Slots
from controllers.scheduler.plugins.helpers import same_reason
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Node
from engine.api.core.placement import Taint

__all__ = ["REASON", "NodeUnschedulable"]

REASON: Final = "node(s) were unschedulable"
UNSCHEDULABLE_TAINT: Final = Taint(key="node.kubernetes.io/unschedulable", effect="NoSchedule")
_STATUS: Final = Status.unresolvable(REASON)


def tolerates_unschedulable(pod: PodInfo) -> bool:
    return any(t.tolerates(UNSCHEDULABLE_TAINT) for t in pod.tolerations)


class NodeUnschedulable:
    name: Final = "NodeUnschedulable"

    def __init__(self, handle: Handle) -> None:
        self.table = handle.table

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if not self.table.unschedulable_count or tolerates_unschedulable(pod):
            return Status.skip()
        return None

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        return ~window.take(self.table.unschedulable)

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        return same_reason(slots, _STATUS)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(
                ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_TAINT), _node_hint
            ),
            EventRegistration(ClusterEvent(UNSCHEDULED_POD, Action.UPDATE_POD_TOLERATION)),
        ]


def _node_hint(pod: PodInfo, _old: Any, new: Node | None) -> bool:
    return new is not None and (not new.spec.unschedulable or tolerates_unschedulable(pod))


def new(_args: PluginArgs, handle: Handle) -> Any:
    return NodeUnschedulable(handle)
