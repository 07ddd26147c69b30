"""`ControllerHost`: one controller on a manager of its own, crashable and restartable.

The `Cluster` runs all controllers on one `Manager`. The simulation instead
hosts each controller (by name: "replicaset", "scheduler", or a user's) on a
manager of its own, built by that controller's setup function on a
`FaultyClient`, so faults can target one controller, and one controller can
crash and restart without the others.

A host is one long-lived task (`run`), because a manager's task group must be
entered and left by the same task. Each incarnation gets a fresh client, a
fresh manager (fresh informers: a new list) and a fresh controller object (no
memory of the last one: expectations, caches and queues are gone), with an
RNG derived from the seed, the name and the incarnation number. `crash()`
ends the current incarnation at once (every task of it is cancelled where it
stands); the next one starts `restart_after` virtual seconds later. `halt()`
ends it for good (the simulation halts controllers caught in a livelock).

Neighbours: `runtime.simulation.chaos` (the client), `engine.manager`,
`runtime.cluster.cluster.controller_setups` (the built-in setups),
`runtime.simulation.simulation` (runs the hosts).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc

from engine.client import Client
from engine.clock import Clock
from engine.manager import Manager
from engine.workqueue import WorkQueueStatistics
from runtime.simulation.chaos import FaultyClient
from runtime.simulation.injector import FaultInjector

__all__ = ["ControllerHost", "Setup"]

Setup = Callable[[Manager], Any]
"""Builds a controller on a manager (its client, informers, clock, rng) and adds it."""


class ControllerHost:
    """Runs one named controller through crashes and restarts (see the module docstring)."""

    def __init__(
        self,
        name: str,
        setup: Setup,
        *,
        client: Client,
        clock: Clock,
        injector: FaultInjector,
        seed: int,
        current_revision: Callable[[], int],
        on_error: Callable[[str, Exception], None] | None = None,
    ) -> None:
        self.name = name
        self.setup = setup
        self.base_client = client
        self.clock = clock
        self.injector = injector
        self.seed = seed
        self._current_revision = current_revision
        self._on_error = on_error
        self.errors = 0
        self.incarnation = 0
        self.restarts = 0
        self.manager: Manager | None = None
        self.controller_object: Any = None
        self.client: FaultyClient | None = None
        self._crashed: asyncio.Event | None = None
        self._scope: anyio.CancelScope | None = None
        self._restart_after = 0.0
        self._halted = False

    def crash(self, restart_after: float = 1.0) -> None:
        """End the running incarnation now; start a fresh one `restart_after` s later."""
        if self._crashed is not None and not self._crashed.is_set():
            self._restart_after = restart_after
            self._crashed.set()
            if self._scope is not None:
                # Also ends an incarnation still syncing its informers.
                self._scope.cancel()

    def halt(self) -> None:
        """End the running incarnation and start no other."""
        self._halted = True
        self.crash(0.0)

    @property
    def running(self) -> bool:
        return self.manager is not None

    def queues(self) -> list[WorkQueueStatistics]:
        if self.manager is None:
            return []
        return [c.queue.statistics() for c in self.manager.controllers]

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run incarnation after incarnation until cancelled; `started()` once the
        first one has synced its informers."""
        started = False
        while True:
            if self._halted:
                await anyio.sleep_forever()
            self.incarnation += 1
            crashed = asyncio.Event()
            self._crashed = crashed
            client = FaultyClient(
                self.base_client,
                self.injector,
                self.name,
                on_crash=self.crash,
                current_revision=self._current_revision,
            )
            self.client = client
            self.injector.clients[self.name] = client
            manager = Manager(
                client,
                clock=self.clock,
                rng=random.Random(f"{self.seed}/{self.name}/{self.incarnation}"),
            )
            # Informers get a client of their own, so faults can tell a cache
            # read (an informer's list) from a direct one.
            manager.factory.client = client.informer_client()
            self.controller_object = self.setup(manager)
            with anyio.CancelScope() as scope:
                self._scope = scope
                try:
                    async with manager:
                        self.manager = manager
                        if not started:
                            started = True
                            task_status.started()
                        await crashed.wait()
                except Exception as error:
                    # A controller task raised: the process would crash. Report
                    # it and restart, rather than end the whole simulation.
                    self.errors += 1
                    if self._on_error is not None:
                        self._on_error(self.name, error)
                    self._restart_after = 1.0
                finally:
                    self.manager = None
                    self._scope = None
            self.restarts += 1
            await self.clock.sleep(self._restart_after)
