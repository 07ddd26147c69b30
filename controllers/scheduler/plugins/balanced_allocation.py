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

from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import ScoreResult, Slots
from controllers.scheduler.plugins.resource_scoring import balanced_allocation
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status

__all__ = ["BalancedAllocation"]


class BalancedAllocation:
    name: Final = "NodeResourcesBalancedAllocation"
    default_weight: Final = 1

    def __init__(self, handle: Handle, resources: tuple[str, ...]) -> None:
        self.table = handle.table
        self.resources = resources

    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        if all(pod.requests.get(name) == 0 for name in self.resources):
            return Status.skip()
        return None

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        table = self.table
        requested = np.zeros((len(self.resources), len(slots)), np.int64)
        allocatable = np.zeros((len(self.resources), len(slots)), np.int64)
        for i, name in enumerate(self.resources):
            amount = pod.requests.get(name)
            row = table.resources.get(name)
            if row is None or (amount == 0 and name not in ("cpu", "memory", "ephemeral-storage")):
                continue
            requested[i] = table.requested[row, slots] + amount
            allocatable[i] = table.allocatable[row, slots]
        return balanced_allocation(requested, allocatable)


def _resources(args: Mapping[str, Any] | None) -> tuple[str, ...]:
    if not args or not args.get("resources"):
        return ("cpu", "memory")
    return tuple(r["name"] for r in args["resources"])


def new(args: PluginArgs, handle: Handle) -> Any:
    return BalancedAllocation(handle, _resources(args))
