"""A Window: the set of node slots one Filter or Score call evaluates.

Filters run over every slot at once (`Window.range(0, size)`, whose `take` is
a zero-copy view of a column), or over a few chosen slots (a nominated node, a
preemption dry run: `Window.of(slots)`, whose `take` gathers). A plugin
returns one value per window position, in window order, so it never needs to
know which kind of window it got.

Neighbours: `controllers.scheduler.framework` builds windows; filter and
score plugins receive them.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import numpy.typing as npt

__all__ = ["Window"]

G = TypeVar("G", bound=np.generic)


class Window:
    """Either the contiguous slots [start, stop) or an explicit slot array."""

    __slots__ = ("_slots", "start", "stop")

    def __init__(self, start: int, stop: int, slots: npt.NDArray[np.int64] | None = None) -> None:
        self.start = start
        self.stop = stop
        self._slots = slots

    @classmethod
    def range(cls, start: int, stop: int) -> Window:
        return cls(start, stop)

    @classmethod
    def of(cls, slots: npt.NDArray[np.int64] | list[int]) -> Window:
        array = np.asarray(slots, dtype=np.int64)
        return cls(0, len(array), array)

    @property
    def contiguous(self) -> bool:
        return self._slots is None

    def __len__(self) -> int:
        return self.stop - self.start if self._slots is None else len(self._slots)

    @property
    def slots(self) -> npt.NDArray[np.int64]:
        """The slot numbers, in window order."""
        if self._slots is None:
            return np.arange(self.start, self.stop, dtype=np.int64)
        return self._slots

    def take(self, column: npt.NDArray[G]) -> npt.NDArray[G]:
        """`column` restricted to the window (last axis), in window order."""
        if self._slots is None:
            return column[..., self.start : self.stop]
        return column[..., self._slots]
