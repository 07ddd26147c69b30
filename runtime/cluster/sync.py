"""`SyncCluster`: the `Cluster` for plain (non-async) scripts.

    with SyncCluster(ClusterConfig()) as cluster:
        cluster.apply(Path("examples/nginx-deployment.yaml"))
        cluster.wait_converged(timeout=300)
        for line in cluster.logs("web-0", follow=True):
            ...

It hosts the `Cluster` on a `runtime.synchost.SyncHost`: an event loop of its
own, one task that enters the cluster and runs each call the script makes.
The loop runs only while a call is in progress: between calls the cluster is
paused, and on virtual time no time passes.

Its methods are generated from `Cluster`'s public methods, so the two never
drift apart: a coroutine method returns its result, an async iterator (`logs`)
becomes an ordinary iterator (each `next()` runs the loop until the next
item; closing it closes the async one), and a plain method runs on the
cluster's loop. Only the methods in `NOT_MIRRORED` are left out, each with its
reason; `call(fn)` reaches anything else (`await fn(cluster)`).

Neighbours: `runtime.cluster.cluster`, `runtime.synchost`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from runtime.cluster.cluster import Cluster
from runtime.cluster.config import ClusterConfig
from runtime.synchost import SyncHost

__all__ = ["NOT_MIRRORED", "SyncCluster", "mirrored_methods"]

T = TypeVar("T")

NOT_MIRRORED: dict[str, str] = {
    "kubelet": "returns a live Kubelet whose methods are coroutines: use "
    "call(lambda c: c.kubelet(name).method())",
    "serve": "the API would answer only while a call runs the loop: serve from a thread "
    "of its own with runtime.cluster.background.ServedCluster",
}
"""Public `Cluster` methods `SyncCluster` does not offer, and why."""


def mirrored_methods() -> list[str]:
    """Every public method of `Cluster` that `SyncCluster` offers, in definition order."""
    return [
        name
        for name, value in vars(Cluster).items()
        if not name.startswith("_") and inspect.isfunction(value) and name not in NOT_MIRRORED
    ]


class SyncCluster:
    """See the module docstring. `call(fn)` runs `await fn(cluster)`; every
    method of `Cluster` (`mirrored_methods()`) is there as an ordinary call."""

    def __init__(self, config: ClusterConfig | None = None) -> None:
        self.config = config or ClusterConfig()
        self._host: SyncHost[Cluster] = SyncHost(lambda: Cluster(self.config))

    @property
    def cluster(self) -> Cluster | None:
        """The hosted `Cluster` while it runs (its `store`, `clock`, `client`...)."""
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

    def iterate(self, make: Callable[[Cluster], AsyncIterator[T]]) -> Iterator[T]:
        """Iterate `make(cluster)` (an async iterator) from synchronous code."""
        cluster = self._host.value
        if cluster is None:
            raise RuntimeError("use `with SyncCluster(...) as cluster:`")
        aiter = make(cluster)

        async def step(_: Cluster) -> T:
            return await aiter.__anext__()

        try:
            while True:
                try:
                    yield self.call(step)
                except StopAsyncIteration:
                    return
        finally:
            aclose = getattr(aiter, "aclose", None)
            if aclose is not None and self._host.running:
                self.call(lambda _: aclose())

    if TYPE_CHECKING:  # the generated methods below; typed as their `Cluster` originals

        def __getattr__(self, name: str) -> Any: ...


def _mirror(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    if inspect.isasyncgenfunction(original):

        def method(self: SyncCluster, /, *args: Any, **kwargs: Any) -> Any:
            return self.iterate(lambda c: getattr(c, name)(*args, **kwargs))

    elif inspect.iscoroutinefunction(original):

        def method(self: SyncCluster, /, *args: Any, **kwargs: Any) -> Any:
            return self.call(lambda c: getattr(c, name)(*args, **kwargs))

    else:

        def method(self: SyncCluster, /, *args: Any, **kwargs: Any) -> Any:
            async def run(c: Cluster) -> Any:
                return getattr(c, name)(*args, **kwargs)

            return self.call(run)

    functools.update_wrapper(method, original)  # name, docstring, signature for help()
    return method


for _name in mirrored_methods():
    setattr(SyncCluster, _name, _mirror(_name, getattr(Cluster, _name)))
