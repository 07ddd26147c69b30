"""Per-node counts of assigned pods, kept up to date incrementally, so that pod
affinity and topology spread never scan all pods while scheduling one.

* `CounterRegistry`: for a pod predicate (namespaces or a namespace selector,
  a label selector, whether terminating pods count) an int32 column over node
  slots: how many assigned pods on each node match. A column is built by one
  scan the first time a pod asks for it, then follows every pod add and
  remove. Columns nobody asked for in a while are dropped (bounded registry).
* `TermGroups`: the (anti-)affinity terms that assigned pods carry, grouped by
  equal term: per node, how many pods carry a required anti-affinity (or
  required affinity) term, and the signed sum of preferred weights. An
  incoming pod checks which terms match it, then reads their columns.

Per-domain counts are derived on demand with one `np.bincount` over a label
column (see `domain_sums`).

Neighbours: `controllers.scheduler.cache.cache` (feeds pod changes in),
`plugins.inter_pod_affinity`, `plugins.pod_topology_spread` (readers).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.affinity import AffinityTerm
from controllers.scheduler.cache.snapshot import NodeTable
from controllers.scheduler.podinfo import PodInfo
from engine.selectors import Selector

__all__ = [
    "Clause",
    "CounterKey",
    "CounterRegistry",
    "GroupColumn",
    "TermGroups",
    "domain_sums",
    "weighted_bincount",
]

Int32Array = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
NamespaceLabels = Callable[[str], Mapping[str, str] | None]
_DEFAULT_LIMIT: Final = 512
_MATCHING_MEMO: Final = 4096


@dataclass(frozen=True, slots=True)
class Clause:
    """Pods in `namespaces` (or in a namespace `namespace_selector` selects)
    whose labels match `selector`."""

    namespaces: frozenset[str]
    namespace_selector: Selector | None
    selector: Selector

    def matches(self, pod: PodInfo, namespace_labels: NamespaceLabels) -> bool:
        if pod.namespace not in self.namespaces:
            ns_selector = self.namespace_selector
            if ns_selector is None or not ns_selector.matches(
                namespace_labels(pod.namespace) or {}
            ):
                return False
        return self.selector.matches(pod.labels)


@dataclass(frozen=True, slots=True)
class CounterKey:
    """Which pods a counter counts: those matching every clause."""

    clauses: tuple[Clause, ...]
    count_terminating: bool = True

    @classmethod
    def for_term(cls, term: AffinityTerm) -> CounterKey:
        return cls((Clause(term.namespaces, term.namespace_selector, term.selector),))

    @classmethod
    def for_all_terms(cls, terms: Iterable[AffinityTerm]) -> CounterKey:
        return cls(tuple(Clause(t.namespaces, t.namespace_selector, t.selector) for t in terms))

    @classmethod
    def for_spread(cls, namespace: str, selector: Selector) -> CounterKey:
        # Topology spread counts same-namespace pods that are not terminating.
        return cls((Clause(frozenset((namespace,)), None, selector),), False)

    def matches(self, pod: PodInfo, namespace_labels: NamespaceLabels) -> bool:
        if not self.count_terminating and pod.is_terminating:
            return False
        return all(clause.matches(pod, namespace_labels) for clause in self.clauses)


class _Counter:
    __slots__ = ("counts", "domains", "key", "last_used")

    def __init__(self, key: CounterKey, capacity: int) -> None:
        self.key = key
        self.counts: Int32Array = np.zeros(capacity, np.int32)
        self.last_used = 0
        # topology key -> (labels version, node set version, sums by value id
        # over live nodes): kept up to date with every matching pod change.
        self.domains: dict[str, tuple[int, int, npt.NDArray[np.float64]]] = {}

    def matches(self, pod: PodInfo, namespace_labels: NamespaceLabels) -> bool:
        return self.key.matches(pod, namespace_labels)


class CounterRegistry:
    """Counters by `CounterKey`, each a column of matching-pod counts per slot."""

    def __init__(
        self,
        capacity: int,
        assigned_pods: Callable[[], Iterable[tuple[PodInfo, int]]],
        namespace_labels: NamespaceLabels,
        *,
        limit: int = _DEFAULT_LIMIT,
        table: NodeTable | None = None,
    ) -> None:
        self.table = table
        self._capacity = capacity
        self._assigned_pods = assigned_pods
        self._namespace_labels = namespace_labels
        self._limit = limit
        self._counters: dict[CounterKey, _Counter] = {}
        self._tick = 0
        # Which counters without a namespace selector match a pod depends only
        # on its labels, namespace and whether it is terminating; pods of one
        # template share their labels dict. Memoised per dict (held, so its id
        # is not reused) until the set of counters changes.
        self._plain: list[_Counter] = []
        self._by_namespace_labels: list[_Counter] = []
        self._matching: dict[tuple[int, str, bool], tuple[Mapping[str, str], list[_Counter]]] = {}

    def __len__(self) -> int:
        return len(self._counters)

    def counts(self, key: CounterKey) -> Int32Array:
        """The per-slot count column for `key` (shared: do not modify)."""
        self._tick += 1
        counter = self._counters.get(key)
        if counter is None:
            counter = self._build(key)
        counter.last_used = self._tick
        return counter.counts

    def _build(self, key: CounterKey) -> _Counter:
        if len(self._counters) >= self._limit:
            self._evict()
        counter = _Counter(key, self._capacity)
        labels = self._namespace_labels
        counts = counter.counts
        for pod, slot in self._assigned_pods():
            if counter.matches(pod, labels):
                counts[slot] += 1
        self._counters[key] = counter
        self._counters_changed()
        return counter

    def _evict(self) -> None:
        ordered = sorted(self._counters.values(), key=lambda c: c.last_used)
        for counter in ordered[: len(ordered) // 2]:
            del self._counters[counter.key]
        self._counters_changed()

    def _counters_changed(self) -> None:
        counters = self._counters.values()
        self._plain = [
            c for c in counters if all(cl.namespace_selector is None for cl in c.key.clauses)
        ]
        self._by_namespace_labels = [
            c for c in counters if any(cl.namespace_selector is not None for cl in c.key.clauses)
        ]
        self._matching.clear()

    def _matching_counters(self, pod: PodInfo) -> list[_Counter]:
        labels = pod.labels
        memo_key = (id(labels), pod.namespace, pod.is_terminating)
        memo = self._matching.get(memo_key)
        namespace_labels = self._namespace_labels
        if memo is not None and memo[0] is labels:
            found = memo[1]
        else:
            found = [c for c in self._plain if c.matches(pod, namespace_labels)]
            if len(self._matching) >= _MATCHING_MEMO:
                self._matching.clear()
            self._matching[memo_key] = (labels, found)
        if self._by_namespace_labels:
            found = found + [
                c for c in self._by_namespace_labels if c.matches(pod, namespace_labels)
            ]
        return found

    def pod_added(self, pod: PodInfo, slot: int) -> None:
        self._change(pod, slot, 1)

    def pod_removed(self, pod: PodInfo, slot: int) -> None:
        self._change(pod, slot, -1)

    def _change(self, pod: PodInfo, slot: int, delta: int) -> None:
        for counter in self._matching_counters(pod):
            counter.counts[slot] += delta
            if counter.domains:
                self._change_domains(counter, slot, delta)

    def _change_domains(self, counter: _Counter, slot: int, delta: int) -> None:
        table = self.table
        if table is None or not table.valid[slot]:
            return
        for topology_key, (_, _, sums) in counter.domains.items():
            column = table.label_columns.get(topology_key)
            if column is None:
                continue
            value = int(table.labels[column, slot])
            if 0 < value < len(sums):
                sums[value] += delta

    def domain_counts(self, key: CounterKey, topology_key: str) -> npt.NDArray[np.float64]:
        """Matching pods per value id of `topology_key`, over live nodes that
        have the label (index 0 unused). Kept incrementally; shared, read only."""
        table = self.table
        assert table is not None, "domain counts need the node table"
        self.counts(key)
        counter = self._counters[key]
        cached = counter.domains.get(topology_key)
        if cached is not None and cached[0] == table.labels_version and cached[1] == table.version:
            return cached[2]
        column = table.label_column(topology_key)
        size = table.size
        if column is None:
            sums = np.zeros(1)
        else:
            weights = np.where(table.valid[:size], counter.counts[:size], 0)
            sums = weighted_bincount(column, weights, table.value_count(topology_key))
            sums[0] = 0.0
        counter.domains[topology_key] = (table.labels_version, table.version, sums)
        return sums

    def namespace_changed(self) -> None:
        """Namespace labels changed: counters that select namespaces by label
        are rebuilt on next use."""
        stale = [
            k for k in self._counters if any(c.namespace_selector is not None for c in k.clauses)
        ]
        for key in stale:
            del self._counters[key]

    def grow(self, capacity: int) -> None:
        for counter in self._counters.values():
            wider = np.zeros(capacity, np.int32)
            wider[: self._capacity] = counter.counts
            counter.counts = wider
        self._capacity = capacity


@dataclass(slots=True)
class GroupColumn:
    """Per slot values of one term group, and how many pods contribute."""

    values: Int64Array
    members: int = 0


class TermGroups:
    """The affinity terms assigned pods carry, grouped by equal term."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self.required_anti: dict[AffinityTerm, GroupColumn] = {}
        self.required_affinity: dict[AffinityTerm, GroupColumn] = {}
        self.preferred: dict[AffinityTerm, GroupColumn] = {}

    @property
    def empty(self) -> bool:
        return not (self.required_anti or self.required_affinity or self.preferred)

    def _change(
        self,
        groups: dict[AffinityTerm, GroupColumn],
        term: AffinityTerm,
        slot: int,
        delta: int,
        member: int,
    ) -> None:
        column = groups.get(term)
        if column is None:
            column = GroupColumn(np.zeros(self._capacity, np.int64))
            groups[term] = column
        column.values[slot] += delta
        column.members += member
        if column.members == 0:
            del groups[term]

    def pod_added(self, pod: PodInfo, slot: int) -> None:
        self._apply(pod, slot, 1)

    def pod_removed(self, pod: PodInfo, slot: int) -> None:
        self._apply(pod, slot, -1)

    def _apply(self, pod: PodInfo, slot: int, sign: int) -> None:
        rules = pod.pod_affinity
        if rules.empty:
            return
        for term in rules.required_anti_affinity:
            self._change(self.required_anti, term, slot, sign, sign)
        for term in rules.required_affinity:
            self._change(self.required_affinity, term, slot, sign, sign)
        for weighted in rules.preferred_affinity:
            self._change(self.preferred, weighted.term, slot, sign * weighted.weight, sign)
        for weighted in rules.preferred_anti_affinity:
            self._change(self.preferred, weighted.term, slot, -sign * weighted.weight, sign)

    def grow(self, capacity: int) -> None:
        for groups in (self.required_anti, self.required_affinity, self.preferred):
            for column in groups.values():
                wider = np.zeros(capacity, np.int64)
                wider[: self._capacity] = column.values
                column.values = wider
        self._capacity = capacity


def domain_sums(
    value_ids: npt.NDArray[np.int32],
    per_slot: npt.NDArray[np.integer] | npt.NDArray[np.floating],
    value_count: int,
    include: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.float64]:
    """Sum of `per_slot` by topology value id (index 0 = nodes without the
    label, which callers ignore). `include` masks which slots count."""
    size = len(value_ids)
    weights = per_slot[:size]
    if include is not None:
        weights = np.where(include, weights, 0)
    return weighted_bincount(value_ids, weights, value_count)


def weighted_bincount(
    ids: npt.NDArray[np.int32], weights: npt.NDArray[Any], minlength: int
) -> npt.NDArray[np.float64]:
    """np.bincount with weights (always float64), typed."""
    sums: npt.NDArray[np.float64] = np.asarray(
        np.bincount(ids, weights=weights, minlength=minlength), dtype=np.float64
    )
    return sums
