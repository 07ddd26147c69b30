"""CrashLoopBackOff: how long a container waits before it is restarted.

Kubernetes' kubelet semantics, keyed per (pod uid, container name):

* the first restart waits `initial` (10 s), each further one twice as long,
  capped at `maximum` (300 s): 10, 20, 40, 80, 160, 300, 300, ... seconds,
  counted from the moment the container finished. (The kubelet documents
  the sequence this way; it is also what the issue's acceptance asks for.)
* the sequence starts over when the container had been running cleanly for
  longer than twice the cap (10 min) since its last (re)start, as client-go's
  flowcontrol.Backoff resets an entry after 2 x maxDuration without a
  failure.

Pure bookkeeping on monotonic seconds: the kubelet owns the timers.

Neighbours: `runtime.kubelet.kubelet` (asks for delays, reports starts).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CrashLoopBackOff"]


@dataclass(slots=True)
class _Entry:
    delay: float = 0.0
    last_start: float = 0.0


class CrashLoopBackOff:
    """Per-container restart delays (see the module docstring)."""

    def __init__(self, initial: float = 10.0, maximum: float = 300.0) -> None:
        if initial <= 0 or maximum < initial:
            raise ValueError("backoff needs 0 < initial <= maximum")
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[tuple[str, str], _Entry] = {}

    def started(self, key: tuple[str, str], now: float) -> None:
        """A container instance started now (its clean-running time counts from here)."""
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = _Entry(0.0, now)
        else:
            entry.last_start = now

    def next_delay(self, key: tuple[str, str], finished_at: float) -> float:
        """The wait before restarting a container that finished at `finished_at`;
        counts as one more step of the sequence."""
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = _Entry(0.0, finished_at)
        if entry.delay == 0 or finished_at - entry.last_start > 2 * self.maximum:
            entry.delay = self.initial
        else:
            entry.delay = min(entry.delay * 2, self.maximum)
        return entry.delay

    def current(self, key: tuple[str, str]) -> float:
        entry = self._entries.get(key)
        return entry.delay if entry is not None else 0.0

    def forget_pod(self, pod_uid: str) -> None:
        for key in [k for k in self._entries if k[0] == pod_uid]:
            del self._entries[key]
