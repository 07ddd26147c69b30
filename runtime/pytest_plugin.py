"""kubeloop's pytest plugin (entry point `pytest11`, loaded wherever kubeloop
is installed): a fresh cluster per test.

Fixtures:

* `kubeloop_cluster` (async): a `Cluster` in the test's event loop, on virtual
  time (a simulated hour passes in milliseconds), for tests that use
  kubeloop's own API.
* `kubeloop_served`: a `ServedCluster`, serving the Kubernetes HTTP API from a
  thread of its own on real time, for code that talks HTTP (kubectl, the
  official clients, kopf). `kubeloop_served.endpoint` has the URL, token and CA.
* `kubeconfig`: the served cluster's kubeconfig written to the test's temporary
  directory, with `KUBECONFIG` set to it for the test (and restored after);
  the `kubernetes` and `kubernetes_asyncio` clients, which read `KUBECONFIG`
  when first imported, are pointed at it as well if already imported.

The cluster's shape comes from the `kubeloop` marker, else from the command
line options, else the defaults (3 simulated nodes):

    @pytest.mark.kubeloop(nodes=5, runtime="process")
    def test_something(kubeconfig): ...

    pytest --kubeloop-nodes 1 --kubeloop-runtime simulated

Neighbours: `runtime.cluster` (`Cluster`, `ServedCluster`).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

__all__ = ["cluster_config"]

MARKER = "kubeloop"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kubeloop", "kubeloop clusters")
    group.addoption(
        "--kubeloop-nodes", type=int, default=None, help="nodes per kubeloop cluster (default 3)"
    )
    group.addoption(
        "--kubeloop-runtime",
        choices=("simulated", "process"),
        default=None,
        help="container runtime of kubeloop clusters (default simulated)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(nodes=3, runtime='simulated', seed=0): the shape of this test's "
        "kubeloop cluster",
    )


def cluster_config(request: pytest.FixtureRequest, *, virtual_time: bool) -> Any:
    """The `ClusterConfig` for this test (marker, then options, then defaults)."""
    from runtime.cluster import ClusterConfig, NodePool

    marker = request.node.get_closest_marker(MARKER)
    settings: dict[str, Any] = dict(marker.kwargs) if marker is not None else {}
    unknown = sorted(set(settings) - {"nodes", "runtime", "seed"})
    if unknown:
        raise pytest.UsageError(
            f"@pytest.mark.{MARKER}: unknown argument(s) {', '.join(unknown)} "
            "(nodes, runtime, seed)"
        )
    option = request.config.getoption
    nodes = settings.get("nodes", option("--kubeloop-nodes") or 3)
    runtime = settings.get("runtime", option("--kubeloop-runtime") or "simulated")
    return ClusterConfig(
        node_pools=(NodePool(count=nodes),),
        runtime=runtime,
        virtual_time=virtual_time,
        seed=settings.get("seed", 0),
    )


@pytest.fixture
async def kubeloop_cluster(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    from runtime.cluster import Cluster

    # The cluster is entered and left in a task of its own: pytest-asyncio may
    # set a fixture up and tear it down in different tasks, and the cluster's
    # task groups must be left in the task that entered them.
    config = cluster_config(request, virtual_time=True)
    started: asyncio.Future[Cluster] = asyncio.get_running_loop().create_future()
    stop = asyncio.Event()

    async def host() -> None:
        try:
            async with Cluster(config) as cluster:
                started.set_result(cluster)
                await stop.wait()
        except BaseException as error:
            if not started.done():
                started.set_exception(error)
            raise

    task = asyncio.create_task(host())
    try:
        yield await started
    finally:
        stop.set()
        await task


@pytest.fixture
def kubeloop_served(request: pytest.FixtureRequest) -> Iterator[Any]:
    from runtime.cluster.background import ServedCluster

    with ServedCluster(cluster_config(request, virtual_time=False)) as served:
        yield served


@pytest.fixture
def kubeconfig(kubeloop_served: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path: Path = kubeloop_served.endpoint.write_kubeconfig(tmp_path / "kubeconfig")
    monkeypatch.setenv("KUBECONFIG", str(path))
    # The official clients read KUBECONFIG once, when first imported: point an
    # already imported one at this cluster too (kopf's login goes through it).
    for module_name in ("kubernetes.config.kube_config", "kubernetes_asyncio.config.kube_config"):
        module = sys.modules.get(module_name)
        if module is not None:
            monkeypatch.setattr(module, "KUBE_CONFIG_DEFAULT_LOCATION", str(path))
    return path
