"""`SyncCluster`: the `Cluster` for plain (non-async) scripts.

    with SyncCluster(ClusterConfig()) as cluster:
        cluster.apply(Path("examples/nginx-deployment.yaml"))
        cluster.wait_converged(timeout=300)

It owns an event loop (`asyncio.Runner`). One host task enters the `Cluster`
and then runs each call the script makes, so the cluster's task groups are
entered and left by the same task. The loop runs only while a call is in
progress: between calls the cluster is paused, and on virtual time no time
passes.

Neighbours: `runtime.cluster.cluster`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from runtime.cluster.cluster import Cluster
from runtime.cluster.config import ClusterConfig

__all__ = ["SyncCluster"]

T = TypeVar("T")
_Command = tuple[Callable[[Cluster], Awaitable[Any]], "asyncio.Future[Any]"]


class SyncCluster:
    """See the module docstring. `call(fn)` runs `await fn(cluster)`; the common
    methods are spelled out."""

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self._runner: asyncio.Runner | None = None
        self._commands: asyncio.Queue[_Command | None] | None = None
        self._host: asyncio.Task[None] | None = None
        self.cluster: Cluster | None = None

    def __enter__(self) -> SyncCluster:
        self._runner = asyncio.Runner()
        self._runner.run(self._start())
        return self

    def __exit__(self, *exc: object) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            runner.run(self._stop())
        finally:
            runner.close()

    async def _start(self) -> None:
        self._commands = asyncio.Queue()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._host = asyncio.create_task(self._serve(started))
        await started

    async def _serve(self, started: asyncio.Future[None]) -> None:
        assert self._commands is not None
        try:
            async with Cluster(self.config) as cluster:
                self.cluster = cluster
                started.set_result(None)
                while (command := await self._commands.get()) is not None:
                    fn, done = command
                    try:
                        done.set_result(await fn(cluster))
                    except Exception as error:
                        done.set_exception(error)
        except Exception as error:
            if not started.done():
                started.set_exception(error)
            raise
        finally:
            self.cluster = None

    async def _stop(self) -> None:
        if self._commands is not None and self._host is not None:
            await self._commands.put(None)
            await self._host

    async def _submit(self, fn: Callable[[Cluster], Awaitable[T]]) -> T:
        assert self._commands is not None
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._commands.put((fn, done))
        return await done

    def call(self, fn: Callable[[Cluster], Awaitable[T]]) -> T:
        """Run `await fn(cluster)` on the cluster's loop and return its result."""
        if self._runner is None:
            raise RuntimeError("use `with SyncCluster(...) as cluster:`")
        return self._runner.run(self._submit(fn))

    def apply(self, source: Any) -> Any:
        return self.call(lambda c: c.apply(source))

    def get(self, kind: Any, name: str, namespace: str | None = None) -> Any:
        return self.call(lambda c: c.get(kind, name, namespace))

    def delete(self, kind: Any, name: str, namespace: str | None = None) -> None:
        self.call(lambda c: c.delete(kind, name, namespace))

    def scale(self, kind: Any, name: str, replicas: int, namespace: str | None = None) -> Any:
        return self.call(lambda c: c.scale(kind, name, replicas, namespace))

    def wait_converged(self, timeout: float | None = None) -> None:
        self.call(lambda c: c.wait_converged(timeout=timeout))

    def converged(self) -> bool:
        async def check(c: Cluster) -> bool:
            return c.converged()

        return self.call(check)
