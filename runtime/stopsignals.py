"""`StopSignals`: SIGTERM, SIGHUP and SIGINT end a command the orderly way.

    stop = StopSignals()

    async def run() -> None:
        with stop.installed():
            async with Cluster(config) as cluster:
                with stop.scope:
                    ...                      # the work a signal interrupts
                ...                          # the summary: still inside the cluster

    asyncio.run(run())
    if stop.signal is not None:
        sys.exit(stop.exit_status)           # 128 + the signal's number

While `installed()`, the first of these signals cancels `stop.scope` (an anyio
`CancelScope`; one entered after the signal starts cancelled) and records
which signal it was; the caller then leaves its contexts normally, so a
cluster stops every container and removes every file, whatever the signal.
A second signal cancels the task that installed the handlers, to hurry a
shutdown that hangs. Python's own default (SIGTERM and SIGHUP kill at once,
SIGINT raises `KeyboardInterrupt` anywhere) would skip all of that; the
handlers in place before `installed()` are restored on leaving it.

Outside the main thread signals cannot be handled; `installed()` then does
nothing.

Synchronous commands use `raising()` instead: inside it, SIGTERM and SIGHUP
raise `Stopped` in the main thread, as SIGINT raises `KeyboardInterrupt`, so
`finally:` blocks and context managers run on the way out; a
`subprocess.run` in progress kills its child (`kubeloop bench` runs each
measurement in one), where Python's default would leave it running. (As with
Ctrl-C, a signal that lands while `Popen` is still starting the child leaves
that child unknown to `run`.)

Neighbours: `runtime.cli` (the `run` command uses it).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any

import anyio

__all__ = ["STOP_SIGNALS", "StopSignals", "Stopped", "raising"]

STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class StopSignals:
    """See the module docstring."""

    def __init__(self) -> None:
        self._scope: anyio.CancelScope | None = None
        self.signal: signal.Signals | None = None

    @property
    def scope(self) -> anyio.CancelScope:
        """What a stop signal cancels (made by `installed()`, on the loop)."""
        if self._scope is None:
            raise RuntimeError("StopSignals.scope is made by installed()")
        return self._scope

    @property
    def exit_status(self) -> int:
        """The shell's status for a command ended by `signal` (128 + its number)."""
        if self.signal is None:
            raise RuntimeError("no stop signal was received")
        return 128 + int(self.signal)

    @contextlib.contextmanager
    def installed(self) -> Iterator[None]:
        """Handle the stop signals on the running loop while inside."""
        self._scope = anyio.CancelScope()
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        previous: dict[signal.Signals, Any] = {}
        for number in STOP_SIGNALS:
            previous[number] = signal.getsignal(number)
            loop.add_signal_handler(number, self._received, number, task)
        try:
            yield
        finally:
            for number, handler in previous.items():
                loop.remove_signal_handler(number)
                if handler is not None:  # None: set outside Python, cannot be restored
                    signal.signal(number, handler)

    def _received(self, number: signal.Signals, task: asyncio.Task[Any] | None) -> None:
        if self.signal is None:
            self.signal = number
            self.scope.cancel()
        elif task is not None:
            task.cancel()


class Stopped(BaseException):
    """SIGTERM or SIGHUP arrived inside `raising()` (a BaseException, as
    KeyboardInterrupt: `except Exception` must not swallow it)."""

    def __init__(self, number: signal.Signals) -> None:
        super().__init__(f"stopped by {number.name}")
        self.signal = number

    @property
    def exit_status(self) -> int:
        return 128 + int(self.signal)


@contextlib.contextmanager
def raising() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `Stopped` while inside (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(number: int, frame: object) -> None:
        raise Stopped(signal.Signals(number))

    previous = {number: signal.signal(number, stop) for number in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)
