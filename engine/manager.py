"""The `Manager`: runs informers and controllers together and stops them cleanly.

Start-up order is Kubernetes': start every informer, wait until all caches
have synced, then start the controllers' workers (and any extra runnables),
so no reconcile ever runs on an empty cache. Everything runs in one anyio task
group; leaving `async with manager:` (or cancelling `run()`) cancels that group
and waits for every task in it, so nothing of the manager is left running.

    async with Manager(client, clock=clock) as mgr:   # informers synced here
        ...

or, to run until cancelled: `await manager.run()`.

Neighbours: `engine.informer.InformerFactory`, `engine.controller.Controller`.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Coroutine
from contextlib import AsyncExitStack
from typing import Any

import anyio
import anyio.abc

from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller
from engine.informer import InformerFactory

__all__ = ["Manager"]

Runnable = Callable[[], Coroutine[Any, Any, Any]]


class Manager:
    """Informer factory + controllers + runnables, started and stopped together."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        resync_period: float = 0.0,
    ) -> None:
        self.client = client
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.factory = InformerFactory(client, clock=clock, resync_period=resync_period)
        self.controllers: list[Controller] = []
        self._runnables: list[Runnable] = []
        self._stack: AsyncExitStack | None = None
        self._cancel: anyio.CancelScope | None = None
        self._task_group: anyio.abc.TaskGroup | None = None

    def add(self, controller: Controller) -> Controller:
        """Add a controller; if the manager runs already, it starts at once."""
        self.controllers.append(controller)
        if self._task_group is not None:
            self._task_group.start_soon(controller.run)
        return controller

    def add_runnable(self, runnable: Runnable) -> None:
        """Run `runnable()` alongside the controllers (after caches synced)."""
        self._runnables.append(runnable)
        if self._task_group is not None:
            self._task_group.start_soon(runnable)

    @property
    def running(self) -> bool:
        return self._task_group is not None

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled. Signals `task_status.started()` once caches synced."""
        try:
            async with anyio.create_task_group() as tg:
                self.factory.start(tg)
                await self.factory.wait_for_sync()
                self._task_group = tg
                for controller in self.controllers:
                    tg.start_soon(controller.run)
                for runnable in self._runnables:
                    tg.start_soon(runnable)
                task_status.started()
                await anyio.sleep_forever()
        finally:
            self._task_group = None
            self.factory.stop()
            for controller in self.controllers:
                controller.queue.shutdown()

    async def __aenter__(self) -> Manager:
        stack = AsyncExitStack()
        tg = await stack.enter_async_context(anyio.create_task_group())
        self._cancel = tg.cancel_scope
        self._stack = stack
        try:
            await tg.start(self.run)
        except BaseException:
            tg.cancel_scope.cancel()
            await stack.aclose()
            self._stack = None
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None and self._cancel is not None
        self._cancel.cancel()
        # The body's own exception is not the task group's: leave it unwrapped
        # (anyio would wrap it in an ExceptionGroup) and let it propagate as is.
        await stack.__aexit__(None, None, None)
        return None
