"""Container logs of the process runtime: one file per container instance.

The container's stdout and stderr are both the instance's log file, opened
for appending and handed to the child, so output lands in arrival order, the
child never blocks on a slow reader, and the log is complete the moment the
process exits. Like the kubelet's `/var/log/pods/<ns>_<name>_<uid>/
<container>/<n>.log`, each instance gets a file of its own, so the previous
instance's output stays readable after a restart.

`ContainerLog` is that file plus what readers need:

* `open_for_child()` gives the file descriptor the child writes to;
* `finish()` marks the instance as exited: followers drain what is left and
  stop, as `kubectl logs -f` stops when the container exits;
* `tail(n)` returns the last `n` complete lines (all for None, none for 0); a
  last line without a newline counts once the instance is finished;
* `follow(n)` yields the last `n` lines, then each new line as it is written,
  until the instance is finished. A running child writes behind our back, so
  followers look for new output every `poll_interval` seconds (a timer on the
  injected clock) and are woken at once by `finish()`.

Lines are decoded as UTF-8 (undecodable bytes replaced) and returned without
their newline. Nothing is kept in memory but a follower's unfinished line: the
file is the log.

Neighbours: `runtime.runtimes.process` (one per container instance; serves
`logs()` from them), `engine.clock`.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

from engine.clock import Clock

__all__ = ["ContainerLog"]

_BLOCK = 64 * 1024


class ContainerLog:
    """The log file of one container instance."""

    def __init__(self, path: Path, clock: Clock, *, poll_interval: float = 0.1) -> None:
        self.path = path
        self._clock = clock
        self._poll_interval = poll_interval
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
        self._finished = False
        self._followers: set[asyncio.Event] = set()  # wake-ups of waiting followers

    @property
    def finished(self) -> bool:
        return self._finished

    def open_for_child(self) -> int:
        """A new append-only descriptor on the file; the caller closes it after spawning."""
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def finish(self) -> None:
        """The instance has exited (or was removed): no more output will come."""
        if not self._finished:
            self._finished = True
            for wake in self._followers:
                wake.set()

    def tail(self, lines: int | None = None) -> list[str]:
        """The last `lines` lines (every line for None, none for 0)."""
        if lines is not None and lines <= 0:
            return []
        try:
            with self.path.open("rb") as log:
                finished = self._finished
                return _tail_lines(log, lines, _readable_end(log, finished), finished)
        except FileNotFoundError:
            return []

    async def follow(self, lines: int | None = None) -> AsyncIterator[str]:
        """The last `lines` lines, then new lines as they are written, until finished."""
        try:
            log = self.path.open("rb")
        except FileNotFoundError:
            return
        with log:
            # The tail and the position after it come from one handle and one
            # moment, so no line written in between is lost or repeated.
            finished = self._finished
            end = _readable_end(log, finished)
            if lines is None or lines > 0:
                for line in _tail_lines(log, lines, end, finished):
                    yield line
            if finished:
                return
            log.seek(end)
            pending = b""
            while True:
                finished = self._finished
                chunk = log.read()
                if chunk:
                    complete, pending = _split_lines(pending + chunk, include_partial=False)
                    for line in complete:
                        yield line
                    continue
                if finished:
                    if pending:
                        yield pending.decode("utf-8", errors="replace")
                    return
                await self._wait_for_more()

    async def _wait_for_more(self) -> None:
        wake = asyncio.Event()
        self._followers.add(wake)
        timer = self._clock.call_later(self._poll_interval, wake.set)
        try:
            await wake.wait()
        finally:
            timer.cancel()
            self._followers.discard(wake)


def _readable_end(log: BinaryIO, finished: bool) -> int:
    """Where complete output ends: an unfinished last line is not a line yet."""
    end = log.seek(0, os.SEEK_END)
    return end if finished else _last_newline_end(log, end)


def _tail_lines(log: BinaryIO, lines: int | None, end: int, finished: bool) -> list[str]:
    """The last `lines` lines before `end` (every line for None)."""
    start = 0
    if lines is not None:
        start = end
        newlines = 0
        while start > 0 and newlines <= lines:
            step = min(_BLOCK, start)
            start -= step
            log.seek(start)
            newlines += log.read(step).count(b"\n")
    log.seek(start)
    found, _ = _split_lines(log.read(end - start), include_partial=finished)
    return found if lines is None else found[-lines:]


def _last_newline_end(log: BinaryIO, end: int) -> int:
    """Offset just after the last newline before `end` (0 if there is none)."""
    position = end
    while position > 0:
        step = min(_BLOCK, position)
        position -= step
        log.seek(position)
        index = log.read(step).rfind(b"\n")
        if index >= 0:
            return position + index + 1
    return 0


def _split_lines(data: bytes, *, include_partial: bool) -> tuple[list[str], bytes]:
    """Complete lines of `data` (decoded) and the unfinished remainder."""
    *complete, rest = data.split(b"\n")
    lines = [line.decode("utf-8", errors="replace") for line in complete]
    if include_partial and rest:
        lines.append(rest.decode("utf-8", errors="replace"))
        rest = b""
    return lines, rest
