"""The scheduler cache: nodes and assigned pods, with assume / forget / expire.

Informer events feed it (`add_node`, `update_node`, `remove_node`, `add_pod`,
`update_pod`, `remove_pod`); the scheduling cycle writes `assume` (a pod counts
on its node from that moment), the binding cycle `finish_binding` or `forget`.

Contract (kube-scheduler's cache):

* An assumed pod counts on its node until the informer confirms it (an add for
  the same pod: the assumption becomes fact, nothing is recounted), the bind
  fails (`forget`), or, with a `ttl` above 0, its deadline passes `ttl` seconds
  after binding finished without confirmation (`cleanup_expired`). A `ttl` of
  0 (the default, as in kube-scheduler) never expires an assumption: the
  informer's add, or its delete, ends it.
* A confirmed pod on another node than assumed is moved there.
* Terminal pods (Succeeded, Failed) hold nothing and are dropped.
* Every change goes to the node table (resources, ports), the per-node
  counters, the term groups and the claim use counts (`claim_users`: how
  many cached pods name each PersistentVolumeClaim, kube-scheduler's
  StorageInfos.IsPVCUsedByPods) in one step, so all views agree between
  events.

Neighbours: `cache.snapshot.NodeTable`, `cache.counters`, the scheduler's
event handlers (writers) and the framework and plugins (readers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cache.counters import CounterRegistry, TermGroups
from controllers.scheduler.cache.snapshot import NodeTable
from controllers.scheduler.podinfo import PodInfo, same_scheduling_inputs
from engine.api.core import Node, Pod

__all__ = ["CachedPod", "SchedulerCache"]

PodKey = tuple[str, str]


@dataclass(slots=True)
class CachedPod:
    info: PodInfo
    slot: int
    node: str
    assumed: bool = False
    binding_finished: bool = False
    deadline: float | None = None


def _is_terminal(pod: Pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


class SchedulerCache:
    """Nodes and assigned (or assumed) pods. See the module docstring."""

    def __init__(
        self,
        *,
        assumed_ttl: float = 0.0,
        namespace_labels: Callable[[str], Mapping[str, str] | None] | None = None,
        pod_info: Callable[[Pod], PodInfo] = PodInfo.of,
    ) -> None:
        self.table = NodeTable()
        self.assumed_ttl = assumed_ttl
        self.pods: dict[PodKey, CachedPod] = {}
        self._slot_pods: list[dict[PodKey, PodInfo]] = []
        self._pod_info = pod_info
        self.namespace_labels: Callable[[str], Mapping[str, str] | None] = namespace_labels or (
            lambda _ns: None
        )
        self.counters = CounterRegistry(
            self.table.capacity,
            self._assigned,
            lambda ns: self.namespace_labels(ns),
            table=self.table,
        )
        self.groups = TermGroups(self.table.capacity)
        self.table.on_grow.append(self.counters.grow)
        self.table.on_grow.append(self.groups.grow)
        self.table.on_grow.append(self._grow_priorities)
        self.assumed_count = 0
        # priority -> [cpu, memory, pods] requested per slot by pods of that
        # priority that are not terminating: what preemption could free.
        self.by_priority: dict[int, npt.NDArray[np.int64]] = {}
        # (namespace, claim name) -> cached pods with a persistentVolumeClaim
        # volume naming it; absent when none.
        self.claim_users: dict[tuple[str, str], int] = {}

    def _assigned(self) -> Iterator[tuple[PodInfo, int]]:
        for cached in self.pods.values():
            yield cached.info, cached.slot

    # -- nodes -----------------------------------------------------------------------------

    def add_node(self, node: Node) -> int:
        return self.table.set_node(node)

    def update_node(self, node: Node) -> int:
        return self.table.set_node(node)

    def remove_node(self, name: str) -> None:
        self.table.remove_node(name)

    def node(self, name: str) -> Node | None:
        slot = self.table.slot_of.get(name)
        return None if slot is None else self.table.nodes[slot]

    # -- pod bookkeeping ------------------------------------------------------------------

    def pods_on(self, slot: int) -> list[PodInfo]:
        if slot >= len(self._slot_pods):
            return []
        return list(self._slot_pods[slot].values())

    def pod_count(self, slot: int) -> int:
        return len(self._slot_pods[slot]) if slot < len(self._slot_pods) else 0

    def _place(self, info: PodInfo, node: str) -> int:
        table = self.table
        slot = table.slot_for(node)
        while len(self._slot_pods) <= slot:
            self._slot_pods.append({})
        self._slot_pods[slot][info.key] = info
        table.add_pod(slot, info.requests, info.host_ports)
        if not info.is_terminating:
            self._count_priority(info, slot, 1)
        self.counters.pod_added(info, slot)
        self.groups.pod_added(info, slot)
        if info.pod.spec.volumes:
            self._count_claims(info, 1)
        return slot

    def _unplace(self, info: PodInfo, slot: int) -> None:
        self._slot_pods[slot].pop(info.key, None)
        if not info.is_terminating:
            self._count_priority(info, slot, -1)
        self.counters.pod_removed(info, slot)
        self.groups.pod_removed(info, slot)
        self.table.remove_pod(slot, info.requests, info.host_ports)
        if info.pod.spec.volumes:
            self._count_claims(info, -1)

    def _count_claims(self, info: PodInfo, sign: int) -> None:
        users = self.claim_users
        namespace = info.namespace
        for volume in info.pod.spec.volumes:
            source = volume.persistent_volume_claim
            if source is None:
                continue
            key = (namespace, source.claim_name)
            count = users.get(key, 0) + sign
            if count > 0:
                users[key] = count
            else:
                users.pop(key, None)

    def _count_priority(self, info: PodInfo, slot: int, sign: int) -> None:
        column = self.by_priority.get(info.priority)
        if column is None:
            column = np.zeros((3, self.table.capacity), np.int64)
            self.by_priority[info.priority] = column
        column[0, slot] += sign * info.requests.cpu
        column[1, slot] += sign * info.requests.memory
        column[2, slot] += sign

    def _grow_priorities(self, capacity: int) -> None:
        for priority, column in list(self.by_priority.items()):
            wider = np.zeros((3, capacity), np.int64)
            wider[:, : column.shape[1]] = column
            self.by_priority[priority] = wider

    def get(self, key: PodKey) -> CachedPod | None:
        return self.pods.get(key)

    def is_assumed(self, key: PodKey) -> bool:
        cached = self.pods.get(key)
        return cached is not None and cached.assumed

    # -- informer events (assigned pods) ----------------------------------------------------

    def add_pod(self, pod: Pod, info: PodInfo | None = None) -> None:
        """An assigned pod appeared (or was confirmed after our bind)."""
        if _is_terminal(pod):
            self.remove_pod(pod)
            return
        node = pod.spec.node_name or ""
        key = (pod.metadata.namespace, pod.metadata.name)
        cached = self.pods.get(key)
        if cached is not None:
            if cached.assumed:
                self.assumed_count -= 1
                cached.assumed = False
                cached.deadline = None
            self._replace(cached, pod, node)
            return
        info = info or self._pod_info(pod)
        slot = self._place(info, node)
        self.pods[key] = CachedPod(info, slot, node)

    def update_pod(self, pod: Pod) -> None:
        self.add_pod(pod)

    def _replace(self, cached: CachedPod, pod: Pod, node: str) -> None:
        old = cached.info
        if (
            node == cached.node
            and same_scheduling_inputs(old.pod, pod)
            and (pod.metadata.deletion_timestamp is None) == (not old.is_terminating)
        ):
            # Nothing the cache accounts for changed (status-only update or the
            # confirmation of our own bind): the same PodInfo now shows the new object.
            old.pod = pod
            return
        self._unplace(old, cached.slot)
        info = old.with_pod(pod)
        cached.info = info
        cached.node = node
        cached.slot = self._place(info, node)

    def remove_pod(self, pod: Pod) -> PodInfo | None:
        key = (pod.metadata.namespace, pod.metadata.name)
        cached = self.pods.pop(key, None)
        if cached is None:
            return None
        if cached.assumed:
            self.assumed_count -= 1
        self._unplace(cached.info, cached.slot)
        return cached.info

    # -- assume / forget --------------------------------------------------------------------

    def assume(self, info: PodInfo, node: str) -> None:
        """Count `info` on `node` now, before the binding is written."""
        if info.key in self.pods:
            raise ValueError(f"pod {info.key[0]}/{info.key[1]} is already in the cache")
        slot = self._place(info, node)
        self.pods[info.key] = CachedPod(info, slot, node, assumed=True)
        self.assumed_count += 1

    def finish_binding(self, key: PodKey, now: float) -> None:
        """The bind was written: the assumption expires `ttl` seconds from now
        (never if `ttl` is 0) unless the informer confirms it first."""
        cached = self.pods.get(key)
        if cached is not None and cached.assumed:
            cached.binding_finished = True
            cached.deadline = now + self.assumed_ttl if self.assumed_ttl > 0 else None

    def forget(self, key: PodKey) -> None:
        """Drop an assumption (the bind failed)."""
        cached = self.pods.get(key)
        if cached is None or not cached.assumed:
            return
        del self.pods[key]
        self.assumed_count -= 1
        self._unplace(cached.info, cached.slot)

    def cleanup_expired(self, now: float) -> list[PodKey]:
        """Forget assumptions whose deadline passed; returns their keys."""
        if not self.assumed_count:
            return []
        expired = [
            key
            for key, cached in self.pods.items()
            if cached.assumed
            and cached.binding_finished
            and cached.deadline is not None
            and cached.deadline <= now
        ]
        for key in expired:
            self.forget(key)
        return expired
