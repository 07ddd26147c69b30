"""The columnar node snapshot: every node's scheduling-relevant state as numpy
columns indexed by a stable slot number, updated in place on each Node or pod
change (never rebuilt per pod).

Layout (slots `0..size-1`; `valid[slot]` is False for a free slot or for a
"ghost" that still holds pods of a deleted node, as kube-scheduler keeps them):

* resources: `allocatable`, `requested` and `free` (= allocatable - requested)
  are int64 `[resource, slot]` matrices; rows are cpu (millicores), memory,
  pods (the pod count), ephemeral-storage, then extended resources as they
  appear. `nonzero` holds cpu and memory with the scoring defaults.
* labels: one int32 column per label key holding a value id (0 = no label),
  with a per-key dictionary; selector and affinity checks compare ids.
* taints: every distinct (key, value, effect) gets a bit; `taint_words` holds
  each node's taints as uint64 bitsets, so toleration checks are AND + compare.
* host ports: per (protocol, port) counts of use on any IP, on 0.0.0.0 and per
  IP; images: per image a presence column and its size.

Contract: reads never change state; writers are the cache (`set_node`,
`remove_node`, `add_pod`, `remove_pod`). Slot numbers of live nodes never
change, so columns elsewhere (the cache's per-node counters) can be indexed by
slot; `on_grow` callbacks let them follow capacity changes.

Neighbours: `controllers.scheduler.cache.cache` (the writer),
`controllers.scheduler.framework` (windows over slots), the plugins (readers).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.affinity import NodeAffinitySpec, NodeRequirement, NodeTerm
from controllers.scheduler.cache import selection
from controllers.scheduler.podinfo import WILDCARD_IP, HostPort, Requests
from engine.api.core import Node, Toleration
from engine.api.core.placement import Taint
from engine.quantity import Quantity

__all__ = [
    "CPU",
    "EPHEMERAL",
    "HARD_EFFECTS",
    "MEMORY",
    "PODS",
    "BoolArray",
    "IntArray",
    "NodeTable",
    "PortUse",
]

CPU: Final = 0
MEMORY: Final = 1
PODS: Final = 2
EPHEMERAL: Final = 3
BASE_RESOURCES: Final = ("cpu", "memory", "pods", "ephemeral-storage")
HARD_EFFECTS: Final = frozenset({"NoSchedule", "NoExecute"})
_SOFT_EFFECT: Final = "PreferNoSchedule"

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.int64]
TaintKey = tuple[str, str, str]


@dataclass(slots=True)
class PortUse:
    """Use counts of one (protocol, port) per slot."""

    any_ip: npt.NDArray[np.int32]
    wildcard: npt.NDArray[np.int32]
    by_ip: dict[str, npt.NDArray[np.int32]] = field(default_factory=dict)


@dataclass(slots=True)
class ImageColumn:
    present: BoolArray
    size: IntArray
    nodes: int = 0


def _amount(name: str, quantity: Quantity) -> int:
    return quantity.milli_value() if name == "cpu" else quantity.value()


class NodeTable:
    """Columns of node state by slot. See the module docstring."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self.size = 0
        self.count = 0
        self.valid: BoolArray = np.zeros(capacity, np.bool_)
        self.names: list[str] = []
        self.nodes: list[Node | None] = []
        self.slot_of: dict[str, int] = {}
        self._free_slots: list[int] = []
        self.resources: dict[str, int] = {name: i for i, name in enumerate(BASE_RESOURCES)}
        self.resource_names: list[str] = list(BASE_RESOURCES)
        rows = len(BASE_RESOURCES)
        self.allocatable: IntArray = np.zeros((rows, capacity), np.int64)
        self.requested: IntArray = np.zeros((rows, capacity), np.int64)
        self.free: IntArray = np.zeros((rows, capacity), np.int64)
        self._alloc_rows: dict[int, tuple[int, ...]] = {}
        """slot -> rows of its node's allocatable (the rows to reset when it changes)."""
        self.nonzero: IntArray = np.zeros((2, capacity), np.int64)
        self.unschedulable: BoolArray = np.zeros(capacity, np.bool_)
        self.unschedulable_count = 0
        self.label_columns: dict[str, int] = {}
        self.label_ids: list[dict[str, int]] = []
        self.label_values: list[list[str]] = []
        self.labels: npt.NDArray[np.int32] = np.zeros((0, capacity), np.int32)
        self.labels_version = 0
        self.numeric_cache: dict[int, tuple[int, npt.NDArray[np.float64]]] = {}
        self.value_nodes_cache: dict[str, tuple[int, int, IntArray]] = {}
        self.taint_ids: dict[TaintKey, int] = {}
        self.taints: list[Taint] = []
        self.taint_words: npt.NDArray[np.uint64] = np.zeros((0, capacity), np.uint64)
        self.taints_version = 0
        self.hard_taint_nodes = 0
        self.soft_taint_nodes = 0
        self._slot_taints: list[tuple[int, ...]] = []
        self.ports: dict[tuple[str, int], PortUse] = {}
        self.images: dict[str, ImageColumn] = {}
        self._slot_images: list[tuple[tuple[str, int], ...]] = []
        self.version = 0
        # Slots whose resource columns changed, in order: caches of values
        # derived from them (fit masks, resource scores) refresh only these.
        self._log: list[int] = []
        self._log_base = 0
        self.on_grow: list[Callable[[int], None]] = []
        self.affinity_mask_cache: dict[NodeAffinitySpec, tuple[int, int, BoolArray]] = {}

    # -- change log -----------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        """Counts changes to allocatable, requested or free (any slot)."""
        return self._log_base + len(self._log)

    def _touch(self, slot: int) -> None:
        log = self._log
        log.append(slot)
        if len(log) > 4 * self.capacity + 4096:
            half = len(log) // 2
            del log[:half]
            self._log_base += half

    def changed_since(self, version: int) -> list[int] | None:
        """Slots whose resources changed since `version` (with repeats), or None
        when that is too long ago to tell."""
        if version < self._log_base:
            return None
        return self._log[version - self._log_base :]

    # -- slots -------------------------------------------------------------------------

    def _grow(self) -> None:
        old = self.capacity
        new = old * 2

        def widen(a: npt.NDArray[np.generic]) -> npt.NDArray[np.generic]:
            out = np.zeros((*a.shape[:-1], new), a.dtype)
            out[..., :old] = a
            return out

        def widen_rows(a: IntArray) -> IntArray:
            out = np.zeros((a.shape[0], new), a.dtype)
            _copy_used_rows(a, out)
            return out

        self.valid = widen(self.valid)  # type: ignore[assignment]
        self.allocatable = widen_rows(self.allocatable)
        self.requested = widen_rows(self.requested)
        self.free = widen_rows(self.free)
        self.nonzero = widen(self.nonzero)  # type: ignore[assignment]
        self.unschedulable = widen(self.unschedulable)  # type: ignore[assignment]
        self.labels = widen(self.labels)  # type: ignore[assignment]
        self.taint_words = widen(self.taint_words)  # type: ignore[assignment]
        for use in self.ports.values():
            use.any_ip = widen(use.any_ip)  # type: ignore[assignment]
            use.wildcard = widen(use.wildcard)  # type: ignore[assignment]
            for ip, column in use.by_ip.items():
                use.by_ip[ip] = widen(column)  # type: ignore[assignment]
        for image in self.images.values():
            image.present = widen(image.present)  # type: ignore[assignment]
            image.size = widen(image.size)  # type: ignore[assignment]
        self.affinity_mask_cache.clear()
        self.capacity = new
        for callback in self.on_grow:
            callback(new)

    def _new_slot(self, name: str) -> int:
        if self._free_slots:
            slot = heapq.heappop(self._free_slots)
            self.names[slot] = name
        else:
            if self.size == self.capacity:
                self._grow()
            slot = self.size
            self.size += 1
            self.names.append(name)
            self.nodes.append(None)
            self._slot_taints.append(())
            self._slot_images.append(())
        self.slot_of[name] = slot
        return slot

    def slot_for(self, node_name: str) -> int:
        """The slot of `node_name`, creating a ghost slot (no node yet) if needed,
        so pods bound to a node the scheduler has not seen can be accounted."""
        slot = self.slot_of.get(node_name)
        return slot if slot is not None else self._new_slot(node_name)

    def _release_if_empty(self, slot: int) -> None:
        if self.nodes[slot] is None and self.requested[PODS, slot] == 0:
            del self.slot_of[self.names[slot]]
            self.names[slot] = ""
            used = np.flatnonzero(self.requested[:, slot] | self.free[:, slot])
            self.requested[used, slot] = 0
            self.nonzero[:, slot] = 0
            self.free[used, slot] = 0
            self._touch(slot)
            heapq.heappush(self._free_slots, slot)

    # -- nodes -------------------------------------------------------------------------

    def set_node(self, node: Node) -> int:
        """Add or replace a node; returns its slot."""
        name = node.metadata.name
        slot = self.slot_for(name)
        if self.nodes[slot] is None:
            self.count += 1
        self.nodes[slot] = node
        self.valid[slot] = True
        self._set_allocatable(slot, node)
        cordoned = bool(node.spec.unschedulable)
        self.unschedulable_count += int(cordoned) - int(self.unschedulable[slot])
        self.unschedulable[slot] = cordoned
        self._set_labels(slot, node.metadata.labels)
        self._set_taints(slot, node.spec.taints)
        self._set_images(slot, node)
        self.version += 1
        return slot

    def remove_node(self, name: str) -> None:
        slot = self.slot_of.get(name)
        if slot is None or self.nodes[slot] is None:
            return
        self.nodes[slot] = None
        self.count -= 1
        self.valid[slot] = False
        rows = list(self._alloc_rows.pop(slot, ()))
        self.allocatable[rows, slot] = 0
        self.free[rows, slot] = -self.requested[rows, slot]
        self._touch(slot)
        self.unschedulable_count -= int(self.unschedulable[slot])
        self.unschedulable[slot] = False
        if self.labels[:, slot].any():
            self.labels[:, slot] = 0
            self.labels_version += 1
        self._set_taints(slot, [])
        self._clear_images(slot)
        self.version += 1
        self._release_if_empty(slot)

    def resource_row(self, name: str) -> int:
        row = self.resources.get(name)
        if row is not None:
            return row
        row = len(self.resource_names)
        self.resources[name] = row
        self.resource_names.append(name)
        self.allocatable = _add_row(self.allocatable)
        self.requested = _add_row(self.requested)
        self.free = _add_row(self.free)
        return row

    def _set_allocatable(self, slot: int, node: Node) -> None:
        # Only the rows this node had or has change: a column of a table with
        # thousands of extended resources is never written whole.
        allocatable = node.status.allocatable or node.status.capacity
        amounts = {
            self.resource_row(name): _amount(name, quantity)  # may widen the matrices
            for name, quantity in allocatable.items()
        }
        old = self._alloc_rows.get(slot, ())
        rows = list(dict.fromkeys((*old, *amounts)))
        self.allocatable[rows, slot] = [amounts.get(r, 0) for r in rows]
        self.free[rows, slot] = self.allocatable[rows, slot] - self.requested[rows, slot]
        self._alloc_rows[slot] = tuple(amounts)
        self._touch(slot)

    def _set_labels(self, slot: int, labels: dict[str, str]) -> None:
        changed = False
        column_ids = self.labels[:, slot]
        for key, column in self.label_columns.items():
            value = labels.get(key)
            new_id = 0 if value is None else self._value_id(column, value)
            if column_ids[column] != new_id:
                self.labels[column, slot] = new_id
                changed = True
        for key, value in labels.items():
            if key not in self.label_columns:
                column = self._add_label_column(key)
                self.labels[column, slot] = self._value_id(column, value)
                changed = True
        if changed:
            self.labels_version += 1

    def _add_label_column(self, key: str) -> int:
        column = len(self.label_ids)
        self.label_columns[key] = column
        self.label_ids.append({})
        self.label_values.append([""])
        self.labels = np.vstack([self.labels, np.zeros((1, self.capacity), np.int32)])
        return column

    def _value_id(self, column: int, value: str) -> int:
        ids = self.label_ids[column]
        found = ids.get(value)
        if found is None:
            found = len(self.label_values[column])
            ids[value] = found
            self.label_values[column].append(value)
        return found

    def _set_taints(self, slot: int, taints: Iterable[Taint]) -> None:
        ids = []
        for taint in taints:
            key = (taint.key, taint.value or "", taint.effect)
            taint_id = self.taint_ids.get(key)
            if taint_id is None:
                taint_id = len(self.taints)
                self.taint_ids[key] = taint_id
                self.taints.append(taint)
                if taint_id // 64 >= self.taint_words.shape[0]:
                    self.taint_words = np.vstack(
                        [self.taint_words, np.zeros((1, self.capacity), np.uint64)]
                    )
                self.taints_version += 1
            ids.append(taint_id)
        new = tuple(sorted(set(ids)))
        old = self._slot_taints[slot]
        if new == old:
            return
        self.hard_taint_nodes -= self._has_effect(old, hard=True)
        self.soft_taint_nodes -= self._has_effect(old, hard=False)
        self.hard_taint_nodes += self._has_effect(new, hard=True)
        self.soft_taint_nodes += self._has_effect(new, hard=False)
        self._slot_taints[slot] = new
        self.taint_words[:, slot] = 0
        for taint_id in new:
            word, bit = divmod(taint_id, 64)
            self.taint_words[word, slot] |= np.uint64(1 << bit)
        self.taints_version += 1

    def _has_effect(self, ids: tuple[int, ...], *, hard: bool) -> int:
        for taint_id in ids:
            effect = self.taints[taint_id].effect
            if (effect in HARD_EFFECTS) if hard else (effect == _SOFT_EFFECT):
                return 1
        return 0

    def _set_images(self, slot: int, node: Node) -> None:
        entries: dict[str, int] = {}
        for image in node.status.images:
            for name in image.names:
                entries[name] = image.size_bytes or 0
        new = tuple(sorted(entries.items()))
        if new == self._slot_images[slot]:
            return
        self._clear_images(slot)
        for name, size in new:
            column = self.images.get(name)
            if column is None:
                column = ImageColumn(
                    np.zeros(self.capacity, np.bool_), np.zeros(self.capacity, np.int64)
                )
                self.images[name] = column
            column.present[slot] = True
            column.size[slot] = size
            column.nodes += 1
        self._slot_images[slot] = new

    def _clear_images(self, slot: int) -> None:
        for name, _ in self._slot_images[slot]:
            column = self.images[name]
            column.present[slot] = False
            column.size[slot] = 0
            column.nodes -= 1
            if column.nodes == 0:
                del self.images[name]
        self._slot_images[slot] = ()

    # -- pods ----------------------------------------------------------------------------

    def add_pod(self, slot: int, requests: Requests, ports: tuple[HostPort, ...]) -> None:
        self._account(slot, requests, 1)
        for port in ports:
            self._account_port(slot, port, 1)

    def remove_pod(self, slot: int, requests: Requests, ports: tuple[HostPort, ...]) -> None:
        self._account(slot, requests, -1)
        for port in ports:
            self._account_port(slot, port, -1)
        self._release_if_empty(slot)

    def _account(self, slot: int, requests: Requests, sign: int) -> None:
        # requested and free move together (free = allocatable - requested),
        # one scalar update each: cheaper than recomputing the column.
        for name, value in requests.scalars:
            if value:
                self.resource_row(name)  # may widen the matrices
        requested = self.requested
        free = self.free
        requested[PODS, slot] += sign
        free[PODS, slot] -= sign
        if requests.cpu:
            requested[CPU, slot] += sign * requests.cpu
            free[CPU, slot] -= sign * requests.cpu
        if requests.memory:
            requested[MEMORY, slot] += sign * requests.memory
            free[MEMORY, slot] -= sign * requests.memory
        if requests.ephemeral_storage:
            requested[EPHEMERAL, slot] += sign * requests.ephemeral_storage
            free[EPHEMERAL, slot] -= sign * requests.ephemeral_storage
        for name, value in requests.scalars:
            if value:
                row = self.resources[name]
                requested[row, slot] += sign * value
                free[row, slot] -= sign * value
        nonzero = self.nonzero
        nonzero[CPU, slot] += sign * requests.nonzero_cpu
        nonzero[MEMORY, slot] += sign * requests.nonzero_memory
        self._touch(slot)

    def _account_port(self, slot: int, port: HostPort, sign: int) -> None:
        protocol, ip, number = port
        use = self.ports.get((protocol, number))
        if use is None:
            use = PortUse(np.zeros(self.capacity, np.int32), np.zeros(self.capacity, np.int32))
            self.ports[(protocol, number)] = use
        use.any_ip[slot] += sign
        if ip == WILDCARD_IP:
            use.wildcard[slot] += sign
        else:
            column = use.by_ip.get(ip)
            if column is None:
                column = np.zeros(self.capacity, np.int32)
                use.by_ip[ip] = column
            column[slot] += sign

    # -- label queries ---------------------------------------------------------------------

    def label_column(self, key: str) -> npt.NDArray[np.int32] | None:
        """Value ids of `key` for slots [0, size), or None if no node has the key."""
        column = self.label_columns.get(key)
        return None if column is None else self.labels[column, : self.size]

    def value_id(self, key: str, value: str) -> int:
        column = self.label_columns.get(key)
        if column is None:
            return 0
        return self.label_ids[column].get(value, 0)

    def nodes_per_value(self, key: str) -> IntArray:
        """Live nodes per value id of `key` (index 0: live nodes without it)."""
        column = self.label_columns.get(key)
        cached = self.value_nodes_cache.get(key)
        if cached is not None and cached[0] == self.labels_version and cached[1] == self.version:
            return cached[2]
        size = self.size
        if column is None:
            counts: IntArray = np.array([self.count], np.int64)
        else:
            ids = self.labels[column, :size][self.valid[:size]]
            counts = np.bincount(ids, minlength=len(self.label_values[column])).astype(np.int64)
        self.value_nodes_cache[key] = (self.labels_version, self.version, counts)
        return counts

    def value_count(self, key: str) -> int:
        """Number of value ids of `key`, including 0 (absent)."""
        column = self.label_columns.get(key)
        return 1 if column is None else len(self.label_values[column])

    def match_requirement(self, req: NodeRequirement) -> BoolArray:
        """Slots [0, size) whose labels satisfy `req` (validity not included)."""
        return selection.match_requirement(self, req)

    def match_term(self, term: NodeTerm) -> BoolArray:
        return selection.match_term(self, term)

    def match_node_affinity(self, spec: NodeAffinitySpec) -> BoolArray:
        """Slots [0, size) satisfying the nodeSelector and required terms. Cached
        per spec until node labels change: pods of one template share the mask."""
        return selection.match_node_affinity(self, spec)

    # -- taint queries ---------------------------------------------------------------------

    def untolerated_bits(
        self, tolerations: tuple[Toleration, ...], effects: frozenset[str]
    ) -> npt.NDArray[np.uint64]:
        """A bitset (one uint64 per word) of catalog taints with one of `effects`
        that no toleration tolerates."""
        words = np.zeros(self.taint_words.shape[0], np.uint64)
        for taint_id, taint in enumerate(self.taints):
            if taint.effect not in effects:
                continue
            if any(t.tolerates(taint) for t in tolerations):
                continue
            word, bit = divmod(taint_id, 64)
            words[word] |= np.uint64(1 << bit)
        return words


def _add_row(array: IntArray) -> IntArray:
    """`array` with one more (zero) row. Rows live in a buffer that doubles when
    full, so a cluster with thousands of distinct extended resources does not
    copy the whole matrix for each new one; the spare rows stay zero, as
    nothing writes past the view."""
    rows, width = array.shape
    buffer = array.base
    if (
        isinstance(buffer, np.ndarray)
        and buffer.ndim == 2
        and buffer.shape[0] > rows
        and buffer.shape[1] == width
        and array.ctypes.data == buffer.ctypes.data
    ):
        return buffer[: rows + 1]
    grown = np.zeros((max(2 * rows, rows + 1), width), array.dtype)
    _copy_used_rows(array, grown)
    return grown[: rows + 1]


def _copy_used_rows(source: IntArray, target: IntArray) -> None:
    """Copy the rows of `source` that hold anything into the (zeroed) `target`:
    rows of extended resources few nodes have are mostly zero pages, and
    copying them whole would make the process touch all that memory."""
    rows, width = source.shape
    if rows <= 8:
        target[:rows, :width] = source
        return
    used = np.flatnonzero(source.any(axis=1))
    target[used, :width] = source[used]
