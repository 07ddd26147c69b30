"""InterPodAffinity: required pod affinity and anti-affinity (Filter), preferred
terms (Score, weight 2), with Kubernetes' semantics:

* affinity: every required term needs a matching pod in the node's domain
  (the pods counted must match all the terms); a node without a term's
  topology label fails. If no pod anywhere matches and the pod matches its own
  terms, it may go anywhere that has the labels (the first pod of a group).
  Failure is UnschedulableAndUnresolvable.
* anti-affinity: no pod matching a term may be in the node's domain
  (Unschedulable), and no existing pod's required anti-affinity term may match
  this pod within that pod's domain ("existing pods anti-affinity").
* score: + weight per matching pod for preferred affinity, - for preferred
  anti-affinity, in both directions (this pod's terms over existing pods, and
  existing pods' terms over this pod; existing required affinity counts with
  `hardPodAffinityWeight`, default 1), min-max normalised.

Counts per topology domain come from the cache's per-node counters and term
groups with one bincount per term, never a scan of all pods. PreFilter keeps
domain arrays in CycleState; `add_pod`/`remove_pod` adjust them for
preemption's what-if evaluations.

Neighbours: `cache.counters` (CounterRegistry, TermGroups, domain_sums),
`controllers.scheduler.affinity.AffinityTerm`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.affinity import AffinityTerm
from controllers.scheduler.cache.counters import CounterKey, domain_sums
from controllers.scheduler.cache.snapshot import NodeTable
from controllers.scheduler.cluster_events import (
    ASSIGNED_POD,
    NODE,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import BoolMask, Explanation, ScoreResult, Slots
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Pod

__all__ = [
    "REASON_AFFINITY",
    "REASON_ANTI_AFFINITY",
    "REASON_EXISTING_ANTI_AFFINITY",
    "InterPodAffinity",
]

REASON_AFFINITY: Final = "node(s) didn't match pod affinity rules"
REASON_ANTI_AFFINITY: Final = "node(s) didn't match pod anti-affinity rules"
REASON_EXISTING_ANTI_AFFINITY: Final = "node(s) didn't satisfy existing pods anti-affinity rules"
_FILTER_KEY: Final = "PreFilterInterPodAffinity"
_SCORE_KEY: Final = "PreScoreInterPodAffinity"
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class _TermDomains:
    """Matching-pod counts of one term by topology value id."""

    key: str
    counts: FloatArray

    def copy(self) -> _TermDomains:
        return _TermDomains(self.key, self.counts.copy())


@dataclass(slots=True)
class _FilterState:
    affinity: list[_TermDomains] = field(default_factory=list)
    affinity_terms: tuple[AffinityTerm, ...] = ()
    self_match: bool = False
    anti: list[tuple[AffinityTerm, _TermDomains]] = field(default_factory=list)
    existing: dict[AffinityTerm, _TermDomains] = field(default_factory=dict)

    def clone(self) -> _FilterState:
        return _FilterState(
            [d.copy() for d in self.affinity],
            self.affinity_terms,
            self.self_match,
            [(t, d.copy()) for t, d in self.anti],
            {t: d.copy() for t, d in self.existing.items()},
        )

    def no_affinity_matches(self) -> bool:
        return all(not (d.counts[1:] > 0).any() for d in self.affinity)


@dataclass(frozen=True, slots=True)
class _ScoreState:
    per_node: npt.NDArray[np.int64]

    def clone(self) -> _ScoreState:
        return self


class InterPodAffinity:
    name: Final = "InterPodAffinity"
    default_weight: Final = 2

    def __init__(self, handle: Handle, args: Mapping[str, Any] | None) -> None:
        self.handle = handle
        self.cache = handle.cache
        self.table: NodeTable = handle.table
        args = args or {}
        self.hard_weight = int(args.get("hardPodAffinityWeight", 1))
        if not 0 <= self.hard_weight <= 100:
            raise ValueError("InterPodAffinity: hardPodAffinityWeight must be within 0..100")
        self.ignore_existing_preferred = bool(args.get("ignorePreferredTermsOfExistingPods", False))

    def _ns_labels(self, namespace: str) -> Mapping[str, str] | None:
        return self.cache.namespace_labels(namespace)

    def _domains(self, key: str, per_slot: npt.NDArray[Any]) -> _TermDomains:
        table = self.table
        column = table.label_column(key)
        if column is None:
            return _TermDomains(key, np.zeros(1))
        sums = domain_sums(column, per_slot, table.value_count(key))
        sums[0] = 0.0
        return _TermDomains(key, sums)

    def _matching_existing(
        self, pod: PodInfo, groups: Mapping[AffinityTerm, Any]
    ) -> list[AffinityTerm]:
        ns_labels = self._ns_labels(pod.namespace)
        return [t for t in groups if t.matches(pod.namespace, pod.labels, ns_labels)]

    # -- Filter -----------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        rules = pod.pod_affinity
        groups = self.cache.groups.required_anti
        if not rules.required_affinity and not rules.required_anti_affinity and not groups:
            return Status.skip()
        existing = self._matching_existing(pod, groups)
        if not rules.required_affinity and not rules.required_anti_affinity and not existing:
            return Status.skip()
        counters = self.cache.counters
        result = _FilterState()
        if rules.required_affinity:
            counts = counters.counts(CounterKey.for_all_terms(rules.required_affinity))
            result.affinity = [
                self._domains(t.topology_key, counts) for t in rules.required_affinity
            ]
            result.affinity_terms = rules.required_affinity
            ns_labels = self._ns_labels(pod.namespace)
            result.self_match = all(
                t.matches(pod.namespace, pod.labels, ns_labels) for t in rules.required_affinity
            )
        for term in rules.required_anti_affinity:
            counts = counters.counts(CounterKey.for_term(term))
            result.anti.append((term, self._domains(term.topology_key, counts)))
        for term in existing:
            result.existing[term] = self._domains(term.topology_key, groups[term].values)
        state.write(_FILTER_KEY, result)
        return None

    def _parts(
        self, s: _FilterState, window: Window
    ) -> tuple[BoolMask | None, BoolMask | None, BoolMask | None]:
        """(affinity ok, anti-affinity ok, existing anti-affinity ok) per window slot."""
        table = self.table
        affinity_ok: BoolMask | None = None
        if s.affinity:
            has_all = np.ones(len(window), np.bool_)
            found_all = np.ones(len(window), np.bool_)
            for domains in s.affinity:
                column = table.label_column(domains.key)
                if column is None:
                    has_all[:] = False
                    continue
                ids = window.take(column)
                has_all &= ids != 0
                found_all &= domains.counts[ids] > 0
            if s.self_match and s.no_affinity_matches():
                affinity_ok = has_all
            else:
                affinity_ok = has_all & found_all
        anti_ok = self._none_in_domain([d for _, d in s.anti], window)
        existing_ok = self._none_in_domain(list(s.existing.values()), window)
        return affinity_ok, anti_ok, existing_ok

    def _none_in_domain(self, domains: list[_TermDomains], window: Window) -> BoolMask | None:
        ok: BoolMask | None = None
        for d in domains:
            column = self.table.label_column(d.key)
            if column is None:
                continue
            ids = window.take(column)
            clear = d.counts[ids] <= 0  # id 0 (no label) has count 0
            ok = clear if ok is None else ok & clear
        return ok

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        s: _FilterState = state.read(_FILTER_KEY)
        mask: BoolMask | None = None
        for part in self._parts(s, window):
            if part is not None:
                mask = part if mask is None else mask & part
        return mask

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        s: _FilterState = state.read(_FILTER_KEY)
        affinity_ok, anti_ok, _ = self._parts(s, Window.of(slots))
        codes = np.full(len(slots), 2, np.intp)
        if anti_ok is not None:
            codes[~anti_ok] = 1
        if affinity_ok is not None:
            codes[~affinity_ok] = 0
        statuses = [
            Status.unresolvable(REASON_AFFINITY),
            Status.unschedulable(REASON_ANTI_AFFINITY),
            Status.unschedulable(REASON_EXISTING_ANTI_AFFINITY),
        ]
        return codes, statuses

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int, sign: int
    ) -> None:
        s: _FilterState | None = state.get(_FILTER_KEY)
        if s is None:
            return
        table = self.table
        ns_labels = self._ns_labels(other.namespace)

        def bump(domains: _TermDomains) -> None:
            column = table.label_columns.get(domains.key)
            if column is None:
                return
            value = int(table.labels[column, slot])
            if value and value < len(domains.counts):
                domains.counts[value] += sign

        if s.affinity and all(
            t.matches(other.namespace, other.labels, ns_labels) for t in s.affinity_terms
        ):
            for domains in s.affinity:
                bump(domains)
        for term, domains in s.anti:
            if term.matches(other.namespace, other.labels, ns_labels):
                bump(domains)
        pod_ns_labels = self._ns_labels(pod.namespace)
        for term in other.pod_affinity.required_anti_affinity:
            if term.matches(pod.namespace, pod.labels, pod_ns_labels):
                existing = s.existing.get(term)
                if existing is None:
                    existing = _TermDomains(
                        term.topology_key, np.zeros(table.value_count(term.topology_key))
                    )
                    s.existing[term] = existing
                bump(existing)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        self._update(state, pod, other, slot, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        self._update(state, pod, other, slot, -1)

    # -- Score ------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        rules = pod.pod_affinity
        has_own = bool(rules.preferred_affinity or rules.preferred_anti_affinity)
        groups = self.cache.groups
        if not has_own and (
            self.ignore_existing_preferred
            or (not groups.preferred and not groups.required_affinity)
        ):
            return Status.skip()
        table = self.table
        counters = self.cache.counters
        score = np.zeros(table.size, np.int64)
        contributed = False

        def add(key: str, per_slot: npt.NDArray[Any], factor: int) -> None:
            nonlocal contributed
            column = table.label_column(key)
            if column is None:
                return
            sums = domain_sums(column, per_slot, table.value_count(key))
            sums[0] = 0.0
            if not sums.any():
                return
            contributed = True
            score[:] += (sums[column] * factor).astype(np.int64)

        for weighted in rules.preferred_affinity:
            add(
                weighted.term.topology_key,
                counters.counts(CounterKey.for_term(weighted.term)),
                weighted.weight,
            )
        for weighted in rules.preferred_anti_affinity:
            add(
                weighted.term.topology_key,
                counters.counts(CounterKey.for_term(weighted.term)),
                -weighted.weight,
            )
        if not self.ignore_existing_preferred:
            if self.hard_weight:
                for term in self._matching_existing(pod, groups.required_affinity):
                    add(term.topology_key, groups.required_affinity[term].values, self.hard_weight)
            for term in self._matching_existing(pod, groups.preferred):
                add(term.topology_key, groups.preferred[term].values, 1)
        if not contributed:
            return Status.skip()
        state.write(_SCORE_KEY, _ScoreState(score))
        return None

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        s: _ScoreState = state.read(_SCORE_KEY)
        return s.per_node[slots]

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        if not len(scores):
            return scores
        low, high = int(scores.min()), int(scores.max())
        if high - low <= 0:
            return np.zeros(len(scores), np.int64)
        scaled = 100.0 * ((scores - low) / float(high - low))
        return scaled.astype(np.int64)

    # -- queueing hints ---------------------------------------------------------------------

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(
                ClusterEvent(ASSIGNED_POD, Action.ADD | Action.DELETE | Action.UPDATE_POD_LABEL),
                self._pod_hint,
            ),
            EventRegistration(ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_LABEL)),
        ]

    def _pod_hint(self, pod: PodInfo, old: Pod | None, new: Pod | None) -> bool:
        rules = pod.pod_affinity
        ns_labels = self._ns_labels

        def matches_all(terms: tuple[AffinityTerm, ...], other: Pod) -> bool:
            ns = other.metadata.namespace
            labels = other.metadata.labels
            return bool(terms) and all(t.matches(ns, labels, ns_labels(ns)) for t in terms)

        def matches_any(terms: tuple[AffinityTerm, ...], other: Pod) -> bool:
            ns = other.metadata.namespace
            labels = other.metadata.labels
            return any(t.matches(ns, labels, ns_labels(ns)) for t in terms)

        if new is not None and matches_all(rules.required_affinity, new):
            return old is None or not matches_all(rules.required_affinity, old)
        if old is not None and matches_any(rules.required_anti_affinity, old):
            return new is None or not matches_any(rules.required_anti_affinity, new)
        if old is not None and new is None:
            # A deleted pod's own anti-affinity may have been what blocked us.
            affinity = old.spec.affinity
            return affinity is not None and affinity.pod_anti_affinity is not None
        return False


def new(args: PluginArgs, handle: Handle) -> Any:
    return InterPodAffinity(handle, args)
