"""Adapters for simple plugins written one node at a time.

The framework's Filter and Score take every candidate node at once (a Window
over the node table). A custom rule that is easier to write for one node can
be wrapped:

    def only_even(pod: PodInfo, node: Node) -> Status | None:
        return None if int(node.metadata.name[-1]) % 2 == 0 else Status.unschedulable("odd")

    registry = {
        **default_registry(),
        "OnlyEven": lambda args, h: PerNodeFilter("OnlyEven", only_even, h),
    }

The wrapped function receives the pod and the Node object (and may read
`handle.cache.pods_on(slot)` for the pods already there). Per-node plugins
cost a Python call per node, so keep them for rules the built-in plugins do
not cover.

Neighbours: `controllers.scheduler.interfaces` (the protocols implemented),
`controllers.scheduler.config` (registering a plugin in a profile).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import BoolMask, Explanation, ScoreResult, Slots
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Node

__all__ = ["PerNodeFilter", "PerNodeScore"]

NodeFilter = Callable[[PodInfo, Node], Status | None]
NodeScore = Callable[[PodInfo, Node], int]


class PerNodeFilter:
    """A Filter plugin from `check(pod, node) -> Status | None` (None = fits)."""

    def __init__(self, name: str, check: NodeFilter, handle: Handle) -> None:
        self.name = name
        self._check = check
        self._handle = handle

    def _status(self, pod: PodInfo, slot: int) -> Status | None:
        node = self._handle.table.nodes[slot]
        if node is None:
            return Status.unresolvable("node not found")
        return self._check(pod, node)

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        return np.array(
            [self._status(pod, slot) is None for slot in window.slots.tolist()], dtype=np.bool_
        )

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        statuses: list[Status] = []
        index: dict[Status, int] = {}
        codes = np.zeros(len(slots), np.intp)
        for i, slot in enumerate(slots.tolist()):
            status = self._status(pod, slot) or Status.unschedulable(f"rejected by {self.name}")
            code = index.setdefault(status, len(statuses))
            if code == len(statuses):
                statuses.append(status)
            codes[i] = code
        return codes, statuses


class PerNodeScore:
    """A Score plugin from `score(pod, node) -> 0..100`."""

    def __init__(self, name: str, score: NodeScore, handle: Handle, *, weight: int = 1) -> None:
        self.name = name
        self.default_weight = weight
        self._score = score
        self._handle = handle

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        nodes = self._handle.table.nodes
        return np.array(
            [
                self._score(pod, node) if (node := nodes[s]) is not None else 0
                for s in slots.tolist()
            ],
            dtype=np.int64,
        )
