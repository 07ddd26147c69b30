"""NodeName (Filter): a pod that names its node (`spec.nodeName`) fits only
there. The scheduler normally never sees such pods (they are bound already);
this covers plugins and simulations that hand them in.

Neighbours: `cache.snapshot.NodeTable.slot_of`.
"""

from __future__ import annotations

from typing import Any, Final

from controllers.scheduler.cluster_events import NODE, Action, ClusterEvent, EventRegistration
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import BoolMask, Explanation, Slots
from controllers.scheduler.plugins.helpers import same_reason
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Node

__all__ = ["REASON", "NodeName"]

REASON: Final = "node(s) didn't match the requested node name"
_STATUS: Final = Status.unresolvable(REASON)


class NodeName:
    name: Final = "NodeName"

    def __init__(self, handle: Handle) -> None:
        self.table = handle.table

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.node_name else Status.skip()

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        slot = self.table.slot_of.get(pod.node_name, -1)
        mask: BoolMask = window.slots == slot
        return mask

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        return same_reason(slots, _STATUS)

    def events_to_register(self) -> list[EventRegistration]:
        return [EventRegistration(ClusterEvent(NODE, Action.ADD), _node_hint)]


def _node_hint(pod: PodInfo, _old: Any, new: Node | None) -> bool:
    return new is not None and new.metadata.name == pod.node_name


def new(_args: PluginArgs, handle: Handle) -> Any:
    return NodeName(handle)
