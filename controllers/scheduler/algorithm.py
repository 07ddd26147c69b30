"""The scheduling algorithm for one pod: filter, pick the nodes to score, score,
select a host (kube-scheduler's schedulePod).

1. No nodes: error. PreFilter; a rejection fails the pod everywhere.
2. A pod nominated by an earlier preemption tries its nominated node first
   and takes it if it fits.
3. Filter every node at once (one mask per plugin over the node table). Of
   the feasible nodes keep the first `num_feasible_nodes_to_find` in node order
   starting where the previous pod's search stopped (round robin), as
   kube-scheduler's percentageOfNodesToScore does.
4. One feasible node is taken as is; otherwise score and take the highest
   total, ties broken with the seeded RNG.

Everything here is synchronous and touches nothing but the cache, so a
scheduling cycle sees one consistent state.

Neighbours: `controllers.scheduler.framework` (runs the plugins),
`controllers.scheduler.diagnostics` (what a failure carries),
`controllers.scheduler.scheduler` (calls `schedule`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cache.cache import SchedulerCache
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.diagnostics import NO_NODES_MESSAGE, AttemptRecord, Diagnosis, FitError
from controllers.scheduler.fastpath import FastPath
from controllers.scheduler.framework import Framework
from controllers.scheduler.interfaces import BoolMask, Slots
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window

__all__ = [
    "Algorithm",
    "NoNodesAvailable",
    "ScheduleResult",
    "SchedulingError",
    "num_feasible_nodes_to_find",
]

MIN_FEASIBLE_NODES_TO_FIND: Final = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND: Final = 5


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """Kubernetes' numFeasibleNodesToFind (percentage 0 = adaptive)."""
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage == 0:
        percentage = max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND, 50 - num_all_nodes // 125)
    found = num_all_nodes * percentage // 100
    return max(found, MIN_FEASIBLE_NODES_TO_FIND)


class SchedulingError(Exception):
    """Scheduling failed for a reason other than "no node fits"."""

    def __init__(self, status: Status) -> None:
        super().__init__(status.message())
        self.status = status


class NoNodesAvailable(SchedulingError):
    def __init__(self) -> None:
        super().__init__(Status.error(NO_NODES_MESSAGE))


@dataclass(frozen=True, slots=True)
class ScheduleResult:
    node: str
    slot: int
    evaluated: int
    feasible: int


class Algorithm:
    """schedulePod, with the round-robin start kept between pods."""

    def __init__(self, cache: SchedulerCache, rng: random.Random, percentage: int) -> None:
        self.cache = cache
        self.rng = rng
        self.percentage = percentage
        self.next_start = 0
        self.fast = True
        self._fast: dict[str, FastPath] = {}

    def _filter_fn(self, framework: Framework) -> Callable[[CycleState, PodInfo, Window], BoolMask]:
        def run(state: CycleState, pod: PodInfo, window: Window) -> BoolMask:
            return framework.run_filter(state, pod, window)[0]

        return run

    def _fast_path(self, framework: Framework) -> FastPath:
        fast = self._fast.get(framework.scheduler_name)
        if fast is None:
            fast = FastPath(framework, framework.handle)
            self._fast[framework.scheduler_name] = fast
        return fast

    def _schedule_plain(
        self, fast: FastPath, framework: Framework, state: CycleState, pod: PodInfo
    ) -> ScheduleResult | None:
        """The fast path (see `controllers.scheduler.fastpath`); None when the
        pod fits nowhere, so the generic path can explain why."""
        table = self.cache.table
        fast.fit.pre_filter(state, pod)
        percentage = framework.percentage_of_nodes_to_score
        wanted = num_feasible_nodes_to_find(
            self.percentage if percentage is None else percentage, table.count
        )
        chosen, evaluated = self._search(state, pod, wanted, fast.filter)
        if chosen is None:
            return None
        fast.taken += 1
        if len(chosen) == 1:
            slot = int(chosen[0])
            return ScheduleResult(table.names[slot], slot, evaluated, 1)
        slot = int(chosen[self._pick(fast.scores(state, pod, chosen))])
        return ScheduleResult(table.names[slot], slot, evaluated, len(chosen))

    def _pick(self, totals: npt.NDArray[np.int64]) -> int:
        """Index of the highest total; ties broken with the seeded RNG."""
        pick = int(totals.argmax())
        top = totals == totals[pick]
        if np.count_nonzero(top) > 1:
            ties = top.nonzero()[0]
            pick = int(ties[self.rng.randrange(len(ties))])
        return pick

    def schedule(
        self,
        framework: Framework,
        state: CycleState,
        pod: PodInfo,
        record: AttemptRecord | None = None,
    ) -> ScheduleResult:
        table = self.cache.table
        if table.count == 0:
            raise NoNodesAvailable()
        if record is None and self.fast:
            fast = self._fast_path(framework)
            if fast.applies(pod):
                result = self._schedule_plain(fast, framework, state, pod)
                if result is not None:
                    return result
                state.clear()
        names, status = framework.run_pre_filter(state, pod)
        if status is not None:
            if status.is_rejection:
                diagnosis = Diagnosis(table, state, pod, pre_filter_status=status)
                raise FitError(pod, diagnosis)
            raise SchedulingError(status)
        nominated = pod.pod.status.nominated_node_name
        if nominated and record is None:
            slot = table.slot_of.get(nominated)
            if (
                slot is not None
                and (names is None or nominated in names)
                and framework.filter_one(state, pod, slot) is None
            ):
                return ScheduleResult(nominated, slot, 1, 1)
        percentage = framework.percentage_of_nodes_to_score
        wanted = num_feasible_nodes_to_find(
            self.percentage if percentage is None else percentage, table.count
        )
        chosen: Slots | None = None
        evaluated = table.size
        if names is None and record is None:
            chosen, evaluated = self._search(state, pod, wanted, self._filter_fn(framework))
        if chosen is None:
            chosen, evaluated = self._search_all(framework, state, pod, names, wanted, record)
        if len(chosen) == 1 and record is None:
            slot = int(chosen[0])
            return ScheduleResult(table.names[slot], slot, evaluated, 1)
        status = framework.run_pre_score(state, pod, chosen)
        if status is not None:
            raise SchedulingError(status)
        totals = framework.run_score(state, pod, chosen, record)
        slot = int(chosen[self._pick(totals)])
        if record is not None:
            names_list = [table.names[s] for s in chosen.tolist()]
            record.final_score = dict(zip(names_list, totals.tolist(), strict=True))
            record.selected_node = table.names[slot]
        return ScheduleResult(table.names[slot], slot, evaluated, len(chosen))

    def _search(
        self,
        state: CycleState,
        pod: PodInfo,
        wanted: int,
        filter_fn: Callable[[CycleState, PodInfo, Window], BoolMask],
    ) -> tuple[Slots | None, int]:
        """The first `wanted` feasible nodes from the round-robin start, filtering
        in growing windows so a mostly-free cluster is not filtered in full.
        None when no node fits (the caller then filters everything to explain)."""
        table = self.cache.table
        size = table.size
        position = self.next_start if self.next_start < size else 0
        chunk = max(2 * wanted, 256)
        found: list[Slots] = []
        count = 0
        evaluated = 0
        while evaluated < size and count < wanted:
            stop = min(position + chunk, size, position + size - evaluated)
            mask = filter_fn(state, pod, Window.range(position, stop))
            hits = mask.nonzero()[0]
            if len(hits):
                found.append(hits + position)
                count += len(hits)
            evaluated += stop - position
            position = stop if stop < size else 0
            chunk *= 2
        if not count:
            return None, evaluated
        feasible = found[0] if len(found) == 1 else np.concatenate(found)
        chosen = feasible[:wanted]
        if count >= wanted:
            self.next_start = (int(chosen[-1]) + 1) % size
        return chosen, evaluated

    def _search_all(
        self,
        framework: Framework,
        state: CycleState,
        pod: PodInfo,
        names: frozenset[str] | None,
        wanted: int,
        record: AttemptRecord | None,
    ) -> tuple[Slots, int]:
        """Filter every node (or the PreFilter-restricted ones) at once; raises
        FitError with the diagnosis when none fits."""
        table = self.cache.table
        absent: Status | None = None
        if names is None:
            window = Window.range(0, table.size)
        else:
            slots = sorted(table.slot_of[n] for n in names if n in table.slot_of)
            window = Window.of(slots)
            absent = Status.unresolvable(
                f"node(s) didn't satisfy plugin(s) [{', '.join(sorted(state.restricted_by))}]"
            )
        mask, failures = framework.run_filter(state, pod, window)
        if record is not None:
            self._record_filters(framework, state, pod, window, failures, record)
        positions = mask.nonzero()[0]
        feasible: Slots = positions if window.contiguous else window.slots[positions]
        if not len(feasible):
            diagnosis = Diagnosis(
                table,
                state,
                pod,
                window_slots=window.slots,
                failures=failures,
                absent_status=absent,
            )
            raise FitError(pod, diagnosis)
        if len(feasible) <= wanted:
            return feasible, len(window)
        start = int(np.searchsorted(feasible, self.next_start))
        if start + wanted <= len(feasible):
            chosen = feasible[start : start + wanted]
        else:
            chosen = np.concatenate(
                (feasible[start:], feasible[: wanted - (len(feasible) - start)])
            )
        self.next_start = (int(chosen[-1]) + 1) % max(table.size, 1)
        return chosen, len(window)

    def _record_filters(
        self,
        framework: Framework,
        state: CycleState,
        pod: PodInfo,
        window: Window,
        failures: Sequence[tuple[Any, npt.NDArray[np.bool_]]],
        record: AttemptRecord,
    ) -> None:
        table = self.cache.table
        slots = window.slots
        valid = table.valid[slots]
        names = [table.names[s] for s in slots[valid].tolist()]
        for plugin, mask in failures:
            ok = mask[valid]
            results = ["passed"] * len(names)
            bad = np.flatnonzero(~ok)
            if len(bad):
                codes, statuses = plugin.explain(state, pod, slots[valid][bad])
                for position, code in zip(bad.tolist(), codes.tolist(), strict=True):
                    results[position] = statuses[code].message()
            record.record_filter(plugin.name, names, results)
        for plugin in framework.filter:
            if plugin.name in state.skip_filter:
                record.record_filter(plugin.name, names, ["passed"] * len(names))
