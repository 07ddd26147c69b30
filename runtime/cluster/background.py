"""`ServedCluster`: a cluster that serves its HTTP API from a thread of its own,
for synchronous code and for clients that block (kubectl in a subprocess,
the official `kubernetes` client, kopf's own event loop).

    with ServedCluster(ClusterConfig(virtual_time=False)) as served:
        served.endpoint.write_kubeconfig(path)
        subprocess.run(["kubectl", "--kubeconfig", str(path), "get", "pods"])
        served.call(lambda cluster: cluster.wait_converged(timeout=30))

The cluster's event loop runs in the thread for as long as the `with` lasts,
so the API answers at any moment (unlike `SyncCluster`, whose loop runs only
during a call). `call(fn)` runs `await fn(cluster)` on that loop and returns
its result. Leaving stops the cluster (the server first) and joins the thread.
A served cluster should run on real time: on virtual time the loop would jump
over every idle moment, including the ones a client spends between requests.

Neighbours: `runtime.cluster.cluster`, `runtime.cluster.serving`,
`runtime.pytest_plugin`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar

from engine.registry import REGISTRY, Registry
from runtime.apiserver import Endpoint
from runtime.cluster.cluster import Cluster
from runtime.cluster.config import ClusterConfig
from runtime.cluster.serving import ServeOptions

__all__ = ["ServedCluster"]

T = TypeVar("T")

START_TIMEOUT = 60.0
"""Wall seconds a cluster may take to start serving before `__enter__` gives up."""


class ServedCluster:
    """See the module docstring."""

    def __init__(
        self,
        config: ClusterConfig | None = None,
        *,
        options: ServeOptions | None = None,
        registry: Registry = REGISTRY,
    ) -> None:
        self.config = config or ClusterConfig(virtual_time=False)
        self.options = options or ServeOptions()
        self.registry = registry
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        self._cluster: Cluster | None = None
        self._endpoint: Endpoint | None = None

    @property
    def endpoint(self) -> Endpoint:
        if self._endpoint is None:
            raise RuntimeError("the cluster is not serving: use `with ServedCluster(...)`")
        return self._endpoint

    @property
    def cluster(self) -> Cluster:
        """The running cluster; use it only through `call` (it lives on another thread)."""
        if self._cluster is None:
            raise RuntimeError("the cluster is not running")
        return self._cluster

    def __enter__(self) -> ServedCluster:
        self._thread = threading.Thread(target=self._run, name="kubeloop-served", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError(f"the cluster did not start serving within {START_TIMEOUT} s")
        if self._error is not None:
            self._thread.join()
            raise self._error
        return self

    def __exit__(self, *exc: object) -> None:
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(stop.set)
        if self._thread is not None:
            self._thread.join()
        self._endpoint = None
        if self._error is not None:
            raise self._error

    def call(self, fn: Callable[[Cluster], Awaitable[T]], timeout: float | None = None) -> T:
        """`await fn(cluster)` on the cluster's loop; its result (or exception)."""
        if self._loop is None:
            raise RuntimeError("the cluster is not running")

        async def run() -> T:
            return await fn(self.cluster)

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout)

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as error:  # reported to the thread that waits
            self._error = error
        finally:
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with Cluster(self.config, registry=self.registry, api=self.options) as cluster:
            self._cluster = cluster
            assert cluster.api is not None and cluster.api.endpoint is not None
            self._endpoint = cluster.api.endpoint
            self._ready.set()
            await self._stop.wait()
        self._cluster = None
