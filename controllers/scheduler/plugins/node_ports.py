"""NodePorts (Filter): a pod asking for host ports fits only on nodes where no
pod holds the same protocol and port on the same IP (0.0.0.0 conflicts with
every IP). Unschedulable: removing pods may free the port.

Neighbours: `cache.snapshot.NodeTable.ports` (per-port use columns).
"""

from __future__ import annotations

from typing import Any, Final

from controllers.scheduler.cluster_events import (
    ASSIGNED_POD,
    NODE,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import BoolMask, Explanation, Slots
from controllers.scheduler.plugins.helpers import same_reason
from controllers.scheduler.podinfo import WILDCARD_IP, PodInfo, host_ports_of
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Pod

__all__ = ["REASON", "NodePorts"]

REASON: Final = "node(s) didn't have free ports for the requested pod ports"
_STATUS: Final = Status.unschedulable(REASON)


class NodePorts:
    name: Final = "NodePorts"

    def __init__(self, handle: Handle) -> None:
        self.table = handle.table

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        return None if pod.host_ports else Status.skip()

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        ports = self.table.ports
        conflict: BoolMask | None = None
        for protocol, ip, number in pod.host_ports:
            use = ports.get((protocol, number))
            if use is None:
                continue
            if ip == WILDCARD_IP:
                hit = window.take(use.any_ip) > 0
            else:
                hit = window.take(use.wildcard) > 0
                column = use.by_ip.get(ip)
                if column is not None:
                    hit |= window.take(column) > 0
            conflict = hit if conflict is None else conflict | hit
        return None if conflict is None else ~conflict

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        return same_reason(slots, _STATUS)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(ASSIGNED_POD, Action.DELETE), _pod_hint),
            EventRegistration(ClusterEvent(NODE, Action.ADD)),
        ]


def _pod_hint(pod: PodInfo, old: Pod | None, _new: Any) -> bool:
    if old is None:
        return True
    freed = {(p, n) for p, _ip, n in host_ports_of(old.spec)}
    return any((p, n) in freed for p, _ip, n in pod.host_ports)


def new(_args: PluginArgs, handle: Handle) -> Any:
    return NodePorts(handle)
