"""`SyncCluster`: the `Cluster` for plain (non-async) scripts.

    with SyncCluster(ClusterConfig()) as cluster:
        cluster.apply(Path("examples/nginx-deployment.yaml"))
        cluster.wait_converged(timeout=300)

It hosts the `Cluster` on a `runtime.synchost.SyncHost`: an event loop of its
own, one task that enters the cluster and runs each call the script makes.
The loop runs only while a call is in progress: between calls the cluster is
paused, and on virtual time no time passes.

Neighbours: `runtime.cluster.cluster`, `runtime.synchost`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from runtime.cluster.cluster import Cluster
from runtime.cluster.config import ClusterConfig
from runtime.synchost import SyncHost

__all__ = ["SyncCluster"]

T = TypeVar("T")


class SyncCluster:
    """See the module docstring. `call(fn)` runs `await fn(cluster)`; the common
    methods are spelled out."""

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self._host: SyncHost[Cluster] = SyncHost(lambda: Cluster(self.config))

    @property
    def cluster(self) -> Cluster | None:
        return self._host.value

    def __enter__(self) -> SyncCluster:
        self._host.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._host.close()

    def call(self, fn: Callable[[Cluster], Awaitable[T]]) -> T:
        """Run `await fn(cluster)` on the cluster's loop and return its result."""
        if not self._host.running:
            raise RuntimeError("use `with SyncCluster(...) as cluster:`")
        return self._host.call(fn)

    def apply(self, source: Any) -> Any:
        return self.call(lambda c: c.apply(source))

    def get(self, kind: Any, name: str, namespace: str | None = None) -> Any:
        return self.call(lambda c: c.get(kind, name, namespace))

    def delete(self, kind: Any, name: str, namespace: str | None = None) -> None:
        self.call(lambda c: c.delete(kind, name, namespace))

    def scale(self, kind: Any, name: str, replicas: int, namespace: str | None = None) -> Any:
        return self.call(lambda c: c.scale(kind, name, replicas, namespace))

    def drain_node(self, node: str, timeout: float | None = None) -> list[str]:
        return self.call(lambda c: c.drain_node(node, timeout=timeout))

    def wait_converged(self, timeout: float | None = None) -> None:
        self.call(lambda c: c.wait_converged(timeout=timeout))

    def converged(self) -> bool:
        async def check(c: Cluster) -> bool:
            return c.converged()

        return self.call(check)
