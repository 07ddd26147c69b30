"""`SyncHost`: an async context manager driven from synchronous code."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
import anyio.lowlevel
import pytest

from runtime.synchost import SyncHost


class Counter:
    def __init__(self) -> None:
        self.n = 0

    async def bump(self) -> int:
        await anyio.lowlevel.checkpoint()
        self.n += 1
        return self.n


@asynccontextmanager
async def counter(events: list[str]) -> AsyncIterator[Counter]:
    events.append("enter")
    try:
        yield Counter()
    finally:
        events.append("exit")


def test_calls_run_on_the_hosted_object_between_enter_and_exit() -> None:
    events: list[str] = []
    host = SyncHost(lambda: counter(events))
    with pytest.raises(RuntimeError, match="not started"):
        host.call(lambda c: c.bump())
    host.start()
    assert [host.call(lambda c: c.bump()) for _ in range(3)] == [1, 2, 3]
    assert host.value is host.last is not None
    host.close()
    host.close()  # idempotent
    assert events == ["enter", "exit"]
    assert host.value is None and host.last is not None and host.last.n == 3


def test_an_error_of_one_call_is_that_calls_only() -> None:
    host = SyncHost(lambda: counter([]))
    host.start()

    async def fail(_: Counter) -> None:
        raise ValueError("bad call")

    with pytest.raises(ValueError, match="bad call"):
        host.call(fail)
    assert host.call(lambda c: c.bump()) == 1
    host.close()


@asynccontextmanager
async def dying(started: anyio.Event) -> AsyncIterator[Counter]:
    async with anyio.create_task_group() as tg:

        async def crash() -> None:
            await started.wait()
            raise OSError("the hosted object broke")

        tg.start_soon(crash)
        yield Counter()


def test_a_hosted_object_that_dies_fails_the_waiting_call_and_every_later_one() -> None:
    started: list[anyio.Event] = []

    def make() -> AbstractAsyncContextManager[Counter]:
        started.append(anyio.Event())
        return dying(started[0])

    host = SyncHost(make)
    host.start()

    async def wait(_: Counter) -> None:
        started[0].set()  # the hosted object breaks while this call waits
        await anyio.Event().wait()

    with pytest.raises(BaseExceptionGroup) as caught:
        host.call(wait)
    assert caught.group_contains(OSError, match="the hosted object broke")
    with pytest.raises(RuntimeError, match="stopped"):
        host.call(lambda c: c.bump())
    host.close()
