"""Acceptance: a Service in front of three real `python -m http.server` pods,
loopback network mode (each pod at its own 127.x address, bound to $POD_IP).

The EndpointSlice is written by the test (`publish_endpoints`) until the
EndpointSlice controller runs in kubeloop clusters; the test then only waits
for the controller's slice.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest

from engine.api.core import Node, Pod, Service
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.runtime.network.netfixtures import (
    eventually,
    free_loopback_address,
    free_port,
    get_text,
    http_pod,
    publish_endpoints,
    wait_ready,
)

NAMES = ["web-a", "web-b", "web-c"]


@contextlib.asynccontextmanager
async def process_cluster(nodes: int = 2) -> AsyncIterator[Cluster]:
    config = ClusterConfig(
        node_pools=(NodePool(count=nodes),), runtime="process", virtual_time=False, seed=7
    )
    async with Cluster(config) as cluster:
        yield cluster


async def test_cluster_ip_and_node_port_reach_every_pod_and_drop_a_deleted_one() -> None:
    pod_port = free_port()
    node_port = free_port("127.0.0.1", 30000, 32767)
    cluster_ip = free_loopback_address(80)
    async with process_cluster() as cluster:
        for name in NAMES:
            await cluster.apply(http_pod(name, pod_port, labels={"app": "web"}))
        await cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "type": "NodePort",
                    # Until ClusterIP allocation lands: an address of the loopback service range.
                    "clusterIP": cluster_ip,
                    "selector": {"app": "web"},
                    "ports": [
                        {"name": "http", "port": 80, "targetPort": "http", "nodePort": node_port}
                    ],
                },
            }
        )
        await wait_ready(cluster, NAMES)
        pods = {name: await cluster.get(Pod, name, "default") for name in NAMES}
        ips = {pod.status.pod_ip for pod in pods.values()}
        # Every pod has its own loopback address, from its node's loopback podCIDR.
        assert len(ips) == 3 and all(ip and ip.startswith("127.128.") for ip in ips)
        await publish_endpoints(cluster, "web")
        assert cluster.network is not None
        proxy = cluster.network.proxy
        await eventually(lambda: (cluster_ip, 80, "TCP") in proxy.listeners)

        seen: list[str] = []
        for _ in range(30):
            status, text = await get_text(f"http://{cluster_ip}/id.txt")
            assert status == 200
            seen.append(text.strip())
        assert set(seen) == set(NAMES)

        status, text = await get_text(f"http://127.0.0.1:{node_port}/id.txt")
        assert (status, text.strip() in NAMES) == (200, True)
        node = (await cluster.get(Pod, "web-a", "default")).spec.node_name
        assert node is not None
        node_ip = next(
            a.address
            for a in (await cluster.get(Node, node)).status.addresses
            if a.type == "InternalIP"
        )
        status, _ = await get_text(f"http://{node_ip}:{node_port}/id.txt")
        assert status == 200

        # web-b goes; once its endpoint is gone from the slice, it gets nothing.
        await cluster.delete(Pod, "web-b", "default")
        await publish_endpoints(cluster, "web")

        def without_b() -> bool:
            frontend = proxy.frontend(cluster_ip, 80)
            return frontend is not None and pods["web-b"].status.pod_ip not in {
                b.ip for b in frontend.backends if b.ready
            }

        await eventually(without_b)
        after = [(await get_text(f"http://{cluster_ip}/id.txt"))[1].strip() for _ in range(20)]
        assert "web-b" not in after and set(after) == {"web-a", "web-c"}


async def test_no_endpoint_refuses_the_connection() -> None:
    cluster_ip = free_loopback_address(8080, base="127.96.8.")
    async with process_cluster(nodes=1) as cluster:
        await cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "empty", "namespace": "default"},
                "spec": {
                    "clusterIP": cluster_ip,
                    "selector": {"app": "nothing"},
                    "ports": [{"port": 8080}],
                },
            }
        )
        await publish_endpoints(cluster, "empty")
        assert cluster.network is not None
        await eventually(lambda: cluster.network.proxy.frontend(cluster_ip, 8080) is not None)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(cluster_ip, 8080)
        service = await cluster.get(Service, "empty", "default")
        assert service.spec.cluster_ip == cluster_ip
