"""The scheduling queue: activeQ, backoffQ, the unschedulable pool and gated pods
(kube-scheduler's PriorityQueue).

Invariants (each pod key is in at most one place):

* `_active`: a heap ordered by the QueueSort key (PrioritySort: priority, then
  creation time). `pop()` hands out the head and marks it in flight until
  `done()`; it waits when the heap is empty.
* `_backoff`: pods waiting out their backoff (1 s doubling per attempt up to
  10 s by default), ordered by expiry; a timer on the injected clock moves
  each to active the moment its backoff ends. As Kubernetes does since 1.33
  (SchedulerPopFromBackoffQ), `pop()` takes the earliest of them at once when
  the active queue is empty, so backoff never idles the scheduler; pods backing
  off after an error (`_error_backoff`) always wait their full backoff.
* `_unschedulable`: pods that failed for some plugins' reasons, indexed by
  those plugins. A cluster event moves back only the pods whose rejecting
  plugins registered for it and whose queueing hint agrees (to backoff if
  still backing off, else active). A pod that failed with no plugin to blame
  (an error, a failed bind) goes to backoff instead. Pods left there longer
  than `max_unschedulable_seconds` are flushed (`flush_unschedulable_leftover`,
  called periodically).
* `_gated`: pods a PreEnqueue plugin holds back (scheduling gates); an update
  re-checks them, and nothing else moves them (no flush, no cluster event), so
  a gated pod is never attempted. `on_gated` hears of each pod held back.

Heaps use lazy deletion: an entry is live only while its sequence number is
the pod's current one, so updates and deletes are O(1).

Neighbours: the scheduler (pops, reports failures, forwards events),
`cluster_events` (events and hints), `plugins.priority_sort` (the order).
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from controllers.scheduler.cluster_events import ClusterEvent, EventRegistration
from controllers.scheduler.podinfo import PodInfo, same_scheduling_inputs
from controllers.scheduler.status import Status
from engine.clock import Clock, TimerHandle

__all__ = ["QueueStatistics", "QueuedPodInfo", "SchedulingQueue"]

PodKey = tuple[str, str]


@dataclass(slots=True, eq=False)
class QueuedPodInfo:
    """A pod in the queue with its scheduling history."""

    info: PodInfo
    seq: int = 0
    timestamp: float = 0.0
    initial_attempt: float | None = None
    attempts: int = 0
    unschedulable_plugins: frozenset[str] = frozenset()
    backoff_until: float = 0.0
    gate: Status | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> PodKey:
        return self.info.key


@dataclass(frozen=True, slots=True)
class QueueStatistics:
    active: int
    backoff: int
    unschedulable: int
    gated: int
    in_flight: int


class SchedulingQueue:
    """See the module docstring."""

    def __init__(
        self,
        clock: Clock,
        *,
        sort_key: Callable[[QueuedPodInfo], tuple[Any, ...]],
        pre_enqueue: Callable[[PodInfo], Status | None] = lambda _p: None,
        on_gated: Callable[[QueuedPodInfo], None] = lambda _q: None,
        registrations: Iterable[tuple[str, EventRegistration]] = (),
        initial_backoff: float = 1.0,
        max_backoff: float = 10.0,
        max_unschedulable: float = 300.0,
    ) -> None:
        self.clock = clock
        self._sort_key = sort_key
        self._pre_enqueue = pre_enqueue
        self._on_gated = on_gated
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        # resource -> (plugin, action bits, hint): plain ints, as events are many.
        self._registrations: dict[str, list[tuple[str, int, Any]]] = {}
        for plugin, reg in registrations:
            self._registrations.setdefault(reg.event.resource, []).append(
                (plugin, reg.event.action.value, reg.hint)
            )
        self._seq = 0
        self._active: list[tuple[tuple[Any, ...], int, PodKey]] = []
        self._active_pods: dict[PodKey, QueuedPodInfo] = {}
        self._backoff: list[tuple[float, int, PodKey]] = []
        self._error_backoff: list[tuple[float, int, PodKey]] = []
        self._backoff_pods: dict[PodKey, QueuedPodInfo] = {}
        self.pop_from_backoff = True
        self._unschedulable: dict[PodKey, QueuedPodInfo] = {}
        self._by_plugin: dict[str, dict[PodKey, None]] = {}
        self._gated: dict[PodKey, QueuedPodInfo] = {}
        self._in_flight: dict[PodKey, QueuedPodInfo] = {}
        self._ready = asyncio.Event()
        self._timer: TimerHandle | None = None
        self._timer_due = float("inf")
        self.moves = 0

    # -- introspection ------------------------------------------------------------------------

    def statistics(self) -> QueueStatistics:
        return QueueStatistics(
            active=len(self._active_pods),
            backoff=len(self._backoff_pods),
            unschedulable=len(self._unschedulable),
            gated=len(self._gated),
            in_flight=len(self._in_flight),
        )

    def has_active(self) -> bool:
        return bool(self._active_pods)

    def __len__(self) -> int:
        return (
            len(self._active_pods)
            + len(self._backoff_pods)
            + len(self._unschedulable)
            + len(self._gated)
        )

    def __contains__(self, key: object) -> bool:
        return (
            key in self._active_pods
            or key in self._backoff_pods
            or key in self._unschedulable
            or key in self._gated
            or key in self._in_flight
        )

    def where(self, key: PodKey) -> str | None:
        """Which part of the queue holds `key` (for tests and debugging)."""
        for name, part in (
            ("active", self._active_pods),
            ("backoff", self._backoff_pods),
            ("unschedulable", self._unschedulable),
            ("gated", self._gated),
            ("in_flight", self._in_flight),
        ):
            if key in part:
                return name
        return None

    def get(self, key: PodKey) -> QueuedPodInfo | None:
        for part in (
            self._active_pods,
            self._backoff_pods,
            self._unschedulable,
            self._gated,
            self._in_flight,
        ):
            found = part.get(key)
            if found is not None:
                return found
        return None

    def unschedulable_pods(self) -> list[QueuedPodInfo]:
        return list(self._unschedulable.values())

    # -- adding -----------------------------------------------------------------------------

    def add(self, info: PodInfo) -> None:
        """A new pod to schedule."""
        if info.key in self:
            self.update(info.pod, info)
            return
        now = self.clock.monotonic()
        qpod = QueuedPodInfo(info, timestamp=now, initial_attempt=None)
        self._enqueue_new(qpod)

    def _enqueue_new(self, qpod: QueuedPodInfo) -> None:
        gate = self._pre_enqueue(qpod.info)
        qpod.gate = gate
        if gate is not None:
            self._gated[qpod.key] = qpod
            self._on_gated(qpod)
            return
        self._push_active(qpod)

    def _push_active(self, qpod: QueuedPodInfo) -> None:
        self._seq += 1
        qpod.seq = self._seq
        heapq.heappush(self._active, (self._sort_key(qpod), qpod.seq, qpod.key))
        self._active_pods[qpod.key] = qpod
        self._ready.set()

    def _push_backoff(self, qpod: QueuedPodInfo, *, error: bool = False) -> None:
        self._seq += 1
        qpod.seq = self._seq
        heap = self._error_backoff if error else self._backoff
        heapq.heappush(heap, (qpod.backoff_until, qpod.seq, qpod.key))
        if not error and self.pop_from_backoff:
            self._ready.set()
        self._backoff_pods[qpod.key] = qpod
        self._arm_timer(qpod.backoff_until)

    def update(self, old: Any, info: PodInfo) -> None:
        """A pod changed (spec, labels or status)."""
        key = info.key
        qpod = self._gated.get(key)
        if qpod is not None:
            qpod.info = info
            del self._gated[key]
            self._enqueue_new(qpod)
            return
        qpod = self._active_pods.get(key)
        if qpod is not None:
            previous = self._sort_key(qpod)
            qpod.info = info
            if self._sort_key(qpod) != previous:
                self._push_active(qpod)  # the old heap entry goes stale
            return
        qpod = self._backoff_pods.get(key)
        if qpod is not None:
            qpod.info = info
            return
        qpod = self._in_flight.get(key)
        if qpod is not None:
            qpod.info = info
            return
        qpod = self._unschedulable.get(key)
        if qpod is not None:
            changed = old is None or not same_scheduling_inputs(old, info.pod)
            qpod.info = info
            if changed:
                self._remove_unschedulable(key)
                self._activate_or_backoff(qpod)
            return
        self.add(info)

    def delete(self, key: PodKey) -> None:
        self._active_pods.pop(key, None)
        self._backoff_pods.pop(key, None)
        self._gated.pop(key, None)
        self._in_flight.pop(key, None)
        if key in self._unschedulable:
            self._remove_unschedulable(key)

    # -- popping ----------------------------------------------------------------------------

    def pop_nowait(self) -> QueuedPodInfo | None:
        active = self._active
        pods = self._active_pods
        while active:
            _, seq, key = heapq.heappop(active)
            qpod = pods.get(key)
            if qpod is None or qpod.seq != seq:
                continue
            del pods[key]
            return self._hand_out(qpod)
        if self.pop_from_backoff:
            backoff = self._backoff
            waiting = self._backoff_pods
            while backoff:
                _, seq, key = heapq.heappop(backoff)
                qpod = waiting.get(key)
                if qpod is None or qpod.seq != seq:
                    continue
                del waiting[key]
                return self._hand_out(qpod)
        return None

    def _hand_out(self, qpod: QueuedPodInfo) -> QueuedPodInfo:
        qpod.attempts += 1
        if qpod.initial_attempt is None:
            qpod.initial_attempt = self.clock.monotonic()
        self._in_flight[qpod.key] = qpod
        return qpod

    async def pop(self) -> QueuedPodInfo:
        while True:
            qpod = self.pop_nowait()
            if qpod is not None:
                return qpod
            self._ready.clear()
            await self._ready.wait()

    def done(self, key: PodKey) -> None:
        self._in_flight.pop(key, None)

    def is_in_flight(self, key: PodKey) -> bool:
        return key in self._in_flight

    # -- failures ---------------------------------------------------------------------------

    def backoff_seconds(self, attempts: int) -> float:
        if attempts <= 0:
            return 0.0
        duration = self.initial_backoff
        for _ in range(1, attempts):
            if duration > self.max_backoff - duration:
                return self.max_backoff
            duration += duration
        return duration

    def add_unschedulable(self, qpod: QueuedPodInfo, plugins: Iterable[str]) -> None:
        """A popped pod failed for `plugins`' reasons (empty: an error). It waits
        in the unschedulable pool (or, without plugins to blame, in backoff)."""
        key = qpod.key
        if self._in_flight.pop(key, None) is None:
            return  # deleted while in flight
        now = self.clock.monotonic()
        qpod.timestamp = now
        qpod.backoff_until = now + self.backoff_seconds(qpod.attempts)
        qpod.unschedulable_plugins = frozenset(plugins)
        if not qpod.unschedulable_plugins:
            self._push_backoff(qpod, error=True)
            return
        self._unschedulable[key] = qpod
        for plugin in sorted(qpod.unschedulable_plugins):
            self._by_plugin.setdefault(plugin, {})[key] = None

    def requeue_error(self, qpod: QueuedPodInfo) -> None:
        """A popped pod hit an error (or its bind failed): back off, then retry."""
        self.add_unschedulable(qpod, ())

    def _remove_unschedulable(self, key: PodKey) -> QueuedPodInfo | None:
        qpod = self._unschedulable.pop(key, None)
        if qpod is None:
            return None
        for plugin in qpod.unschedulable_plugins:
            keys = self._by_plugin.get(plugin)
            if keys is not None:
                keys.pop(key, None)
                if not keys:
                    del self._by_plugin[plugin]
        return qpod

    def _activate_or_backoff(self, qpod: QueuedPodInfo) -> None:
        self.moves += 1
        if qpod.backoff_until > self.clock.monotonic():
            self._push_backoff(qpod)
        else:
            self._push_active(qpod)

    # -- events -----------------------------------------------------------------------------

    def on_event(self, event: ClusterEvent, old: Any, new: Any) -> int:
        """Move the unschedulable pods this event may help; returns how many."""
        if not self._unschedulable:
            return 0
        moved: dict[PodKey, None] = {}
        action = event.action.value
        by_plugin = self._by_plugin
        for plugin, bits, hint in self._registrations.get(event.resource, ()):
            if not bits & action:
                continue
            keys = by_plugin.get(plugin)
            if not keys:
                continue
            for key in list(keys):
                if key in moved:
                    continue
                waiting = self._unschedulable[key]
                if hint is None or hint(waiting.info, old, new):
                    moved[key] = None
        for key in moved:
            qpod = self._remove_unschedulable(key)
            if qpod is not None:
                self._activate_or_backoff(qpod)
        return len(moved)

    def move_all(self) -> int:
        """Move every unschedulable pod (to backoff or active)."""
        keys = list(self._unschedulable)
        for key in keys:
            qpod = self._remove_unschedulable(key)
            if qpod is not None:
                self._activate_or_backoff(qpod)
        return len(keys)

    def flush_unschedulable_leftover(self) -> int:
        now = self.clock.monotonic()
        stale = [
            key
            for key, qpod in self._unschedulable.items()
            if now - qpod.timestamp >= self.max_unschedulable
        ]
        for key in stale:
            qpod = self._remove_unschedulable(key)
            if qpod is not None:
                self._activate_or_backoff(qpod)
        return len(stale)

    # -- backoff timer ----------------------------------------------------------------------

    def _arm_timer(self, due: float) -> None:
        if due >= self._timer_due and self._timer is not None:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = self.clock.call_later(due - self.clock.monotonic(), self._flush_backoff)

    def _flush_backoff(self) -> None:
        self._timer = None
        self._timer_due = float("inf")
        now = self.clock.monotonic()
        pods = self._backoff_pods
        for backoff in (self._backoff, self._error_backoff):
            while backoff:
                due, seq, key = backoff[0]
                qpod = pods.get(key)
                if qpod is None or qpod.seq != seq:
                    heapq.heappop(backoff)
                    continue
                if due > now:
                    self._arm_timer(due)
                    break
                heapq.heappop(backoff)
                del pods[key]
                self._push_active(qpod)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_due = float("inf")
