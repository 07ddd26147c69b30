"""NodeResourcesFit: Filter checks that the pod's requests fit each node's free
allocatable (cpu, memory, ephemeral-storage, extended resources, and one pod
slot), as Kubernetes' fitsRequest; Score applies the configured strategy
(LeastAllocated by default, MostAllocated, RequestedToCapacityRatio), weight 1.

Filter is one comparison per requested resource against the node table's
`free` matrix. Reasons are Kubernetes': "Too many pods", "Insufficient cpu",
"Insufficient memory", "Insufficient <resource>"; the status is
UnschedulableAndUnresolvable when the request exceeds the node's whole
allocatable (no preemption can help), else Unschedulable. Pods nominated to a
node with at least this pod's priority keep their share of it.

Scoring uses the non-zero requests for cpu and memory (100m / 200Mi for a
container that names none), like kube-scheduler.

Args (KubeSchedulerConfiguration spelling): `scoringStrategy: {type,
resources: [{name, weight}], requestedToCapacityRatio: {shape: [{utilization,
score}]}}`, `ignoredResources`, `ignoredResourceGroups`.

Neighbours: `plugins.resource_scoring` (the formulas), `cache.snapshot`
(columns), `controllers.scheduler.nominator`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cache.derived import DerivedColumns
from controllers.scheduler.cache.snapshot import CPU, MEMORY, PODS, NodeTable
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
from controllers.scheduler.plugins.resource_scoring import (
    least_allocated,
    least_allocated_one,
    most_allocated,
    most_allocated_one,
    requested_to_capacity_ratio,
    requested_to_capacity_ratio_one,
)
from controllers.scheduler.podinfo import PodInfo, Requests
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Node, Pod

__all__ = ["FitArgs", "NodeResourcesFit", "fits_node", "insufficient_resources"]

STRATEGIES: Final = ("LeastAllocated", "MostAllocated", "RequestedToCapacityRatio")
DEFAULT_SHAPE: Final = ((0, 10), (100, 0))
_KEY: Final = "PreFilterNodeResourcesFit"
_RESERVED_KEY: Final = "NodeResourcesFit/nominated"
_NATIVE: Final = frozenset({"cpu", "memory", "ephemeral-storage", "pods"})
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class FitArgs:
    strategy: str = "LeastAllocated"
    resources: tuple[tuple[str, int], ...] = (("cpu", 1), ("memory", 1))
    shape: tuple[tuple[int, int], ...] = DEFAULT_SHAPE
    ignored_resources: frozenset[str] = frozenset()
    ignored_groups: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, args: Mapping[str, Any] | None) -> FitArgs:
        if not args:
            return cls()
        strategy = dict(args.get("scoringStrategy") or {})
        kind = strategy.get("type", "LeastAllocated")
        if kind not in STRATEGIES:
            raise ValueError(
                f"NodeResourcesFit: scoring strategy {kind!r} is not one of {STRATEGIES}"
            )
        # kube-scheduler's defaulting turns an unset or 0 weight into 1.
        resources = tuple(
            (r["name"], int(r.get("weight") or 1)) for r in strategy.get("resources") or []
        ) or (("cpu", 1), ("memory", 1))
        for name, weight in resources:
            if not 1 <= weight <= 100:
                raise ValueError(
                    f"NodeResourcesFit: weight of {name!r} must be 1..100, got {weight}"
                )
        shape_points = (strategy.get("requestedToCapacityRatio") or {}).get("shape") or []
        shape = tuple((int(p["utilization"]), int(p["score"])) for p in shape_points)
        if kind == "RequestedToCapacityRatio":
            if not shape:
                raise ValueError("NodeResourcesFit: RequestedToCapacityRatio needs a shape")
            utilizations = [u for u, _ in shape]
            if utilizations != sorted(set(utilizations)):
                raise ValueError("NodeResourcesFit: shape utilizations must increase strictly")
            if any(not 0 <= u <= 100 or not 0 <= s <= 10 for u, s in shape):
                raise ValueError("NodeResourcesFit: shape needs utilization 0..100, score 0..10")
        return cls(
            kind,
            resources,
            shape or DEFAULT_SHAPE,
            frozenset(args.get("ignoredResources") or ()),
            frozenset(args.get("ignoredResourceGroups") or ()),
        )


@dataclass(frozen=True, slots=True)
class _Reserved:
    """What nominated pods keep from this pod: the nominator's
    [cpu, memory, pods] x slot matrix when it tracks every nominated pod, else
    by slot and as arrays (slots, [row, entry])."""

    matrix: npt.NDArray[np.int64] | None
    by_slot: dict[int, dict[int, int]]
    slots: npt.NDArray[np.int64]
    amounts: npt.NDArray[np.int64]

    def clone(self) -> _Reserved:
        return self

    def for_slot(self, slot: int) -> dict[int, int]:
        matrix = self.matrix
        if matrix is None:
            return self.by_slot.get(slot, {})
        if slot >= matrix.shape[1]:
            return {}
        cpu, memory, pods = matrix[:, slot].tolist()
        return {row: value for row, value in ((CPU, cpu), (MEMORY, memory), (PODS, pods)) if value}


@dataclass(frozen=True, slots=True)
class _Checks:
    """The (row, amount, name) triples this pod's Filter compares."""

    rows: tuple[tuple[int, int, str], ...]

    def clone(self) -> _Checks:
        return self


def insufficient_resources(requests: Requests, free: Mapping[str, int]) -> list[str]:
    """Reasons the request does not fit `free` (resource -> amount, with
    'pods' the free pod slots), in Kubernetes' order."""
    reasons = []
    if free.get("pods", 0) < 1:
        reasons.append("Too many pods")
    if requests.is_zero:
        return reasons
    for name, amount in requests.items():
        if amount > free.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def fits_node(requests: Requests, node: Node) -> bool:
    """Would the pod fit this node if it were empty? (the queueing hint)"""
    allocatable = node.status.allocatable or node.status.capacity
    free = {
        name: (q.milli_value() if name == "cpu" else q.value()) for name, q in allocatable.items()
    }
    return not insufficient_resources(requests, free)


class NodeResourcesFit:
    name: Final = "NodeResourcesFit"
    default_weight: Final = 1

    def __init__(self, handle: Handle, args: FitArgs) -> None:
        self.handle = handle
        self.table: NodeTable = handle.table
        self.args = args
        self._weights = [w for _, w in args.resources]
        self._columns = DerivedColumns(self.table)
        self._checks: dict[Requests, _Checks] = {}
        self._amounts_memo: dict[tuple[Requests, int], tuple[tuple[int, int | None], ...]] = {}

    def _ignored(self, resource: str) -> bool:
        if resource in _NATIVE or "/" not in resource:
            return False
        return (
            resource in self.args.ignored_resources
            or resource.split("/", 1)[0] in self.args.ignored_groups
        )

    # -- Filter ------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        requests = pod.requests
        checks = self._checks.get(requests)
        if checks is None:
            table = self.table
            checks = _Checks(
                tuple(
                    (table.resource_row(name), amount, name)
                    for name, amount in requests.items()
                    if not self._ignored(name)
                )
            )
            if len(self._checks) > 1024:
                self._checks.clear()
            self._checks[requests] = checks
        state.write(_KEY, checks)
        return None

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        checks: _Checks = state.read(_KEY)
        fits = self._columns.get(checks.rows, self._fit_vector, self._fit_one, checks)
        mask: BoolMask = window.take(fits)
        if self.handle.nominator:
            mask = mask.copy()
            self._apply_nominated(state, pod, checks, window, mask)
        return mask

    def _fit_vector(self, checks: _Checks) -> BoolMask:
        free = self.table.free[:, : self.table.size]
        mask: BoolMask = free[PODS] >= 1
        for row, amount, _ in checks.rows:
            mask &= free[row] >= amount
        return mask

    def _fit_one(self, checks: _Checks, slot: int) -> bool:
        free = self.table.free
        if free[PODS, slot] < 1:
            return False
        return all(free[row, slot] >= amount for row, amount, _ in checks.rows)

    def checked_rows(self, state: CycleState) -> tuple[tuple[int, int, str], ...]:
        """(table row, amount, resource) this pod's Filter compares (after PreFilter)."""
        checks: _Checks = state.read(_KEY)
        return checks.rows

    def nominated_reserve(self, state: CycleState, pod: PodInfo, slot: int) -> dict[int, int]:
        """row -> amount that pods nominated to this node keep from `pod`."""
        if not self.handle.nominator:
            return {}
        return self._reserved(state, pod).for_slot(slot)

    def nominated_matrix(self, state: CycleState, pod: PodInfo) -> npt.NDArray[np.int64] | None:
        """[cpu, memory, pods] x slot kept from `pod` by nominated pods, when the
        nominator tracks them all that way (else None: use `nominated_reserve`)."""
        if not self.handle.nominator:
            return None
        return self._reserved(state, pod).matrix

    def nominated_reserve_all(self, state: CycleState, pod: PodInfo) -> dict[int, dict[int, int]]:
        """slot -> row -> amount nominated pods keep from `pod`, for every node."""
        if not self.handle.nominator:
            return {}
        reserved = self._reserved(state, pod)
        if reserved.matrix is None:
            return reserved.by_slot
        touched = np.flatnonzero(reserved.matrix.any(axis=0)).tolist()
        return {slot: reserved.for_slot(slot) for slot in touched}

    def _reserved(self, state: CycleState, pod: PodInfo) -> _Reserved:
        """Computed once per scheduling cycle."""
        cached: _Reserved | None = state.get(_RESERVED_KEY)
        if cached is not None:
            return cached
        nominator = self.handle.nominator
        if nominator.tracks_all:
            empty = np.zeros(0, np.int64)
            result = _Reserved(nominator.reserved_for(pod), {}, empty, np.zeros((0, 0), np.int64))
            state.write(_RESERVED_KEY, result)
            return result
        by_slot = self._compute_nominated(pod)
        rows = len(self.table.resource_names)
        slots = np.fromiter(by_slot, np.int64, len(by_slot))
        amounts = np.zeros((rows, len(by_slot)), np.int64)
        for i, reserved in enumerate(by_slot.values()):
            for row, amount in reserved.items():
                amounts[row, i] = amount
        result = _Reserved(None, by_slot, slots, amounts)
        state.write(_RESERVED_KEY, result)
        return result

    def _compute_nominated(self, pod: PodInfo) -> dict[int, dict[int, int]]:
        nominator = self.handle.nominator
        table = self.table
        extra: dict[int, dict[int, int]] = {}
        for node in nominator.nodes():
            slot = table.slot_of.get(node)
            if slot is None:
                continue
            for other in nominator.pods_on(node):
                if other.key == pod.key or other.priority < pod.priority:
                    continue
                rows = extra.setdefault(slot, {})
                rows[PODS] = rows.get(PODS, 0) + 1
                for name, amount in other.requests.items():
                    row = table.resource_row(name)
                    rows[row] = rows.get(row, 0) + amount
        return extra

    def _apply_nominated(
        self, state: CycleState, pod: PodInfo, checks: _Checks, window: Window, mask: BoolMask
    ) -> None:
        reserved = self._reserved(state, pod)
        matrix = reserved.matrix
        if matrix is not None:
            kept = window.take(matrix)
            free = window.take(self.table.free)
            ok = free[PODS] - kept[2] >= 1
            for row, amount, _ in checks.rows:
                if row == CPU:
                    ok &= free[CPU] - kept[0] >= amount
                elif row == MEMORY:
                    ok &= free[MEMORY] - kept[1] >= amount
            mask &= ok
            return
        if not len(reserved.slots):
            return
        if window.contiguous:
            inside = (reserved.slots >= window.start) & (reserved.slots < window.stop)
            slots = reserved.slots[inside]
            positions = slots - window.start
            amounts = reserved.amounts[:, inside]
        else:
            where = {slot: i for i, slot in enumerate(window.slots.tolist())}
            pairs = [
                (where[slot], i) for i, slot in enumerate(reserved.slots.tolist()) if slot in where
            ]
            if not pairs:
                return
            positions = np.array([p for p, _ in pairs], np.int64)
            picked = np.array([i for _, i in pairs], np.int64)
            slots = reserved.slots[picked]
            amounts = reserved.amounts[:, picked]
        if not len(slots):
            return
        free = self.table.free[: amounts.shape[0], slots] - amounts
        ok = free[PODS] >= 1
        for row, amount, _ in checks.rows:
            if row < free.shape[0]:
                ok &= free[row] >= amount
        mask[positions[~ok]] = False

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        checks: _Checks = state.read(_KEY)
        table = self.table
        free = table.free[:, slots].copy()
        if self.handle.nominator:
            reserved = self._reserved(state, pod)
            if reserved.matrix is not None:
                kept = reserved.matrix[:, slots]
                free[CPU] -= kept[0]
                free[MEMORY] -= kept[1]
                free[PODS] -= kept[2]
            else:
                for slot, rows in reserved.by_slot.items():
                    for position in np.flatnonzero(slots == slot).tolist():
                        for row, amount in rows.items():
                            free[row, position] -= amount
        allocatable = table.allocatable[:, slots]
        bits = np.zeros(len(slots), np.int64)
        fatal = np.zeros(len(slots), np.bool_)
        bits |= (free[PODS] < 1).astype(np.int64)
        reasons = ["Too many pods"]
        for i, (row, amount, name) in enumerate(checks.rows, start=1):
            short = free[row] < amount
            bits |= short.astype(np.int64) << i
            fatal |= allocatable[row] < amount
            reasons.append(f"Insufficient {name}")
        keyed = bits * 2 + fatal
        unique, codes = np.unique(keyed, return_inverse=True)
        statuses = []
        for value in unique.tolist():
            flags, unresolvable = divmod(value, 2)
            texts = tuple(r for i, r in enumerate(reasons) if flags >> i & 1)
            code = Status.unresolvable if unresolvable else Status.unschedulable
            statuses.append(code(*texts))
        return codes.astype(np.intp), statuses

    # -- Score ------------------------------------------------------------------------------

    def _pod_amounts(self, pod: PodInfo) -> tuple[tuple[int, int | None], ...]:
        """Per configured resource: (pod request, table row), row None when the
        resource is not scored for this pod (so it is left out, as allocatable 0)."""
        table = self.table
        out: list[tuple[int, int | None]] = []
        for name, _ in self.args.resources:
            if name == "cpu":
                out.append((pod.requests.nonzero_cpu, CPU))
            elif name == "memory":
                out.append((pod.requests.nonzero_memory, MEMORY))
            else:
                amount = pod.requests.get(name)
                row = table.resources.get(name)
                skip = row is None or (amount == 0 and name != "ephemeral-storage")
                out.append((amount, None if skip else row))
        return tuple(out)

    def _score_vector(self, amounts: tuple[tuple[int, int | None], ...]) -> IntArray:
        table = self.table
        size = table.size
        requested = np.zeros((len(amounts), size), np.int64)
        allocatable = np.zeros((len(amounts), size), np.int64)
        for i, (amount, row) in enumerate(amounts):
            if row is None:
                continue
            used = (
                table.nonzero[row, :size] if row in (CPU, MEMORY) else table.requested[row, :size]
            )
            requested[i] = used + amount
            allocatable[i] = table.allocatable[row, :size]
        strategy = self.args.strategy
        if strategy == "LeastAllocated":
            return least_allocated(requested, allocatable, self._weights)
        if strategy == "MostAllocated":
            return most_allocated(requested, allocatable, self._weights)
        return requested_to_capacity_ratio(requested, allocatable, self._weights, self.args.shape)

    def _score_one(self, amounts: tuple[tuple[int, int | None], ...], slot: int) -> int:
        table = self.table
        requested = []
        allocatable = []
        for amount, row in amounts:
            if row is None:
                requested.append(0)
                allocatable.append(0)
                continue
            used = table.nonzero[row, slot] if row in (CPU, MEMORY) else table.requested[row, slot]
            requested.append(int(used) + amount)
            allocatable.append(int(table.allocatable[row, slot]))
        strategy = self.args.strategy
        if strategy == "LeastAllocated":
            return least_allocated_one(requested, allocatable, self._weights)
        if strategy == "MostAllocated":
            return most_allocated_one(requested, allocatable, self._weights)
        return requested_to_capacity_ratio_one(
            requested, allocatable, self._weights, self.args.shape
        )

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        key = (pod.requests, len(self.table.resource_names))
        amounts = self._amounts_memo.get(key)
        if amounts is None:
            amounts = self._pod_amounts(pod)
            if len(self._amounts_memo) > 1024:
                self._amounts_memo.clear()
            self._amounts_memo[key] = amounts
        column = self._columns.get(("score", amounts), self._score_vector, self._score_one, amounts)
        scores: IntArray = column[slots]
        return scores

    # -- queueing hints ---------------------------------------------------------------------

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(
                ClusterEvent(ASSIGNED_POD, Action.DELETE | Action.UPDATE_POD_SCALE_DOWN),
                self._pod_hint,
            ),
            EventRegistration(
                ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_ALLOCATABLE), _node_hint
            ),
        ]

    def _pod_hint(self, pod: PodInfo, old: Pod | None, new: Pod | None) -> bool:
        """A pod left a node (or shrank): it may help only if this pod could fit
        that node at all."""
        changed = old if old is not None else new
        if changed is None or not changed.spec.node_name:
            return False
        node = self.handle.cache.node(changed.spec.node_name)
        return node is None or fits_node(pod.requests, node)


def _node_hint(pod: PodInfo, old: Node | None, new: Node | None) -> bool:
    if new is None or not fits_node(pod.requests, new):
        return False
    if old is None:
        return True
    old_alloc = old.status.allocatable or old.status.capacity
    new_alloc = new.status.allocatable or new.status.capacity
    wanted = ["pods", *(name for name, _ in pod.requests.items())]
    return any(
        name in new_alloc and (name not in old_alloc or new_alloc[name] > old_alloc[name])
        for name in wanted
    )


def new(args: PluginArgs, handle: Handle) -> Any:
    return NodeResourcesFit(handle, FitArgs.parse(args))
