"""CycleState: what plugins compute for one pod during one scheduling attempt.

Plugins write entries under their own keys at PreFilter/PreScore and read them
later in the cycle. Entries implement `clone()`; preemption clones the whole
state to evaluate "what if these pods were gone" without disturbing the
original. The framework also records here which plugins skipped Filter or
Score for this pod.

Neighbours: `controllers.scheduler.framework` (creates one per attempt),
every plugin (reads and writes), `controllers.scheduler.preemption` (clones).
"""

from __future__ import annotations

from typing import Any, Protocol, TypeVar

__all__ = ["CycleState", "StateData"]

T = TypeVar("T")


class StateData(Protocol):
    def clone(self) -> StateData: ...


class CycleState:
    """A per-attempt key -> StateData map, plus the framework's skip sets."""

    __slots__ = ("_data", "recording", "restricted_by", "skip_filter", "skip_score")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        self.skip_filter: set[str] = set()
        self.skip_score: set[str] = set()
        self.restricted_by: list[str] = []
        self.recording = False

    def write(self, key: str, data: StateData) -> None:
        self._data[key] = data

    def read(self, key: str) -> Any:
        """The entry under `key`; KeyError when PreFilter/PreScore did not write it."""
        return self._data[key]

    def get(self, key: str, default: T | None = None) -> Any:
        return self._data.get(key, default)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def __contains__(self, key: str) -> bool:
        return key in self._data

    def clear(self) -> None:
        """Forget everything (a cycle restarting on another path)."""
        self._data.clear()
        self.skip_filter.clear()
        self.skip_score.clear()
        self.restricted_by.clear()

    def clone(self) -> CycleState:
        copy = CycleState()
        copy._data = {k: v.clone() for k, v in self._data.items()}
        copy.skip_filter = set(self.skip_filter)
        copy.skip_score = set(self.skip_score)
        copy.restricted_by = list(self.restricted_by)
        copy.recording = self.recording
        return copy
