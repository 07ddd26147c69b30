"""Cluster events that can make an unschedulable pod schedulable, and the
queueing hints plugins attach to them.

A plugin that rejected a pod registers the events that could change its mind
(`events_to_register()`), each optionally with a hint `hint(pod, old, new) ->
bool` that looks at the actual change ("the new node has enough cpu for this
pod"). When an event arrives, the queue moves back to active (or backoff) only
the unschedulable pods whose rejecting plugins registered for it and whose
hint says yes. Pods rejected for no plugin's reason (errors) move on any event.

Neighbours: `controllers.scheduler.queue` (matches events to pods), the
scheduler's informer handlers (emit events), the plugins (register them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Flag, auto
from typing import Any, Final

from controllers.scheduler.podinfo import PodInfo

__all__ = [
    "ASSIGNED_POD",
    "CSI_NODE",
    "NODE",
    "PV",
    "PVC",
    "STORAGE_CLASS",
    "UNSCHEDULED_POD",
    "Action",
    "ClusterEvent",
    "EventRegistration",
    "QueueingHint",
]

NODE: Final = "Node"
ASSIGNED_POD: Final = "AssignedPod"
UNSCHEDULED_POD: Final = "UnscheduledPod"
NAMESPACE: Final = "Namespace"
PDB: Final = "PodDisruptionBudget"
PVC: Final = "PersistentVolumeClaim"
PV: Final = "PersistentVolume"
STORAGE_CLASS: Final = "StorageClass"
CSI_NODE: Final = "CSINode"


class Action(Flag):
    ADD = auto()
    DELETE = auto()
    UPDATE_NODE_ALLOCATABLE = auto()
    UPDATE_NODE_LABEL = auto()
    UPDATE_NODE_TAINT = auto()
    UPDATE_NODE_CONDITION = auto()
    UPDATE_NODE_OTHER = auto()
    UPDATE_POD_LABEL = auto()
    UPDATE_POD_SCALE_DOWN = auto()
    UPDATE_POD_TOLERATION = auto()
    UPDATE_POD_SCHEDULING_GATES_ELIMINATED = auto()
    UPDATE_POD_OTHER = auto()
    UPDATE = (
        UPDATE_NODE_ALLOCATABLE
        | UPDATE_NODE_LABEL
        | UPDATE_NODE_TAINT
        | UPDATE_NODE_CONDITION
        | UPDATE_NODE_OTHER
        | UPDATE_POD_LABEL
        | UPDATE_POD_SCALE_DOWN
        | UPDATE_POD_TOLERATION
        | UPDATE_POD_SCHEDULING_GATES_ELIMINATED
        | UPDATE_POD_OTHER
    )
    ALL = ADD | DELETE | UPDATE


@dataclass(frozen=True, slots=True)
class ClusterEvent:
    resource: str
    action: Action

    def matches(self, other: ClusterEvent) -> bool:
        """True if `other` (a happening) is covered by this registration."""
        return self.resource == other.resource and bool(self.action & other.action)

    def __str__(self) -> str:
        return f"{self.resource}/{self.action.name or self.action}"


QueueingHint = Callable[[PodInfo, Any, Any], bool]
"""hint(pod that was rejected, old object or None, new object or None) -> True
when the change may make the pod schedulable."""


@dataclass(frozen=True, slots=True)
class EventRegistration:
    event: ClusterEvent
    hint: QueueingHint | None = None
