"""Informer event handlers: turn Pod, Node and Namespace changes into cache
updates, queue changes and cluster events (kube-scheduler's eventhandlers.go).

* Assigned pods (spec.nodeName set) go to the cache; their adds, deletes and
  label changes are cluster events for the queue. Terminal pods count as gone.
* Unassigned pods for one of our profiles go to the queue; pods of other
  schedulers are ignored. A pod we are binding (assumed) is left alone.
* Nodes go to the cache; adds, deletes and changes to allocatable, labels,
  taints (or `unschedulable`) and conditions are cluster events.

Handlers run inline in the informer task and only do in-memory work.

Neighbours: `controllers.scheduler.scheduler` (registers these),
`cache.cache.SchedulerCache`, `queue.SchedulingQueue`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from controllers.scheduler.cluster_events import (
    ASSIGNED_POD,
    NODE,
    Action,
    ClusterEvent,
)
from controllers.scheduler.podinfo import same_scheduling_inputs
from engine.api.core import Namespace, Node, Pod
from engine.informer import DeletedFinalStateUnknown

if TYPE_CHECKING:
    from controllers.scheduler.scheduler import Scheduler

__all__ = ["EventHandlers", "node_actions", "pod_actions"]

_TERMINAL = ("Succeeded", "Failed")
_POD_ADDED = ClusterEvent(ASSIGNED_POD, Action.ADD)
_POD_DELETED = ClusterEvent(ASSIGNED_POD, Action.DELETE)
_NODE_ADDED = ClusterEvent(NODE, Action.ADD)
_NODE_DELETED = ClusterEvent(NODE, Action.DELETE)


def _unwrap(obj: Any) -> Any:
    return obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj


def node_actions(old: Node, new: Node) -> Action:
    """Which node aspects changed (for queueing hints)."""
    actions = Action(0)
    if (old.status.allocatable or old.status.capacity) != (
        new.status.allocatable or new.status.capacity
    ):
        actions |= Action.UPDATE_NODE_ALLOCATABLE
    if old.metadata.labels != new.metadata.labels:
        actions |= Action.UPDATE_NODE_LABEL
    if old.spec.taints != new.spec.taints or old.spec.unschedulable != new.spec.unschedulable:
        actions |= Action.UPDATE_NODE_TAINT
    if old.status.conditions != new.status.conditions:
        actions |= Action.UPDATE_NODE_CONDITION
    if old.status.images != new.status.images:
        actions |= Action.UPDATE_NODE_OTHER
    return actions


def pod_actions(old: Pod, new: Pod) -> Action:
    actions = Action(0)
    if old.metadata.labels != new.metadata.labels:
        actions |= Action.UPDATE_POD_LABEL
    if (
        old.spec.containers is not new.spec.containers
        and old.spec.containers != new.spec.containers
    ):
        actions |= Action.UPDATE_POD_SCALE_DOWN
    if old.spec.tolerations != new.spec.tolerations:
        actions |= Action.UPDATE_POD_TOLERATION
    if old.spec.scheduling_gates and not new.spec.scheduling_gates:
        actions |= Action.UPDATE_POD_SCHEDULING_GATES_ELIMINATED
    return actions


class EventHandlers:
    def __init__(self, scheduler: Scheduler) -> None:
        self.s = scheduler

    # -- pods ----------------------------------------------------------------------------------

    def _responsible(self, pod: Pod) -> bool:
        return pod.spec.scheduler_name in self.s.frameworks

    def pod_added(self, pod: Pod) -> None:
        if pod.spec.node_name:
            self._assigned_added(pod)
            return
        if pod.status.phase in _TERMINAL or not self._responsible(pod):
            return
        if pod.metadata.deletion_timestamp is not None:
            return
        info = self.s.pod_info(pod)
        self.s.nominator.update(info)
        self.s.queue.add(info)

    def _assigned_added(self, pod: Pod) -> None:
        s = self.s
        key = (pod.metadata.namespace, pod.metadata.name)
        if key in s.queue:
            s.queue.delete(key)
        s.nominator.remove(key)
        if pod.status.phase in _TERMINAL:
            return
        s.cache.add_pod(pod)
        s.queue.on_event(_POD_ADDED, None, pod)

    def pod_updated(self, old: Pod, new: Pod) -> None:
        if old.metadata.uid != new.metadata.uid:
            # Deleted and re-created under the same name (a StatefulSet's pod)
            # between two events the informer saw: two different pods.
            self.pod_deleted(old)
            self.pod_added(new)
            return
        s = self.s
        key = (new.metadata.namespace, new.metadata.name)
        if new.spec.node_name:
            if not old.spec.node_name:
                if s.queue.is_in_flight(key):
                    pass  # our own bind: the binding cycle finishes the queue entry
                elif key in s.queue:
                    s.queue.delete(key)
                s.nominator.remove(key)
            if new.status.phase in _TERMINAL:
                if s.cache.remove_pod(new) is not None:
                    s.queue.on_event(_POD_DELETED, new, None)
                return
            was_cached = key in s.cache.pods and not s.cache.is_assumed(key)
            s.cache.update_pod(new)
            if not was_cached or not old.spec.node_name:
                s.queue.on_event(_POD_ADDED, None, new)
                return
            actions = pod_actions(old, new)
            if actions:
                s.queue.on_event(ClusterEvent(ASSIGNED_POD, actions), old, new)
            return
        if s.cache.is_assumed(key):
            return  # being bound by us; the informer will show the binding soon
        if not self._responsible(new) or new.status.phase in _TERMINAL:
            if key in s.queue:
                s.queue.delete(key)
            s.nominator.remove(key)
            return
        if new.metadata.deletion_timestamp is not None:
            return
        queued = s.queue.get(key)
        if queued is not None and same_scheduling_inputs(queued.info.pod, new):
            info = queued.info.with_pod(new)
        else:
            info = s.pod_info(new)
        s.nominator.update(info)
        s.queue.update(old, info)

    def pod_deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        s = self.s
        pod: Pod = _unwrap(obj)
        key = (pod.metadata.namespace, pod.metadata.name)
        removed = s.cache.remove_pod(pod)
        if removed is not None:
            s.queue.on_event(_POD_DELETED, pod, None)
        s.queue.delete(key)
        s.nominator.remove(key)
        waiting = s.handle.waiting_pods.get(key)
        if waiting is not None:
            waiting.reject("", "pod deleted")

    # -- nodes ------------------------------------------------------------------------------

    def node_added(self, node: Node) -> None:
        self.s.cache.add_node(node)
        self.s.queue.on_event(_NODE_ADDED, None, node)

    def node_updated(self, old: Node, new: Node) -> None:
        self.s.cache.update_node(new)
        actions = node_actions(old, new)
        if actions:
            self.s.queue.on_event(ClusterEvent(NODE, actions), old, new)

    def node_deleted(self, obj: Node | DeletedFinalStateUnknown[Node]) -> None:
        node: Node = _unwrap(obj)
        self.s.cache.remove_node(node.metadata.name)
        self.s.queue.on_event(_NODE_DELETED, node, None)

    # -- namespaces -------------------------------------------------------------------------

    def namespace_changed(self, old: Namespace, new: Namespace) -> None:
        if old.metadata.labels != new.metadata.labels:
            self.s.cache.counters.namespace_changed()
            self.s.queue.move_all()
