"""Controller expectations (client-go's ControllerExpectations): remember the
creations and deletions a controller has issued until its informer has seen
them, so a reconcile on a stale cache does not create or delete again.

Protocol: before issuing N creates, `expect_creations(key, N)`; the informer's
add handler calls `creation_observed(key)` for each new object owned by `key`
(a failed create calls it too, since no event will come). A reconcile acts only
when `satisfied(key)`. Expectations older than `ttl` (5 minutes, Kubernetes'
ExpectationsTimeout) count as satisfied, so a lost event cannot wedge a
controller forever. Deletions are tracked by uid, so a delete event observed
twice, or for a pod the controller did not delete, does not miscount.

Neighbours: used by controllers (ReplicaSet, Job, DaemonSet, ...); time comes
from the injected `engine.clock.Clock`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from engine.clock import Clock

__all__ = ["Expectations"]

EXPECTATIONS_TIMEOUT = 300.0


@dataclass(slots=True)
class _Record:
    adds: int
    deletes: set[str] = field(default_factory=set)
    timestamp: float = 0.0


class Expectations:
    """Pending creations (counted) and deletions (by uid) per controller key."""

    def __init__(self, clock: Clock, ttl: float = EXPECTATIONS_TIMEOUT) -> None:
        self._clock = clock
        self._ttl = ttl
        self._records: dict[Hashable, _Record] = {}

    def expect_creations(self, key: Hashable, count: int) -> None:
        """Replace the expectations of `key` with `count` creations."""
        self._records[key] = _Record(adds=count, timestamp=self._clock.monotonic())

    def expect_deletions(self, key: Hashable, uids: Iterable[str]) -> None:
        """Replace the expectations of `key` with deletions of these uids."""
        self._records[key] = _Record(adds=0, deletes=set(uids), timestamp=self._clock.monotonic())

    def expect(self, key: Hashable, creations: int, deletions: Iterable[str]) -> None:
        """Replace the expectations of `key` with both creations and deletions
        (a DaemonSet sync may do both at once)."""
        self._records[key] = _Record(
            adds=creations, deletes=set(deletions), timestamp=self._clock.monotonic()
        )

    def creation_observed(self, key: Hashable) -> None:
        record = self._records.get(key)
        if record is not None and record.adds > 0:
            record.adds -= 1

    def deletion_observed(self, key: Hashable, uid: str) -> None:
        record = self._records.get(key)
        if record is not None:
            record.deletes.discard(uid)

    def satisfied(self, key: Hashable) -> bool:
        """True when nothing issued for `key` is still unobserved (or it expired)."""
        record = self._records.get(key)
        if record is None:
            return True
        if record.adds <= 0 and not record.deletes:
            return True
        return self._clock.monotonic() - record.timestamp > self._ttl

    def pending(self, key: Hashable) -> tuple[int, frozenset[str]]:
        """(creations, uids of deletions) still expected for `key`."""
        record = self._records.get(key)
        if record is None:
            return (0, frozenset())
        return (max(0, record.adds), frozenset(record.deletes))

    def forget(self, key: Hashable) -> None:
        """Drop the expectations of a controller object that is gone."""
        self._records.pop(key, None)
