"""PodTopologySpread: DoNotSchedule constraints filter, ScheduleAnyway
constraints score (weight 2), with Kubernetes' semantics:

* Filter: on a node with the topology label, `matching pods in its domain +
  (1 if the pod matches its own selector) - global minimum <= maxSkew`, where
  domains and counts come from nodes that have every constraint's topology key
  and pass the inclusion policies (nodeAffinityPolicy Honor by default,
  nodeTaintsPolicy Ignore by default); with fewer domains than `minDomains`
  the minimum is 0. A node without the label fails as Unresolvable.
  Terminating pods and pods of other namespaces are not counted.
* Score: per constraint `count * log(domains + 2) + maxSkew - 1` summed and
  rounded; nodes lacking a key are ignored (scored 0) unless only system
  defaults apply; normalised so fewer matching pods scores higher.
* Pods without constraints get the cluster defaults (`defaultingType: System`:
  hostname maxSkew 3 and zone maxSkew 5, ScheduleAnyway) over the selector of
  the Services, ReplicaSets and StatefulSets that own or select them.

Counts by domain are one bincount over the per-node counter of matching pods.

Neighbours: `cache.counters`, `controllers.scheduler.affinity.SpreadConstraint`,
`handle.Listers` (for the default selector).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.affinity import SpreadConstraint
from controllers.scheduler.cache.counters import CounterKey, weighted_bincount
from controllers.scheduler.cache.snapshot import HARD_EFFECTS, NodeTable
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
from controllers.scheduler.plugins.helpers import MAX_NODE_SCORE
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Node, Pod
from engine.selectors import Selector, from_label_selector, selector_from_set

__all__ = [
    "REASON_CONSTRAINTS",
    "REASON_MISSING_LABEL",
    "SYSTEM_DEFAULT_CONSTRAINTS",
    "PodTopologySpread",
]

REASON_CONSTRAINTS: Final = "node(s) didn't match pod topology spread constraints"
REASON_MISSING_LABEL: Final = (
    "node(s) didn't match pod topology spread constraints (missing required label)"
)
HOSTNAME: Final = "kubernetes.io/hostname"
ZONE: Final = "topology.kubernetes.io/zone"
SYSTEM_DEFAULT_CONSTRAINTS: Final = (
    SpreadConstraint(3, HOSTNAME, "ScheduleAnyway", Selector.empty()),
    SpreadConstraint(5, ZONE, "ScheduleAnyway", Selector.empty()),
)
_FILTER_KEY: Final = "PreFilterPodTopologySpread"
_DEFAULTS_MEMO: Final = "PodTopologySpread/defaults"
_SCORE_KEY: Final = "PreScorePodTopologySpread"
FloatArray = npt.NDArray[np.float64]


@dataclass(slots=True)
class _Domains:
    constraint: SpreadConstraint
    eligible: npt.NDArray[np.bool_]
    counts: FloatArray
    present: npt.NDArray[np.bool_]
    min_match: float
    self_match: int

    def clone(self) -> _Domains:
        return replace(self, counts=self.counts.copy())

    def recompute_min(self) -> None:
        c = self.constraint
        domains = int(self.present.sum())
        if domains < c.min_domains or domains == 0:
            self.min_match = 0.0
        else:
            self.min_match = float(self.counts[self.present].min())


@dataclass(slots=True)
class _FilterState:
    domains: list[_Domains]

    def clone(self) -> _FilterState:
        return _FilterState([d.clone() for d in self.domains])


@dataclass(frozen=True, slots=True)
class _ScoreState:
    constraints: tuple[SpreadConstraint, ...]
    weights: tuple[float, ...]
    domain_counts: tuple[FloatArray | None, ...]
    require_all: bool

    def clone(self) -> _ScoreState:
        return self


class PodTopologySpread:
    name: Final = "PodTopologySpread"
    default_weight: Final = 2

    def __init__(self, handle: Handle, args: Mapping[str, Any] | None) -> None:
        self.handle = handle
        self.cache = handle.cache
        self.table: NodeTable = handle.table
        args = args or {}
        self.defaulting = args.get("defaultingType", "System")
        if self.defaulting not in ("System", "List"):
            raise ValueError("PodTopologySpread: defaultingType must be System or List")
        defaults = args.get("defaultConstraints") or []
        if self.defaulting == "System" and defaults:
            raise ValueError("PodTopologySpread: defaultConstraints need defaultingType List")
        self.default_constraints = (
            SYSTEM_DEFAULT_CONSTRAINTS
            if self.defaulting == "System"
            else tuple(
                SpreadConstraint(
                    int(d["maxSkew"]),
                    d["topologyKey"],
                    d["whenUnsatisfiable"],
                    Selector.empty(),
                )
                for d in defaults
            )
        )
        self._shared: dict[
            tuple[str, str, tuple[tuple[str, str], ...]],
            tuple[tuple[SpreadConstraint, ...], bool],
        ] = {}
        self._shared_version = -1

    # -- constraints -----------------------------------------------------------------------

    def constraints_for(self, pod: PodInfo) -> tuple[SpreadConstraint, ...]:
        """The constraints this plugin applies to `pod` (its own or the defaults)."""
        return self._constraints(pod)[0]

    def _constraints(self, pod: PodInfo) -> tuple[tuple[SpreadConstraint, ...], bool]:
        """(constraints, system defaulted). Defaults are memoised on the pod until
        a Service, ReplicaSet or StatefulSet changes."""
        if pod.spread:
            return pod.spread, False
        if not self.default_constraints:
            return (), False
        version = self.handle.listers.workloads_version()
        memo = pod.extra.get(_DEFAULTS_MEMO)
        if memo is not None and memo[0] == version:
            result: tuple[tuple[SpreadConstraint, ...], bool] = memo[1]
            return result
        if self._shared_version != version:
            self._shared_version = version
            self._shared.clear()
        # Pods of one owner with the same labels get the same defaults: computing
        # them scans the namespace's Services and workloads, once per such group.
        owner = pod.pod.metadata.controller_ref()
        group = (
            pod.namespace,
            owner.uid if owner is not None else "",
            tuple(sorted(pod.labels.items())),
        )
        shared = self._shared.get(group)
        if shared is None:
            selector = self._default_selector(pod)
            if selector.is_empty():
                shared = ((), False)
            else:
                shared = (
                    tuple(replace(c, selector=selector) for c in self.default_constraints),
                    self.defaulting == "System",
                )
            self._shared[group] = shared
        pod.extra[_DEFAULTS_MEMO] = (version, shared)
        return shared

    def _default_selector(self, pod: PodInfo) -> Selector:
        listers = self.handle.listers
        if listers.workloads_version() == 0:
            return Selector.empty()  # no Service, ReplicaSet or StatefulSet seen yet
        labels: dict[str, str] = {}
        for service in listers.services(pod.namespace):
            wanted = service.spec.selector
            if wanted and all(pod.labels.get(k) == v for k, v in wanted.items()):
                labels.update(wanted)
        selector = selector_from_set(labels)
        owner = pod.pod.metadata.controller_ref()
        if owner is None:
            return selector
        if owner.kind == "ReplicaSet" and owner.api_version.startswith("apps/"):
            for rs in listers.replica_sets(pod.namespace):
                if rs.metadata.name == owner.name:
                    selector = selector.add(*from_label_selector(rs.spec.selector).requirements)
        elif owner.kind == "StatefulSet" and owner.api_version.startswith("apps/"):
            for ss in listers.stateful_sets(pod.namespace):
                if ss.metadata.name == owner.name:
                    selector = selector.add(*from_label_selector(ss.spec.selector).requirements)
        return selector

    def _policy_masks(
        self, pod: PodInfo, constraints: tuple[SpreadConstraint, ...]
    ) -> tuple[npt.NDArray[np.bool_] | None, npt.NDArray[np.bool_] | None]:
        table = self.table
        affinity = None
        if pod.node_affinity.has_required and any(c.honor_node_affinity for c in constraints):
            affinity = table.match_node_affinity(pod.node_affinity)
        taints = None
        if table.hard_taint_nodes and any(c.honor_node_taints for c in constraints):
            bits = table.untolerated_bits(pod.tolerations, HARD_EFFECTS)
            taints = np.ones(table.size, np.bool_)
            for i, word in enumerate(bits.tolist()):
                if word:
                    taints &= (table.taint_words[i, : table.size] & np.uint64(word)) == 0
        return affinity, taints

    def _column(self, key: str) -> npt.NDArray[np.int32]:
        column = self.table.label_column(key)
        return column if column is not None else np.zeros(self.table.size, np.int32)

    def _counts(self, pod: PodInfo, c: SpreadConstraint) -> npt.NDArray[np.int32]:
        return self.cache.counters.counts(CounterKey.for_spread(pod.namespace, c.selector))

    def _domain_counts(self, pod: PodInfo, c: SpreadConstraint) -> FloatArray:
        return self.cache.counters.domain_counts(
            CounterKey.for_spread(pod.namespace, c.selector), c.topology_key
        )

    def _simple_inclusion(
        self,
        pod: PodInfo,
        constraints: tuple[SpreadConstraint, ...],
        require_all: bool = True,
    ) -> bool:
        """Whether the nodes counted are simply the live nodes with the label:
        no inclusion policy narrows them, and when a node must have every key
        to count, every live node has every key (or there is only one)."""
        table = self.table
        if pod.node_affinity.has_required and any(c.honor_node_affinity for c in constraints):
            return False
        if table.hard_taint_nodes and any(c.honor_node_taints for c in constraints):
            return False
        keys = {c.topology_key for c in constraints}
        if not require_all or len(keys) == 1:
            return True
        return all(int(table.nodes_per_value(k)[0]) == 0 for k in keys)

    # -- Filter --------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        constraints, _ = self._constraints(pod)
        hard = tuple(c for c in constraints if c.hard)
        if not hard:
            return Status.skip()
        table = self.table
        size = table.size
        has_all = table.valid[:size].copy()
        for c in hard:
            has_all &= self._column(c.topology_key) != 0
        affinity, taints = self._policy_masks(pod, hard)
        simple = self._simple_inclusion(pod, hard)
        result = []
        for c in hard:
            eligible = has_all
            if c.honor_node_affinity and affinity is not None:
                eligible = eligible & affinity
            if c.honor_node_taints and taints is not None:
                eligible = eligible & taints
            if simple:
                # Every live node with the label counts: incremental totals.
                counts = self._domain_counts(pod, c).copy()
                present = table.nodes_per_value(c.topology_key) > 0
            else:
                column = self._column(c.topology_key)
                values = table.value_count(c.topology_key)
                per_slot = self._counts(pod, c)[:size]
                counts = weighted_bincount(column, np.where(eligible, per_slot, 0), values)
                present = weighted_bincount(column, eligible, values) > 0
            present[0] = False
            counts[0] = 0.0
            domains = _Domains(
                c, eligible, counts, present, 0.0, 1 if c.selector.matches(pod.labels) else 0
            )
            domains.recompute_min()
            result.append(domains)
        state.write(_FILTER_KEY, _FilterState(result))
        return None

    def _parts(self, s: _FilterState, window: Window) -> tuple[BoolMask, BoolMask]:
        """(has every topology label, within max skew) per window slot."""
        has = np.ones(len(window), np.bool_)
        within = np.ones(len(window), np.bool_)
        for d in s.domains:
            ids = window.take(self._column(d.constraint.topology_key))
            has &= ids != 0
            skew = d.counts[ids] + d.self_match - d.min_match
            within &= skew <= d.constraint.max_skew
        return has, within

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        has, within = self._parts(state.read(_FILTER_KEY), window)
        return has & within

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        has, _ = self._parts(state.read(_FILTER_KEY), Window.of(slots))
        codes = np.where(has, 1, 0).astype(np.intp)
        return codes, [
            Status.unresolvable(REASON_MISSING_LABEL),
            Status.unschedulable(REASON_CONSTRAINTS),
        ]

    def _update(
        self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int, sign: int
    ) -> None:
        s: _FilterState | None = state.get(_FILTER_KEY)
        if s is None or other.namespace != pod.namespace or other.is_terminating:
            return
        for d in s.domains:
            if slot >= len(d.eligible) or not d.eligible[slot]:
                continue
            if not d.constraint.selector.matches(other.labels):
                continue
            value = int(self._column(d.constraint.topology_key)[slot])
            if value:
                d.counts[value] += sign
                d.recompute_min()

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        self._update(state, pod, other, slot, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        self._update(state, pod, other, slot, -1)

    # -- Score ------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        constraints, system = self._constraints(pod)
        soft = tuple(c for c in constraints if not c.hard)
        if not soft:
            return Status.skip()
        require_all = bool(pod.spread) or not system
        table = self.table
        size = table.size
        columns = [self._column(c.topology_key) for c in soft]
        ignored = self._ignored(columns, slots) if require_all else np.zeros(len(slots), np.bool_)
        kept = ~ignored
        weights = []
        for c, column in zip(soft, columns, strict=True):
            ids = column[slots]
            if c.topology_key == HOSTNAME:
                domains = int(kept.sum())
            else:
                seen = np.bincount(ids[kept], minlength=2)
                domains = int(np.count_nonzero(seen[1:]))
            weights.append(math.log(domains + 2))
        include = table.valid[:size].copy()
        if require_all:
            for column in columns:
                include &= column != 0
        affinity, taints = self._policy_masks(pod, soft)
        simple = self._simple_inclusion(pod, soft, require_all)
        domain_counts: list[FloatArray | None] = []
        for c, column in zip(soft, columns, strict=True):
            if c.topology_key == HOSTNAME:
                domain_counts.append(None)
                continue
            if simple:
                domain_counts.append(self._domain_counts(pod, c))
                continue
            counted = include
            if c.honor_node_affinity and affinity is not None:
                counted = counted & affinity
            if c.honor_node_taints and taints is not None:
                counted = counted & taints
            per_slot = self._counts(pod, c)[:size]
            sums = weighted_bincount(
                column, np.where(counted, per_slot, 0), table.value_count(c.topology_key)
            )
            domain_counts.append(sums)
        state.write(
            _SCORE_KEY, _ScoreState(soft, tuple(weights), tuple(domain_counts), require_all)
        )
        return None

    def _ignored(self, columns: list[npt.NDArray[np.int32]], slots: Slots) -> BoolMask:
        ignored = np.zeros(len(slots), np.bool_)
        for column in columns:
            ignored |= column[slots] == 0
        return ignored

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        s: _ScoreState = state.read(_SCORE_KEY)
        total = np.zeros(len(slots))
        for c, weight, domains in zip(s.constraints, s.weights, s.domain_counts, strict=True):
            ids = self._column(c.topology_key)[slots]
            if domains is None:
                count = self._counts(pod, c)[slots].astype(np.float64)
            else:
                count = domains[ids]
            total += np.where(ids != 0, count * weight + (c.max_skew - 1), 0.0)
        raw = np.floor(total + 0.5).astype(np.int64)
        if s.require_all:
            columns = [self._column(c.topology_key) for c in s.constraints]
            ignored = self._ignored(columns, slots)
            raw = np.where(ignored, -1, raw)  # marks ignored nodes for normalisation
        return raw

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        ignored = scores < 0
        valid = scores[~ignored]
        if not len(valid):
            return np.zeros(len(scores), np.int64)
        low, high = int(valid.min()), int(valid.max())
        if high == 0:
            out = np.full(len(scores), MAX_NODE_SCORE, np.int64)
        else:
            out = MAX_NODE_SCORE * (high + low - scores) // high
        return np.where(ignored, 0, out)

    # -- queueing hints ---------------------------------------------------------------------

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(
                ClusterEvent(ASSIGNED_POD, Action.ADD | Action.DELETE | Action.UPDATE_POD_LABEL),
                self._pod_hint,
            ),
            EventRegistration(
                ClusterEvent(
                    NODE,
                    Action.ADD
                    | Action.DELETE
                    | Action.UPDATE_NODE_LABEL
                    | Action.UPDATE_NODE_TAINT,
                ),
                self._node_hint,
            ),
        ]

    def _pod_hint(self, pod: PodInfo, old: Pod | None, new: Pod | None) -> bool:
        constraints, _ = self._constraints(pod)
        for other in (old, new):
            if other is None or other.metadata.namespace != pod.namespace:
                continue
            if any(c.selector.matches(other.metadata.labels) for c in constraints):
                return True
        return False

    def _node_hint(self, pod: PodInfo, old: Node | None, new: Node | None) -> bool:
        constraints, _ = self._constraints(pod)
        for node in (old, new):
            if node is not None and all(
                c.topology_key in node.metadata.labels for c in constraints
            ):
                return True
        return False


def new(args: PluginArgs, handle: Handle) -> Any:
    return PodTopologySpread(handle, args)
