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

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.diagnostics import Diagnosis
from controllers.scheduler.framework import Framework
from controllers.scheduler.handle import Handle
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from engine.api.policy import PodDisruptionBudget
from engine.selectors import from_label_selector

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
    """Kubernetes' pickOneNodeForPreemption criteria, in order."""
    remaining = candidates

    def keep(score: Callable[[Candidate], float]) -> None:
        nonlocal remaining
        best = min(score(c) for c in remaining)
        remaining = [c for c in remaining if score(c) == best]

    keep(lambda c: c.pdb_violations)
    if len(remaining) > 1:
        keep(lambda c: max(v.priority for v in c.victims))
    if len(remaining) > 1:
        keep(lambda c: sum(v.priority + MAX_INT32 + 1 for v in c.victims))
    if len(remaining) > 1:
        keep(lambda c: len(c.victims))
    if len(remaining) > 1:
        keep(lambda c: -_earliest_start(c.victims).timestamp())
    return remaining[0]


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
        for i in range(len(potential)):
            slot = potential[(offset + i) % len(potential)]
            name = table.names[slot]
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
        lower = [
            p for p in cache.pods_on(slot) if p.priority < pod.priority and not p.is_terminating
        ]
        if not lower:
            return [], 0, Status.unresolvable(NO_VICTIMS)
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
                    if framework.filter_one(trial, pod, slot) is not None:
                        remove(victim)
                        victims.append(victim)
                        if counts:
                            violations += 1
            victims.sort(key=more_important)
            return victims, violations, None
        finally:
            for victim in removed:
                table.add_pod(slot, victim.requests, victim.host_ports)

    @staticmethod
    def lower_nominated(handle: Handle, pod: PodInfo, node: str) -> list[PodInfo]:
        return [p for p in handle.nominator.pods_on(node) if p.priority < pod.priority]
