"""Preemption (kube-scheduler's DefaultPreemption): when a pod fits nowhere,
find a node where evicting lower-priority pods would make it fit, evict the
fewest and least important, and nominate the pod to that node.

Algorithm, as Kubernetes':

1. The pod must be eligible: not `preemptionPolicy: Never`, and not already
   nominated to a node where lower-priority pods are still terminating.
2. Candidate nodes are those rejected with Unschedulable (not Unresolvable).
   Starting at a random offset, each is dry-run: remove every lower-priority
   pod, check the pod fits (all filters, with PreFilter state adjusted through
   `remove_pod`/`add_pod`), then add victims back one by one, most important
   first and PodDisruptionBudget-protected ones before the rest, keeping back
   every pod the preemptor can live with. The search stops once enough
   candidates are found (10% of nodes, at least 100).
3. Among candidates pick, in order: fewest PDB violations, lowest highest
   victim priority, lowest sum of priorities, fewest victims, latest start of
   the most important victims, first found.
4. Victims get a DisruptionTarget condition and are deleted (in the
   background); lower-priority pods nominated to that node lose their
   nomination; the preemptor is nominated and retried when the victims go.

The node table is changed only inside a dry run and restored before it ends,
so nobody else sees the simulation.

Neighbours: `plugins.default_preemption` (the PostFilter plugin),
`controllers.scheduler.framework.Framework.filter_one`, `cache`, `nominator`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cache.snapshot import CPU, MEMORY, PODS
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.diagnostics import Diagnosis
from controllers.scheduler.framework import Framework
from controllers.scheduler.handle import Handle
from controllers.scheduler.plugins.node_resources_fit import NodeResourcesFit
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from engine.api.policy import PodDisruptionBudget
from engine.selectors import from_label_selector

_NODE_LOCAL_FILTERS: Final = frozenset(
    {"NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodeResourcesFit"}
)


def _resources_decide(framework: Framework, state: CycleState) -> NodeResourcesFit | None:
    """The Fit plugin when it is the only active filter that pods on a node
    affect (so a dry run needs no plugin calls), else None."""
    fit = framework.plugins.get("NodeResourcesFit")
    if not isinstance(fit, NodeResourcesFit) or fit.name in state.skip_filter:
        return None
    for plugin in framework.filter:
        if plugin.name not in state.skip_filter and plugin.name not in _NODE_LOCAL_FILTERS:
            return None
    return fit


__all__ = [
    "Candidate",
    "PreemptionResult",
    "Preemptor",
    "filter_pdb_violations",
    "pick_one_node",
]

MAX_INT32: Final = 2**31 - 1
NOT_HELPFUL: Final = "Preemption is not helpful for scheduling"
NO_VICTIMS: Final = "No preemption victims found for incoming pod"


@dataclass(slots=True)
class Candidate:
    node: str
    slot: int
    victims: list[PodInfo]
    pdb_violations: int


@dataclass(slots=True)
class PreemptionResult:
    """Either a chosen candidate or the message explaining why none exists."""

    candidate: Candidate | None = None
    message: str = ""
    node_statuses: dict[str, Status] = field(default_factory=dict)


def more_important(pod: PodInfo) -> tuple[int, datetime]:
    """Sort key: higher priority first, then the pod that started earlier."""
    return (-pod.priority, pod.start_time)


def filter_pdb_violations(
    pods: list[PodInfo], pdbs: list[PodDisruptionBudget]
) -> tuple[list[PodInfo], list[PodInfo]]:
    """(violating, non-violating) in the given order: evicting a pod violates a
    PDB that selects it once the budget's allowed disruptions are used up."""
    allowed = [pdb.status.disruptions_allowed for pdb in pdbs]
    selectors = [from_label_selector(pdb.spec.selector) for pdb in pdbs]
    violating: list[PodInfo] = []
    fine: list[PodInfo] = []
    for pod in pods:
        violated = False
        if pod.labels:
            for i, pdb in enumerate(pdbs):
                if pdb.metadata.namespace != pod.namespace:
                    continue
                selector = selectors[i]
                if selector.is_empty() or not selector.matches(pod.labels):
                    continue
                if pod.name in pdb.status.disrupted_pods:
                    continue
                allowed[i] -= 1
                if allowed[i] < 0:
                    violated = True
        (violating if violated else fine).append(pod)
    return violating, fine


def _earliest_start(victims: list[PodInfo]) -> datetime:
    top = max(v.priority for v in victims)
    return min(v.start_time for v in victims if v.priority == top)


def pick_one_node(candidates: list[Candidate]) -> Candidate:
    """Kubernetes' pickOneNodeForPreemption criteria, in order: fewest PDB
    violations, lowest top victim priority, lowest sum of priorities, fewest
    victims, latest start of the most important victims; then the first."""

    def cheap(c: Candidate) -> tuple[int, int, int, int]:
        top = max(v.priority for v in c.victims)
        total = sum(v.priority + MAX_INT32 + 1 for v in c.victims)
        return (c.pdb_violations, top, total, len(c.victims))

    keys = [cheap(c) for c in candidates]
    best = min(keys)
    remaining = [c for c, k in zip(candidates, keys, strict=True) if k == best]
    if len(remaining) > 1:
        starts = [_earliest_start(c.victims) for c in remaining]
        latest = max(starts)
        remaining = [c for c, t in zip(remaining, starts, strict=True) if t == latest]
    return remaining[0]


class _CpuMemoryDryRun:
    """SelectVictimsOnNode for a pod whose only pod-dependent filter is Fit and
    whose requests are cpu and memory: plain integers per node, with the
    node's free resources and the nominated reservations read once."""

    def __init__(
        self,
        preemptor: Preemptor,
        fit: NodeResourcesFit,
        state: CycleState,
        pod: PodInfo,
        pdbs: list[PodDisruptionBudget],
    ) -> None:
        cache = preemptor.handle.cache
        table = cache.table
        size = table.size
        self.cache = cache
        self.pod = pod
        self.pdbs = pdbs
        self.free_cpu = table.free[CPU, :size].tolist()
        self.free_memory = table.free[MEMORY, :size].tolist()
        self.free_pods = table.free[PODS, :size].tolist()
        matrix = fit.nominated_matrix(state, pod)
        self.kept: tuple[list[int], list[int], list[int]] | None = None
        self.reserved: dict[int, dict[int, int]] = {}
        if matrix is not None:
            self.kept = (
                matrix[0, :size].tolist(),
                matrix[1, :size].tolist(),
                matrix[2, :size].tolist(),
            )
        else:
            self.reserved = fit.nominated_reserve_all(state, pod)
        want = {row: amount for row, amount, _ in fit.checked_rows(state)}
        self.want_cpu = want.get(CPU, 0)
        self.want_memory = want.get(MEMORY, 0)

    def victims(self, slot: int) -> tuple[list[PodInfo], int, Status | None]:
        priority = self.pod.priority
        lower = [
            p
            for p in self.cache.pods_on(slot)
            if p.priority < priority and p.pod.metadata.deletion_timestamp is None
        ]
        if not lower:
            return [], 0, Status.unresolvable(NO_VICTIMS)
        cpu = self.free_cpu[slot]
        memory = self.free_memory[slot]
        pods = self.free_pods[slot] + len(lower)
        if self.kept is not None:
            cpu -= self.kept[0][slot]
            memory -= self.kept[1][slot]
            pods -= self.kept[2][slot]
        else:
            reserved = self.reserved.get(slot)
            if reserved:
                cpu -= reserved.get(CPU, 0)
                memory -= reserved.get(MEMORY, 0)
                pods -= reserved.get(PODS, 0)
        for p in lower:
            cpu += p.requests.cpu
            memory += p.requests.memory
        want_cpu, want_memory = self.want_cpu, self.want_memory
        if pods < 1 or cpu < want_cpu or memory < want_memory:
            reasons = ["Too many pods"] if pods < 1 else []
            if cpu < want_cpu:
                reasons.append("Insufficient cpu")
            if memory < want_memory:
                reasons.append("Insufficient memory")
            return [], 0, Status.unschedulable(*reasons)
        lower.sort(key=more_important)
        violating, non_violating = (
            filter_pdb_violations(lower, self.pdbs) if self.pdbs else ([], lower)
        )
        victims: list[PodInfo] = []
        violations = 0
        for group, counts in ((violating, True), (non_violating, False)):
            for p in group:
                kept_cpu = cpu - p.requests.cpu
                kept_memory = memory - p.requests.memory
                if pods > 1 and kept_cpu >= want_cpu and kept_memory >= want_memory:
                    cpu, memory, pods = kept_cpu, kept_memory, pods - 1
                else:
                    victims.append(p)
                    violations += counts
        return victims, violations, None


class Preemptor:
    """Finds victims for one pod. Stateless between calls."""

    def __init__(
        self,
        handle: Handle,
        *,
        min_candidate_percentage: int = 10,
        min_candidate_absolute: int = 100,
    ) -> None:
        self.handle = handle
        self.min_candidate_percentage = min_candidate_percentage
        self.min_candidate_absolute = min_candidate_absolute

    def eligible(self, pod: PodInfo) -> str | None:
        """None if the pod may preempt, else why not."""
        if pod.preemption_policy == "Never":
            return "not eligible due to preemptionPolicy=Never"
        nominated = pod.pod.status.nominated_node_name
        if nominated:
            slot = self.handle.table.slot_of.get(nominated)
            if slot is not None:
                for other in self.handle.cache.pods_on(slot):
                    if other.is_terminating and other.priority < pod.priority:
                        return "not eligible due to a terminating pod on the nominated node"
        return None

    def num_candidates(self, potential: int) -> int:
        n = potential * self.min_candidate_percentage // 100
        n = max(n, self.min_candidate_absolute)
        return min(n, potential)

    def find(
        self, framework: Framework, state: CycleState, pod: PodInfo, diagnosis: Diagnosis
    ) -> PreemptionResult:
        table = self.handle.table
        all_nodes = table.count
        potential = diagnosis.resolvable_slots()
        if not potential:
            return PreemptionResult(
                message=f"0/{all_nodes} nodes are available: {all_nodes} {NOT_HELPFUL}."
            )
        pdbs = self.handle.listers.pdbs(pod.namespace)
        offset = self.handle.rng.randrange(len(potential))
        wanted = self.num_candidates(len(potential))
        violating: list[Candidate] = []
        fine: list[Candidate] = []
        statuses: dict[str, Status] = {}
        fit = _resources_decide(framework, state)
        viable = None if fit is None else self._viable(fit, state, pod)
        dry_run = (
            None if viable is None or fit is None else _CpuMemoryDryRun(self, fit, state, pod, pdbs)
        )
        passed_over: list[int] = []
        for i in range(len(potential)):
            slot = potential[(offset + i) % len(potential)]
            if viable is not None and not viable[slot]:
                passed_over.append(slot)  # no candidate: explained below if need be
                continue
            name = table.names[slot]
            if dry_run is not None:
                victims, violations, status = dry_run.victims(slot)
            else:
                victims, violations, status = self.select_victims(framework, state, pod, slot, pdbs)
            if status is None and victims:
                candidate = Candidate(name, slot, victims, violations)
                (fine if violations == 0 else violating).append(candidate)
                if fine and len(fine) + len(violating) >= wanted:
                    break
                continue
            statuses[name] = status or Status.unresolvable(NO_VICTIMS)
        candidates = fine + violating
        if not candidates:
            for slot in passed_over:
                _, _, status = self.select_victims(framework, state, pod, slot, pdbs)
                statuses[table.names[slot]] = status or Status.unresolvable(NO_VICTIMS)
            counts: dict[str, int] = {}
            not_helpful = all_nodes - len(statuses)
            for status in statuses.values():
                for reason in status.reasons:
                    counts[reason] = counts.get(reason, 0) + 1
            if not_helpful > 0:
                counts[NOT_HELPFUL] = counts.get(NOT_HELPFUL, 0) + not_helpful
            parts = sorted(f"{n} {reason}" for reason, n in counts.items())
            return PreemptionResult(
                message=f"0/{all_nodes} nodes are available: {', '.join(parts)}.",
                node_statuses=statuses,
            )
        return PreemptionResult(candidate=pick_one_node(candidates), node_statuses=statuses)

    def _viable(
        self, fit: NodeResourcesFit, state: CycleState, pod: PodInfo
    ) -> npt.NDArray[np.bool_] | None:
        """Slots where evicting every lower-priority pod would make room, from
        the cache's per-priority totals (one vector pass over all nodes), or
        None when the pod asks for resources those totals do not track."""
        rows = fit.checked_rows(state)
        if any(row not in (CPU, MEMORY) for row, _, _ in rows):
            return None
        cache = self.handle.cache
        table = cache.table
        size = table.size
        freed = np.zeros((3, size), np.int64)
        for priority, column in cache.by_priority.items():
            if priority < pod.priority:
                freed += column[:, :size]
        room = freed + table.free[[CPU, MEMORY, PODS], :size]
        matrix = fit.nominated_matrix(state, pod)
        if matrix is not None:
            room -= matrix[:, :size]
        else:
            for slot, reserved in fit.nominated_reserve_all(state, pod).items():
                if slot < size:
                    for row, amount in reserved.items():
                        if row in (CPU, MEMORY, PODS):
                            room[(CPU, MEMORY, PODS).index(row), slot] -= amount
        viable: npt.NDArray[np.bool_] = (freed[2] > 0) & (room[2] >= 1)
        for row, amount, _ in rows:
            viable &= room[row] >= amount
        return viable

    def select_victims(
        self,
        framework: Framework,
        state: CycleState,
        pod: PodInfo,
        slot: int,
        pdbs: list[PodDisruptionBudget],
    ) -> tuple[list[PodInfo], int, Status | None]:
        """Kubernetes' SelectVictimsOnNode: the minimal victims on one node."""
        cache = self.handle.cache
        table = cache.table
        priority = pod.priority
        lower = [
            p
            for p in cache.pods_on(slot)
            if p.priority < priority and p.pod.metadata.deletion_timestamp is None
        ]
        if not lower:
            return [], 0, Status.unresolvable(NO_VICTIMS)
        fit = _resources_decide(framework, state)
        if fit is not None:
            return self._select_by_resources(fit, state, pod, slot, lower, pdbs)
        trial = state.clone()
        extensions = framework.pod_extensions
        removed: list[PodInfo] = []

        def remove(victim: PodInfo) -> None:
            table.remove_pod(slot, victim.requests, victim.host_ports)
            for plugin in extensions:
                plugin.remove_pod(trial, pod, victim, slot)
            removed.append(victim)

        def add(victim: PodInfo) -> None:
            table.add_pod(slot, victim.requests, victim.host_ports)
            for plugin in extensions:
                plugin.add_pod(trial, pod, victim, slot)
            removed.remove(victim)

        try:
            for victim in lower:
                remove(victim)
            status = framework.filter_one(trial, pod, slot)
            if status is not None:
                return [], 0, status
            lower.sort(key=more_important)
            violating, fine = filter_pdb_violations(lower, pdbs)
            victims: list[PodInfo] = []
            violations = 0
            for group, counts in ((violating, True), (fine, False)):
                for victim in group:
                    add(victim)
                    if not framework.fits_one(trial, pod, slot):
                        remove(victim)
                        victims.append(victim)
                        if counts:
                            violations += 1
            victims.sort(key=more_important)
            return victims, violations, None
        finally:
            for victim in removed:
                table.add_pod(slot, victim.requests, victim.host_ports)

    def _select_by_resources(
        self,
        fit: NodeResourcesFit,
        state: CycleState,
        pod: PodInfo,
        slot: int,
        lower: list[PodInfo],
        pdbs: list[PodDisruptionBudget],
    ) -> tuple[list[PodInfo], int, Status | None]:
        """SelectVictimsOnNode when only resources can change the answer: the
        other active filters depend on the node alone and passed already, so
        the dry run is integer arithmetic on the node's free resources."""
        table = self.handle.table
        rows = fit.checked_rows(state)
        free = [int(table.free[row, slot]) for row, _, _ in rows]
        free_pods = int(table.free[PODS, slot])
        for row, amount in fit.nominated_reserve(state, pod, slot).items():
            if row == PODS:
                free_pods -= amount
            for i, (checked, _, _) in enumerate(rows):
                if checked == row:
                    free[i] -= amount
        wanted = [amount for _, amount, _ in rows]
        names = [name for _, _, name in rows]
        needs = {id(v): [v.requests.get(name) for name in names] for v in lower}
        for victim in lower:
            for i, amount in enumerate(needs[id(victim)]):
                free[i] += amount
        free_pods += len(lower)

        def fits(room: list[int], pods: int) -> bool:
            return pods >= 1 and all(have >= want for have, want in zip(room, wanted, strict=True))

        if not fits(free, free_pods):
            reasons = ["Too many pods"] if free_pods < 1 else []
            reasons += [
                f"Insufficient {name}"
                for name, room, want in zip(names, free, wanted, strict=True)
                if room < want
            ]
            return [], 0, Status.unschedulable(*reasons)
        lower.sort(key=more_important)
        violating, non_violating = filter_pdb_violations(lower, pdbs) if pdbs else ([], lower)
        victims: list[PodInfo] = []
        violations = 0
        for group, counts in ((violating, True), (non_violating, False)):
            for victim in group:
                kept = [have - need for have, need in zip(free, needs[id(victim)], strict=True)]
                if fits(kept, free_pods - 1):
                    free, free_pods = kept, free_pods - 1
                else:
                    victims.append(victim)
                    if counts:
                        violations += 1
        return victims, violations, None

    @staticmethod
    def lower_nominated(handle: Handle, pod: PodInfo, node: str) -> list[PodInfo]:
        return [p for p in handle.nominator.pods_on(node) if p.priority < pod.priority]
