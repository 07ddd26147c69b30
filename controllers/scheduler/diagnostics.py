"""Why a pod fits nowhere: per-node statuses, the Kubernetes-style message, and
the optional per-plugin record of one scheduling attempt.

`Diagnosis` is built from the filter masks of a failed attempt. It stays
cheap until asked: the per-node statuses are computed (vectorised, by the
plugin that rejected each node first, as kube-scheduler stops at the first
failing filter) only for the message, the queueing hints and preemption.

`FitError.message()` reads like kube-scheduler's:
"0/5000 nodes are available: 10 node(s) had untolerated taint(s),
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
        self._arrays: tuple[Slots, npt.NDArray[np.intp], list[Status]] | None = None
        self.post_filter_message = ""

    def _compute(self) -> tuple[Slots, npt.NDArray[np.intp], list[Status]]:
        """(rejected live slots, code per slot, status per code)."""
        if self._arrays is not None:
            return self._arrays
        table = self.table
        live = table.valid[: table.size]
        parts_slots: list[Slots] = []
        parts_codes: list[npt.NDArray[np.intp]] = []
        statuses: list[Status] = []

        def add(slots: Slots, codes: npt.NDArray[np.intp], found: list[Status]) -> None:
            parts_slots.append(slots)
            parts_codes.append(codes + len(statuses))
            statuses.extend(found)

        if self.pre_filter_status is not None:
            slots = np.flatnonzero(live).astype(np.int64)
            add(slots, np.zeros(len(slots), np.intp), [self.pre_filter_status])
        else:
            window = self._window_slots
            if window is not None and self.absent_status is not None:
                absent = live.copy()
                absent[window] = False
                slots = np.flatnonzero(absent).astype(np.int64)
                add(slots, np.zeros(len(slots), np.intp), [self.absent_status])
            if window is not None and self._failures:
                undecided = live[window].copy()
                for plugin, mask in self._failures:
                    first = undecided & ~mask
                    if not first.any():
                        continue
                    undecided &= mask
                    slots = window[first]
                    codes, found = plugin.explain(self.state, self.pod, slots)
                    add(slots, codes, [s.with_plugin(plugin.name) for s in found])
        if parts_slots:
            all_slots = np.concatenate(parts_slots)
            all_codes = np.concatenate(parts_codes)
        else:
            all_slots = np.zeros(0, np.int64)
            all_codes = np.zeros(0, np.intp)
        self._arrays = (all_slots, all_codes, statuses)
        return self._arrays

    def node_statuses(self) -> dict[int, Status]:
        """slot -> Status for every live node that was rejected."""
        slots, codes, statuses = self._compute()
        return {
            slot: statuses[code] for slot, code in zip(slots.tolist(), codes.tolist(), strict=True)
        }

    def histogram(self) -> Counter[str]:
        _, codes, statuses = self._compute()
        counts: Counter[str] = Counter()
        for code, count in enumerate(np.bincount(codes, minlength=len(statuses)).tolist()):
            if count:
                for reason in statuses[code].reasons:
                    counts[reason] += count
        return counts

    def unschedulable_plugins(self) -> set[str]:
        """Plugins that rejected the pod on some node (for queueing hints)."""
        if self.pre_filter_status is not None:
            return {self.pre_filter_status.plugin} if self.pre_filter_status.plugin else set()
        _, codes, statuses = self._compute()
        used = np.unique(codes).tolist()
        return {statuses[c].plugin for c in used if statuses[c].plugin}

    def resolvable_slots(self) -> list[int]:
        """Rejected nodes where removing pods might help (status Unschedulable)."""
        slots, codes, statuses = self._compute()
        if not len(slots):
            return []
        resolvable = np.array([s.code is Code.UNSCHEDULABLE for s in statuses], np.bool_)
        picked: list[int] = np.sort(slots[resolvable[codes]]).tolist()
        return picked

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
