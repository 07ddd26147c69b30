"""`SchedulingSimulator`: what-if scheduling with the scheduler's own filters.

Role: answer "would this pod fit on that node?" and "where else could this pod
go?" for callers that are not the scheduler (the cluster autoscaler, as its
PredicateChecker over a ClusterSnapshot), with kube-scheduler's PreFilter and
Filter plugins of one profile (the default one unless told) running over a
private copy of the scheduler's columnar node table. Nothing here is an
approximation of the scheduler: it is the same plugin code on its own cache.

Contract:

* The caller feeds it nodes and assigned pods (`add_node`, `remove_node`,
  `add_pod`, `remove_pod`), typically from informer events, and may add nodes
  that do not exist (a node group's template).
* `place(pod, node)` counts a pod on a node (a simulated binding);
  `unplace(pod)` takes one off. To move a bound pod, take it off and place
  `unbound(pod)` (the pod without its nodeName, which the NodeName filter
  would otherwise hold to its node).
* `fork()` starts recording; `revert()` undoes every change since, in reverse
  order, and ends the fork (CA's snapshot Fork/Revert); `mark()` and
  `revert(mark)` undo part of a fork and stay in it. Forks do not nest.
* `fits(pod, node)` is None when every filter passes on that node, else the
  first rejection's message; `find_node(pod, exclude=...)` is the first node
  (lowest slot) all filters pass on, or None. Nothing awaits, so a caller's
  what-if sees one consistent state.

Neighbours: `controllers.scheduler.framework` (runs the plugins),
`controllers.scheduler.cache` (the table), `controllers.clusterautoscaler`
(the user, through `controllers.registry`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

from controllers.scheduler.cache.cache import SchedulerCache
from controllers.scheduler.config import PluginFactory, Profile
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.framework import Framework
from controllers.scheduler.handle import Handle, Listers
from controllers.scheduler.plugins.registry import default_registry
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.window import Window
from engine.api.core import Node, Pod

__all__ = ["SchedulingSimulator"]

PodKey = tuple[str, str]


class SchedulingSimulator:
    """See the module docstring."""

    def __init__(
        self,
        profile: Profile | None = None,
        *,
        registry: Mapping[str, PluginFactory] | None = None,
        namespace_labels: Callable[[str], Mapping[str, str] | None] | None = None,
    ) -> None:
        self.cache = SchedulerCache(namespace_labels=namespace_labels)
        self.handle = Handle(cache=self.cache, listers=Listers())
        if namespace_labels is not None:
            self.handle.listers.namespace_labels = namespace_labels
        self.framework = Framework(
            profile or Profile(), registry or default_registry(), self.handle
        )
        self.version = 0
        """Counts changes (nodes and pods): equal versions mean equal answers."""
        self._journal: list[Callable[[], None]] | None = None
        self._infos: dict[str, PodInfo] = {}
        self._unbound: dict[str, tuple[Pod, Pod]] = {}

    # -- state ------------------------------------------------------------------------

    def _record(self, undo: Callable[[], None]) -> None:
        self.version += 1
        if self._journal is not None:
            self._journal.append(undo)

    def info(self, pod: Pod) -> PodInfo:
        """The scheduler's reading of `pod` (memoised by uid while it is the same object)."""
        key = self._key(pod)
        found = self._infos.get(key)
        if found is not None and found.pod is pod:
            return found
        info = PodInfo.of(pod) if found is None else found.with_pod(pod)
        if len(self._infos) > 200_000:
            self._infos.clear()
        self._infos[key] = info
        return info

    @staticmethod
    def _key(pod: Pod) -> str:
        uid = pod.metadata.uid or f"{pod.metadata.namespace}/{pod.metadata.name}"
        return uid if pod.spec.node_name else f"{uid}/unbound"

    def forget_info(self, pod: Pod) -> None:
        """Drop what is memoised for a pod that is gone (bound and unbound forms)."""
        uid = pod.metadata.uid or f"{pod.metadata.namespace}/{pod.metadata.name}"
        for key in (uid, f"{uid}/unbound"):
            self._infos.pop(key, None)
            self._unbound.pop(key, None)

    def unbound(self, pod: Pod) -> Pod:
        """`pod` without its nodeName, as a pod to reschedule elsewhere (CA
        clears it before simulating a move); memoised per pod object."""
        if not pod.spec.node_name:
            return pod
        key = self._key(pod)
        found = self._unbound.get(key)
        if found is not None and found[0] is pod:
            return found[1]
        copy = pod.model_copy(update={"spec": pod.spec.model_copy(update={"node_name": None})})
        if len(self._unbound) > 200_000:
            self._unbound.clear()
        self._unbound[key] = (pod, copy)
        return copy

    def add_node(self, node: Node) -> None:
        """Add or replace a node."""
        previous = self.cache.node(node.metadata.name)
        self.cache.add_node(node)
        name = node.metadata.name
        if previous is None:
            self._record(lambda: self.cache.remove_node(name))
        else:
            self._record(lambda: self._put_node(previous))

    def remove_node(self, name: str) -> None:
        previous = self.cache.node(name)
        if previous is None:
            return
        self.cache.remove_node(name)
        self._record(lambda: self._put_node(previous))

    def _put_node(self, node: Node) -> None:
        self.cache.add_node(node)

    def node(self, name: str) -> Node | None:
        return self.cache.node(name)

    def add_pod(self, pod: Pod) -> None:
        """An assigned pod (spec.nodeName set) appeared or changed; terminal pods hold nothing."""
        key = (pod.metadata.namespace or "default", pod.metadata.name)
        before = self.cache.get(key)
        old = None if before is None else (before.info, before.node, before.assumed)
        self.cache.add_pod(pod, self.info(pod))
        self._record(lambda: self._restore(key, old))

    def remove_pod(self, pod: Pod) -> None:
        key = (pod.metadata.namespace or "default", pod.metadata.name)
        before = self.cache.get(key)
        if before is None:
            return
        old = (before.info, before.node, before.assumed)
        self.cache.remove_pod(pod)
        self._record(lambda: self._restore(key, old))

    def place(self, pod: Pod, node: str) -> None:
        """Count `pod` on `node` (a pod not in the simulation yet, e.g. a pending one)."""
        info = self.info(pod)
        key = info.key
        before = self.cache.get(key)
        old = None if before is None else (before.info, before.node, before.assumed)
        if before is not None:
            self.cache.remove_pod(before.info.pod)
        self.cache.assume(info, node)
        self._record(lambda: self._restore(key, old))

    def unplace(self, pod: Pod) -> None:
        self.remove_pod(pod)

    def _restore(self, key: PodKey, old: tuple[PodInfo, str, bool] | None) -> None:
        current = self.cache.get(key)
        if current is not None:
            if current.assumed:
                self.cache.forget(key)
            else:
                self.cache.remove_pod(current.info.pod)
        if old is not None:
            info, node, assumed = old
            if assumed:
                self.cache.assume(info, node)
            else:
                self.cache.add_pod(info.pod, info)

    def pods_on(self, name: str) -> list[Pod]:
        slot = self.cache.table.slot_of.get(name)
        return [] if slot is None else [info.pod for info in self.cache.pods_on(slot)]

    # -- fork / revert -----------------------------------------------------------------

    def fork(self) -> None:
        if self._journal is not None:
            raise RuntimeError("the simulator is already forked")
        self._journal = []

    def mark(self) -> int:
        """A point of the current fork to `revert` to."""
        if self._journal is None:
            raise RuntimeError("the simulator is not forked")
        return len(self._journal)

    def revert(self, to: int | None = None) -> None:
        """Undo the changes made since `mark()` returned `to`, staying forked;
        without `to`, undo everything since the fork, which then ends."""
        journal = self._journal
        if journal is None:
            raise RuntimeError("the simulator is not forked")
        while len(journal) > (to or 0):
            journal.pop()()
            self.version += 1
        if to is None:
            self._journal = None

    @property
    def forked(self) -> bool:
        return self._journal is not None

    # -- questions --------------------------------------------------------------------

    def fits(self, pod: Pod, node: str) -> str | None:
        """None when `pod` passes PreFilter and every Filter on `node`; else why not."""
        table = self.cache.table
        slot = table.slot_of.get(node)
        if slot is None or not table.valid[slot]:
            return f'node "{node}" not found'
        info = self.info(pod)
        state = CycleState()
        names, status = self.framework.run_pre_filter(state, info)
        if status is not None:
            return status.message()
        if names is not None and node not in names:
            return f"node(s) didn't satisfy plugin(s) [{', '.join(state.restricted_by)}]"
        rejection = self.framework.filter_one(state, info, slot)
        return None if rejection is None else str(rejection.message())

    def find_node(
        self,
        pod: Pod,
        *,
        exclude: Collection[str] = (),
        among: Collection[str] | None = None,
    ) -> str | None:
        """The first node (lowest slot) every filter passes on, of `among` (all
        nodes if None) other than `exclude`."""
        table = self.cache.table
        if table.count == 0:
            return None
        info = self.info(pod)
        state = CycleState()
        names, status = self.framework.run_pre_filter(state, info)
        if status is not None:
            return None
        if among is not None:
            names = frozenset(among) if names is None else names & frozenset(among)
        if names is None:
            window = Window.range(0, table.size)
        else:
            slots = sorted(table.slot_of[n] for n in names if n in table.slot_of)
            if not slots:
                return None
            window = Window.of(slots)
        mask, _ = self.framework.run_filter(state, info, window)
        hits = np.flatnonzero(mask)
        if not len(hits):
            return None
        positions = hits if window.contiguous else window.slots[hits]
        for slot in positions.tolist():
            name: str = table.names[int(slot)]
            if name not in exclude:
                return name
        return None

    def utilization(self, name: str) -> tuple[float, float] | None:
        """(cpu, memory) requested over allocatable of a node, or None if unknown."""
        table = self.cache.table
        slot = table.slot_of.get(name)
        if slot is None or not table.valid[slot]:
            return None
        allocatable = table.allocatable[:2, slot]
        requested = table.requested[:2, slot]
        cpu = float(requested[0]) / float(allocatable[0]) if allocatable[0] > 0 else 0.0
        memory = float(requested[1]) / float(allocatable[1]) if allocatable[1] > 0 else 0.0
        return cpu, memory

    def statistics(self) -> dict[str, Any]:
        return {"nodes": self.cache.table.count, "pods": len(self.cache.pods)}
