"""`SyncHost`: an async context manager driven from synchronous code.

    host = SyncHost(lambda: Cluster(config))
    host.start()
    host.call(lambda cluster: cluster.apply(text))
    host.close()

It owns an event loop (`asyncio.Runner`). One host task enters the context
manager `factory()` makes and then runs each `call(fn)` (`await fn(value)`),
so task groups inside it are entered and left by the same task, as anyio
requires. The loop runs only while a call is in progress: between calls the
hosted object is paused, and on virtual time no time passes.

If the hosted object's context dies (a task of it raised), the call waiting
on it, and every later call, raise `RuntimeError` naming the error; an
exception raised by `fn` itself is only that call's.

Neighbours: `runtime.cluster.sync` (`SyncCluster`), `runtime.simulation.session`
(`SimulationSession`), both built on it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, TypeVar

__all__ = ["SyncHost"]

H = TypeVar("H")
T = TypeVar("T")
_Command = tuple[Callable[[Any], Awaitable[Any]], "asyncio.Future[Any]"]


class SyncHost(Generic[H]):
    """See the module docstring. `value` is the hosted object while it runs;
    `last` stays the last one entered after it has stopped."""

    def __init__(self, factory: Callable[[], AbstractAsyncContextManager[H]]) -> None:
        self.factory = factory
        self.value: H | None = None
        self.last: H | None = None
        self._runner: asyncio.Runner | None = None
        self._commands: asyncio.Queue[_Command | None] | None = None
        self._host: asyncio.Task[None] | None = None
        self._current: asyncio.Future[Any] | None = None
        self._dead: BaseException | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    def start(self) -> None:
        """Enter the hosted context; raises what entering it raised."""
        self._runner = asyncio.Runner()
        try:
            self._runner.run(self._start())
        except BaseException:
            self._runner.close()
            self._runner = None
            raise

    def close(self) -> None:
        """Leave the hosted context and close the loop (idempotent)."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            runner.run(self._stop())
        finally:
            runner.close()

    def call(self, fn: Callable[[H], Awaitable[T]]) -> T:
        """Run `await fn(value)` on the host's loop and return its result."""
        if self._runner is None:
            raise RuntimeError("the host is not started")
        return self._runner.run(self._submit(fn))

    async def _start(self) -> None:
        self._commands = asyncio.Queue()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._host = asyncio.create_task(self._serve(started))
        await started

    async def _serve(self, started: asyncio.Future[None]) -> None:
        assert self._commands is not None
        try:
            async with self.factory() as value:
                self.value = self.last = value
                started.set_result(None)
                while (command := await self._commands.get()) is not None:
                    fn, done = command
                    self._current = done
                    try:
                        done.set_result(await fn(value))
                    except Exception as error:
                        done.set_exception(error)
                    self._current = None
        except BaseException as error:
            # The hosted object itself died: whoever waits must hear of it.
            self._dead = error
            for waiter in (started, self._current):
                if waiter is not None and not waiter.done():
                    waiter.set_exception(
                        error
                        if isinstance(error, Exception)
                        else RuntimeError(f"the hosted object stopped: {error!r}")
                    )
            if isinstance(error, Exception):
                return
            raise
        finally:
            self.value = None

    async def _stop(self) -> None:
        if self._commands is not None and self._host is not None:
            await self._commands.put(None)
            await self._host

    async def _submit(self, fn: Callable[[H], Awaitable[T]]) -> T:
        assert self._commands is not None
        if self._dead is not None:
            raise RuntimeError(f"the hosted object stopped: {self._dead!r}")
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._commands.put((fn, done))
        return await done
