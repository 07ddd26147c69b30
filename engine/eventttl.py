"""Event expiry: Events live `ttl` seconds after their last write, then go.

kube-apiserver gives every Event write an etcd lease of `--event-ttl` (an
hour by default); when the lease runs out etcd deletes the Event and watchers
see it DELETED. `EventExpiry` keeps the same deadlines on the store's clock:
each write of an Event (re)starts its time to live, and `expire` removes the
Events whose time has passed. The store checks after each write, so a store
nobody writes to keeps its Events until the next write (nothing needs a
timer, and the virtual clock's simulations stay deterministic).

Neighbours: `engine.store` (notes Event writes and removes what expires).
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Hashable
from typing import Any

from engine.clock import Clock

__all__ = ["EVENT_TTL_SECONDS", "EventExpiry"]

EVENT_TTL_SECONDS = 3600.0
"""How long an Event lives after its last write: kube-apiserver's --event-ttl default."""

Key = tuple[str, str]


class EventExpiry:
    """Deadlines of the stored Events, soonest first (see the module docstring).
    A `table` is whatever the store keeps one kind in: Events of two tables
    (two served versions of the kind) expire independently."""

    __slots__ = ("_deadline", "_expiring", "_queue", "_writes", "clock", "ttl")

    def __init__(self, ttl: float, clock: Clock) -> None:
        self.ttl = ttl
        self.clock = clock
        # (expiry, write number, table, key): the write number orders equal expiries.
        self._queue: list[tuple[float, int, Any, Key]] = []
        self._deadline: dict[tuple[int, Key], float] = {}
        self._writes = itertools.count()
        self._expiring = False

    def __bool__(self) -> bool:
        """Whether any Event waits to expire."""
        return bool(self._queue)

    @property
    def expiring(self) -> bool:
        """Whether `expire` is running (its own removals must not expire again)."""
        return self._expiring

    def clear(self) -> None:
        self._queue.clear()
        self._deadline.clear()

    def note(self, table: Hashable, key: Key) -> None:
        """An Event was written: its time to live starts again from now."""
        expiry = self.clock.now().timestamp() + self.ttl
        self._deadline[(id(table), key)] = expiry
        heapq.heappush(self._queue, (expiry, next(self._writes), table, key))

    def expire(self, remove: Callable[[Any, Key], None]) -> None:
        """Call `remove(table, key)` for every Event whose time to live has
        passed, soonest first."""
        now = self.clock.now().timestamp()
        queue = self._queue
        if not queue or queue[0][0] > now:
            return
        self._expiring = True
        try:
            while queue and queue[0][0] <= now:
                expiry, _, table, key = heapq.heappop(queue)
                if self._deadline.get((id(table), key)) != expiry:
                    continue  # written again since: a later entry holds its expiry
                del self._deadline[(id(table), key)]
                remove(table, key)
        finally:
            self._expiring = False
