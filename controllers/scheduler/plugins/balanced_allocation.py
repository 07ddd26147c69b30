"""NodeResourcesBalancedAllocation (Score, weight 1): favours nodes whose
resource utilisation fractions (with this pod) are close to each other:
(1 - std) * 100 over the configured resources (cpu and memory by default).
Uses plain requests (not the scoring defaults) and skips best-effort pods.

Neighbours: `plugins.resource_scoring.balanced_allocation` (the formula).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cache.derived import DerivedColumns
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import ScoreResult, Slots
from controllers.scheduler.plugins.resource_scoring import (
    balanced_allocation,
    balanced_allocation_one,
)
from controllers.scheduler.podinfo import PodInfo, Requests
from controllers.scheduler.status import Status

__all__ = ["BalancedAllocation"]

_NATIVE: Final = frozenset({"cpu", "memory", "ephemeral-storage"})


class BalancedAllocation:
    name: Final = "NodeResourcesBalancedAllocation"
    default_weight: Final = 1

    def __init__(self, handle: Handle, resources: tuple[str, ...]) -> None:
        self.table = handle.table
        self.resources = resources
        self._columns = DerivedColumns(self.table)
        self._amounts_memo: dict[tuple[Requests, int], tuple[tuple[int, int | None], ...]] = {}

    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        if all(pod.requests.get(name) == 0 for name in self.resources):
            return Status.skip()
        return None

    def _amounts(self, pod: PodInfo) -> tuple[tuple[int, int | None], ...]:
        table = self.table
        out: list[tuple[int, int | None]] = []
        for name in self.resources:
            amount = pod.requests.get(name)
            row = table.resources.get(name)
            skip = row is None or (amount == 0 and name not in _NATIVE)
            out.append((amount, None if skip else row))
        return tuple(out)

    def _vector(self, amounts: tuple[tuple[int, int | None], ...]) -> npt.NDArray[np.int64]:
        table = self.table
        size = table.size
        requested = np.zeros((len(amounts), size), np.int64)
        allocatable = np.zeros((len(amounts), size), np.int64)
        for i, (amount, row) in enumerate(amounts):
            if row is not None:
                requested[i] = table.requested[row, :size] + amount
                allocatable[i] = table.allocatable[row, :size]
        return balanced_allocation(requested, allocatable)

    def _one(self, amounts: tuple[tuple[int, int | None], ...], slot: int) -> int:
        table = self.table
        requested = [
            0 if row is None else int(table.requested[row, slot]) + amount
            for amount, row in amounts
        ]
        allocatable = [
            0 if row is None else int(table.allocatable[row, slot]) for _, row in amounts
        ]
        return balanced_allocation_one(requested, allocatable)

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        key = (pod.requests, len(self.table.resource_names))
        amounts = self._amounts_memo.get(key)
        if amounts is None:
            amounts = self._amounts(pod)
            if len(self._amounts_memo) > 1024:
                self._amounts_memo.clear()
            self._amounts_memo[key] = amounts
        column = self._columns.get(amounts, self._vector, self._one, amounts)
        scores: npt.NDArray[np.int64] = column[slots]
        return scores


def _resources(args: Mapping[str, Any] | None) -> tuple[str, ...]:
    if not args or not args.get("resources"):
        return ("cpu", "memory")
    return tuple(r["name"] for r in args["resources"])


def new(args: PluginArgs, handle: Handle) -> Any:
    return BalancedAllocation(handle, _resources(args))
