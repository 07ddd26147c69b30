"""Suite `network_proxy`: the process runtime's real data plane, measured side by side.

* proxy_throughput_ratio: HTTP requests/s through a Service's ClusterIP
  (kube-proxy, `runtime.network.proxier`) over requests/s straight to the pod,
  same client and server (target >= 0.5);
* proxy_added_p99_ms: the p99 latency of one sequential client through the
  ClusterIP minus straight to the pod (target <= 2 ms);
* ingress_throughput_ratio: requests/s through the ingress controller
  (`runtime.network.ingress`) over straight to the pod (target >= 0.3).

The server and the load generator are separate processes
(`benchmarks.network_load`); kube-proxy and the ingress controller run in
this one, on informers over an in-memory store holding the Service, its
EndpointSlice and the Ingress, as in a process cluster. Each ratio's runs
alternate direct and proxied measurements so machine load affects both.
`run()` returns the figures (the lead wires the suite into
`benchmarks.__main__`).
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio

from benchmarks.harness import Figure
from engine.client import LocalClient
from engine.clock import RealClock
from engine.informer import InformerFactory
from engine.manifests import parse_object
from engine.store import Store
from runtime.network.config import LOOPBACK_SERVICE_CIDR
from runtime.network.hostaddresses import HostAddresses
from runtime.network.ingress import IngressController
from runtime.network.proxier import KubeProxy

POD = "127.128.200.2"
CLUSTER_IP = "127.96.200.1"
INGRESS = "127.0.0.1"


def _free_port(address: str) -> int:
    with socket.socket() as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _objects(port: int) -> list[Any]:
    return [
        parse_object(m)
        for m in (
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "bench", "namespace": "default"},
                "spec": {"clusterIP": CLUSTER_IP, "ports": [{"name": "http", "port": port}]},
            },
            {
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": {
                    "name": "bench-1",
                    "namespace": "default",
                    "labels": {"kubernetes.io/service-name": "bench"},
                },
                "addressType": "IPv4",
                "endpoints": [{"addresses": [POD], "conditions": {"ready": True}}],
                "ports": [{"name": "http", "port": port}],
            },
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "Ingress",
                "metadata": {"name": "bench", "namespace": "default"},
                "spec": {
                    "ingressClassName": "kubeloop",
                    "rules": [
                        {
                            "host": "bench.test",
                            "http": {
                                "paths": [
                                    {
                                        "path": "/",
                                        "pathType": "Prefix",
                                        "backend": {
                                            "service": {"name": "bench", "port": {"number": port}}
                                        },
                                    }
                                ]
                            },
                        }
                    ],
                },
            },
        )
    ]


@contextmanager
def _process(*argv: str, wait_line: bool = False) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.network_load", *argv],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        if wait_line:
            assert process.stdout is not None
            process.stdout.readline()
        yield process
    finally:
        process.kill()
        process.wait()


def _client(
    address: str, port: int, host: str, connections: int, seconds: float
) -> dict[str, float]:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.network_load",
            "client",
            address,
            str(port),
            host,
            str(connections),
            str(seconds),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    figures: dict[str, float] = json.loads(result.stdout)
    if figures["errors"]:
        raise RuntimeError(f"{figures['errors']:.0f} failed requests to {address}:{port}")
    return figures


@contextmanager
def _data_plane(port: int) -> Iterator[tuple[int, int]]:
    """kube-proxy and the ingress controller on a thread's own loop; yields
    the ingress controller's HTTP port once both are serving."""
    ready: list[int] = []
    started = threading.Event()
    stop: list[asyncio.AbstractEventLoop | asyncio.Event] = []

    async def main() -> None:
        store = Store(service_cidr=LOOPBACK_SERVICE_CIDR)
        for obj in _objects(port):
            store.create(obj)
        clock = RealClock()
        client = LocalClient(store)
        factory = InformerFactory(client, clock=clock)
        proxy = KubeProxy(
            factory,
            ["bench"],
            clock=clock,
            rng=random.Random(1),
            addresses=HostAddresses("loopback"),
        )
        ingress = IngressController(
            factory,
            client,
            address=INGRESS,
            port=0,
            tls_port=0,
            ingress_class="kubeloop",
            addresses=HostAddresses("loopback"),
            rng=random.Random(2),
        )
        await ingress.start()
        done = asyncio.Event()
        stop.extend([asyncio.get_running_loop(), done])
        try:
            async with anyio.create_task_group() as group:
                factory.start(group)
                group.start_soon(proxy.run)
                await proxy.wait_synced()
                await factory.wait_for_sync()
                ready.append(ingress.port)
                started.set()
                await done.wait()
                group.cancel_scope.cancel()
        finally:
            await ingress.aclose()

    thread = threading.Thread(target=lambda: asyncio.run(main()), daemon=True)
    thread.start()
    if not started.wait(30):
        raise RuntimeError("the data plane did not start")
    try:
        yield ready[0], port
    finally:
        loop, done = stop
        assert isinstance(loop, asyncio.AbstractEventLoop) and isinstance(done, asyncio.Event)
        loop.call_soon_threadsafe(done.set)
        thread.join(30)


def run(quick: bool, repeat: int) -> list[Figure]:
    seconds = 1.0 if quick else 3.0
    connections = 8
    port = _free_port(POD)
    proxy_ratios: list[float] = []
    ingress_ratios: list[float] = []
    added: list[float] = []
    with _process("server", POD, str(port), wait_line=True), _data_plane(port) as (ingress_port, _):
        _client(POD, port, "pod", connections, 0.3)  # warm up every path
        _client(CLUSTER_IP, port, "svc", connections, 0.3)
        _client(INGRESS, ingress_port, "bench.test", connections, 0.3)
        for _ in range(max(1, repeat)):
            direct = _client(POD, port, "pod", connections, seconds)
            proxied = _client(CLUSTER_IP, port, "svc", connections, seconds)
            ingress = _client(INGRESS, ingress_port, "bench.test", connections, seconds)
            proxy_ratios.append(proxied["requests_per_s"] / direct["requests_per_s"])
            ingress_ratios.append(ingress["requests_per_s"] / direct["requests_per_s"])
            alone = _client(POD, port, "pod", 1, seconds)
            through = _client(CLUSTER_IP, port, "svc", 1, seconds)
            added.append(through["p99_ms"] - alone["p99_ms"])

    def median(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return [
        Figure(
            "proxy_throughput_ratio",
            median(proxy_ratios),
            "ratio",
            0.5,
            "higher",
            "kube-proxy iptables mode forwards in the kernel (ratio ~1)",
            tuple(proxy_ratios),
        ),
        Figure(
            "proxy_added_p99_ms",
            median(added),
            "ms",
            2.0,
            "lower",
            "one sequential client, p99 through the ClusterIP minus direct",
            tuple(added),
        ),
        Figure(
            "ingress_throughput_ratio",
            median(ingress_ratios),
            "ratio",
            0.3,
            "higher",
            "ingress-nginx: an HTTP proxy in front of the pods",
            tuple(ingress_ratios),
        ),
    ]


if __name__ == "__main__":
    from benchmarks.harness import print_table

    print_table("network_proxy", run("--quick" in sys.argv, 1))
