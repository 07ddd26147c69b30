"""Why a pod fits nowhere: per-node statuses, the Kubernetes-style message, and
the optional per-plugin record of one scheduling attempt.

`Diagnosis` is built from the filter masks of a failed attempt. It stays
cheap until asked: the per-node statuses are computed (vectorised, by the
plugin that rejected each node first, as kube-scheduler stops at the first
failing filter) only for the message, the queueing hints and preemption.

`FitError.message()` reads like kube-scheduler's:
"0/5000 nodes are available: 10 node(s) had untolerated taint {dedicated: gpu},
4990 Insufficient cpu. preemption: 0/5000 nodes are available: ...".

`AttemptRecord` is what kube-scheduler-simulator shows: each filter's result
and each score plugin's raw and normalised score per node, for one pod.

Neighbours: `controllers.scheduler.algorithm` (builds these),
`controllers.scheduler.preemption` (reads node statuses),
`controllers.scheduler.scheduler` (writes the message into the pod condition).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Code, Status

if TYPE_CHECKING:
    from controllers.scheduler.cache.snapshot import NodeTable
    from controllers.scheduler.interfaces import FilterPlugin

__all__ = ["NO_NODES_MESSAGE", "AttemptRecord", "Diagnosis", "FitError"]

NO_NODES_MESSAGE: Final = "no nodes available to schedule pods"
Slots = npt.NDArray[np.int64]


class Diagnosis:
    """Per-node failure reasons of one attempt (computed lazily)."""

    def __init__(
        self,
        table: NodeTable,
        state: CycleState,
        pod: PodInfo,
        *,
        window_slots: Slots | None = None,
        failures: list[tuple[FilterPlugin, npt.NDArray[np.bool_]]] | None = None,
        pre_filter_status: Status | None = None,
        absent_status: Status | None = None,
    ) -> None:
        self.table = table
        self.state = state
        self.pod = pod
        self.num_all_nodes = table.count
        self.pre_filter_status = pre_filter_status
        self.absent_status = absent_status
        self._window_slots = window_slots
        self._failures = failures or []
        self._statuses: dict[int, Status] | None = None
        self.post_filter_message = ""

    def node_statuses(self) -> dict[int, Status]:
        """slot -> Status for every live node that was rejected."""
        if self._statuses is not None:
            return self._statuses
        table = self.table
        live = table.valid[: table.size]
        statuses: dict[int, Status] = {}
        if self.pre_filter_status is not None:
            status = self.pre_filter_status
            for slot in np.flatnonzero(live).tolist():
                statuses[slot] = status
            self._statuses = statuses
            return statuses
        window = self._window_slots
        if window is not None and self.absent_status is not None:
            absent = live.copy()
            absent[window] = False
            for slot in np.flatnonzero(absent).tolist():
                statuses[slot] = self.absent_status
        if window is not None and self._failures:
            undecided = live[window].copy()
            for plugin, mask in self._failures:
                first = undecided & ~mask
                if not first.any():
                    continue
                undecided &= mask
                slots = window[first]
                codes, table_statuses = plugin.explain(self.state, self.pod, slots)
                named = [s.with_plugin(plugin.name) for s in table_statuses]
                for slot, code in zip(slots.tolist(), codes.tolist(), strict=True):
                    statuses[slot] = named[code]
        self._statuses = statuses
        return statuses

    def histogram(self) -> Counter[str]:
        counts: Counter[str] = Counter()
        by_status = Counter(self.node_statuses().values())
        for status, count in by_status.items():
            for reason in status.reasons:
                counts[reason] += count
        return counts

    def unschedulable_plugins(self) -> set[str]:
        """Plugins that rejected the pod on some node (for queueing hints)."""
        if self.pre_filter_status is not None:
            return {self.pre_filter_status.plugin} if self.pre_filter_status.plugin else set()
        return {s.plugin for s in set(self.node_statuses().values()) if s.plugin}

    def resolvable_slots(self) -> list[int]:
        """Rejected nodes where removing pods might help (status Unschedulable)."""
        return sorted(
            slot for slot, s in self.node_statuses().items() if s.code is Code.UNSCHEDULABLE
        )

    def message(self) -> str:
        head = f"0/{self.num_all_nodes} nodes are available:"
        if self.pre_filter_status is not None:
            text = f"{head} {self.pre_filter_status.message()}."
        else:
            parts = sorted(f"{count} {reason}" for reason, count in self.histogram().items())
            text = f"{head} {', '.join(parts)}." if parts else head
        if self.post_filter_message:
            text += f" {self.post_filter_message}."
        return text


class FitError(Exception):
    """No node fits the pod."""

    def __init__(self, pod: PodInfo, diagnosis: Diagnosis) -> None:
        super().__init__(pod.key)
        self.pod = pod
        self.diagnosis = diagnosis

    def message(self) -> str:
        return self.diagnosis.message()

    def __str__(self) -> str:
        return self.message()


@dataclass(slots=True)
class AttemptRecord:
    """Per-plugin results for one pod's attempt, keyed by node name, in the
    spirit of kube-scheduler-simulator's result annotations."""

    pod: tuple[str, str]
    filter: dict[str, dict[str, str]] = field(default_factory=dict)
    score: dict[str, dict[str, int]] = field(default_factory=dict)
    normalized_score: dict[str, dict[str, int]] = field(default_factory=dict)
    final_score: dict[str, int] = field(default_factory=dict)
    selected_node: str | None = None
    post_filter: str = ""

    def record_filter(self, plugin: str, names: list[str], results: list[str]) -> None:
        self.filter.setdefault(plugin, {}).update(zip(names, results, strict=True))
