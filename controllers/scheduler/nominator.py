"""Nominated pods: pods that preempted others and wait for room on a node.

A pod is nominated to a node when preemption picks that node for it (and
whenever the informer shows `status.nominatedNodeName`). Until the pod is
bound or deleted, pods of equal or lower priority must leave its share of that
node free, and the nominated pod itself tries its node first.

Neighbours: the scheduler (nominates, clears on bind and delete), the queue's
event handlers, `plugins.node_resources_fit` (reserves nominated resources),
`controllers.scheduler.preemption` (reads and clears lower nominations).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from controllers.scheduler.podinfo import PodInfo

if TYPE_CHECKING:
    from controllers.scheduler.cache.snapshot import NodeTable

__all__ = ["Nominator"]

PodKey = tuple[str, str]
IntArray = npt.NDArray[np.int64]


class Nominator:
    """node name -> nominated pods, and pod -> node. With the node table, it
    also keeps per priority the cpu, memory and pod slots nominated pods
    reserve on each node, so a scheduling cycle reads them as one matrix."""

    def __init__(self, table: NodeTable | None = None) -> None:
        self._by_node: dict[str, dict[PodKey, PodInfo]] = {}
        self._node_of: dict[PodKey, str] = {}
        self._table = table
        self._totals: dict[int, IntArray] = {}
        self._placed: dict[PodKey, tuple[int, int, int, int]] = {}
        self._untracked = 0
        if table is not None:
            table.on_grow.append(self._grow)

    @property
    def tracks_all(self) -> bool:
        """True when `reserved_for` accounts for every nominated pod (each asks
        only for cpu and memory, on a node the table knows)."""
        return self._table is not None and self._untracked == 0

    def reserved_for(self, pod: PodInfo) -> IntArray | None:
        """[cpu, memory, pods] x slot kept by nominated pods of at least this
        pod's priority, other than the pod itself; None when nothing is."""
        table = self._table
        if table is None or not self._placed:
            return None
        size = table.size
        total: IntArray | None = None
        for priority, column in self._totals.items():
            if priority >= pod.priority:
                total = column[:, :size].copy() if total is None else total + column[:, :size]
        if total is None:
            return None
        own = self._placed.get(pod.key)
        if own is not None and own[1] >= pod.priority and own[0] < size:
            total[:, own[0]] -= (own[2], own[3], 1)
        return total

    def _grow(self, capacity: int) -> None:
        for priority, column in list(self._totals.items()):
            wider = np.zeros((3, capacity), np.int64)
            wider[:, : column.shape[1]] = column
            self._totals[priority] = wider

    def _track(self, info: PodInfo, node: str) -> None:
        table = self._table
        if table is None:
            return
        slot = table.slot_of.get(node)
        requests = info.requests
        if slot is None or requests.ephemeral_storage or any(v for _, v in requests.scalars):
            self._untracked += 1
            self._placed[info.key] = (-1, info.priority, 0, 0)
            return
        column = self._totals.get(info.priority)
        if column is None:
            column = np.zeros((3, table.capacity), np.int64)
            self._totals[info.priority] = column
        column[0, slot] += requests.cpu
        column[1, slot] += requests.memory
        column[2, slot] += 1
        self._placed[info.key] = (slot, info.priority, requests.cpu, requests.memory)

    def _untrack(self, key: PodKey) -> None:
        placed = self._placed.pop(key, None)
        if placed is None:
            return
        slot, priority, cpu, memory = placed
        if slot < 0:
            self._untracked -= 1
            return
        column = self._totals[priority]
        column[0, slot] -= cpu
        column[1, slot] -= memory
        column[2, slot] -= 1

    def __bool__(self) -> bool:
        return bool(self._node_of)

    def __len__(self) -> int:
        return len(self._node_of)

    def nominate(self, info: PodInfo, node: str) -> None:
        self.remove(info.key)
        self._by_node.setdefault(node, {})[info.key] = info
        self._node_of[info.key] = node
        self._track(info, node)

    def remove(self, key: PodKey) -> None:
        node = self._node_of.pop(key, None)
        if node is None:
            return
        self._untrack(key)
        pods = self._by_node[node]
        pods.pop(key, None)
        if not pods:
            del self._by_node[node]

    def node_of(self, key: PodKey) -> str | None:
        return self._node_of.get(key)

    def pods_on(self, node: str) -> list[PodInfo]:
        return list(self._by_node.get(node, {}).values())

    def nodes(self) -> list[str]:
        return list(self._by_node)

    def update(self, info: PodInfo) -> None:
        """Follow `status.nominatedNodeName` of an unassigned pod. An empty
        value does not clear a nomination: the scheduler may have nominated
        the pod a moment ago and not yet written it (bind and delete clear)."""
        nominated = info.pod.status.nominated_node_name
        node = nominated or self._node_of.get(info.key)
        if node is None:
            return
        # Re-nominate: the node, the priority or the requests may have changed.
        self.nominate(info, node)
