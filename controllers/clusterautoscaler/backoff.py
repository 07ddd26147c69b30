"""Per-node-group exponential back-off after failed scale-ups (CA's ExponentialBackoff).

A group whose scale-up failed (a node that did not register within
`max_node_provision_time`) is skipped by scale-up until its back-off ends:
the first failure backs it off `initial` seconds, each further failure
doubles that up to `maximum`; a group without failures for `reset_after`
seconds starts again from `initial`.

Neighbours: `controllers.clusterautoscaler.autoscaler` (records failures, asks).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(slots=True)
class _Entry:
    duration: float
    until: float
    last_failure: float


class Backoff:
    def __init__(self, initial: float, maximum: float, reset_after: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.reset_after = reset_after
        self._entries: dict[str, _Entry] = {}

    def failed(self, group: str, now: float) -> float:
        """Record a failure; returns how long the group is backed off."""
        entry = self._entries.get(group)
        if entry is None or now - entry.last_failure > self.reset_after:
            duration = self.initial
        else:
            duration = min(entry.duration * 2, self.maximum)
        self._entries[group] = _Entry(duration, now + duration, now)
        return duration

    def backed_off_until(self, group: str, now: float) -> float | None:
        entry = self._entries.get(group)
        if entry is None or entry.until <= now:
            return None
        return entry.until

    def succeeded(self, group: str) -> None:
        """A scale-up of the group worked: its back-off is forgotten."""
        self._entries.pop(group, None)
