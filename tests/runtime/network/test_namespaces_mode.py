"""Acceptance: the `namespaces` network mode (Linux, root or CAP_NET_ADMIN).

Three `python -m http.server` pods all bind 0.0.0.0 on one port, each in its
own network namespace behind its node's bridge; a Service reaches all three;
the Service's name resolves inside a pod through cluster DNS (the pod's
resolv.conf); everything created is gone when the cluster is; what a killed
run left is swept at the next start. The EndpointSlice is written by the test
until the EndpointSlice controller runs in clusters.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from engine.api.core import Pod
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.network import iproute
from runtime.network.config import ProcessNetworkConfig
from runtime.runtimes.process import ProcessRuntime
from tests.runtime.network.netfixtures import (
    eventually,
    get_text,
    http_pod,
    publish_endpoints,
    wait_ready,
)

WHY_NOT = iproute.available()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=WHY_NOT or "")

NAMES = ["ns-a", "ns-b", "ns-c"]


def owned(tag: str) -> list[str]:
    """Namespaces, links and lo addresses whose names carry `tag`."""
    found: list[str] = []
    for args in (["netns", "list"], ["-o", "link", "show"], ["-o", "addr", "show", "dev", "lo"]):
        out = subprocess.run(["ip", *args], capture_output=True, text=True, check=False).stdout
        found += [line for line in out.splitlines() if tag in line]
    return found


async def test_pods_bind_0000_on_one_port_and_resolve_the_service_by_name() -> None:
    # Addresses of this process's own, so parallel runs do not meet.
    unique = os.getpid() % 200 + 20
    cluster_ip = f"10.96.{unique}.1"
    network = ProcessNetworkConfig(mode="namespaces", dns_address=f"169.254.20.{unique}")
    config = ClusterConfig(
        node_pools=(NodePool(count=2),),
        runtime="process",
        virtual_time=False,
        seed=5,
        network=network,
    )
    async with Cluster(config) as cluster:
        for name in NAMES:
            await cluster.apply(http_pod(name, 8080, labels={"app": "ns"}, bind="0.0.0.0"))
        await cluster.apply(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {
                    "clusterIP": cluster_ip,
                    "selector": {"app": "ns"},
                    "ports": [{"name": "http", "port": 80, "targetPort": 8080}],
                },
            }
        )
        await wait_ready(cluster, NAMES)
        pods = {name: await cluster.get(Pod, name, "default") for name in NAMES}
        # Pod IPs from the nodes' podCIDRs (10.x), not loopback.
        assert all((p.status.pod_ip or "").startswith("10.") for p in pods.values())
        await publish_endpoints(cluster, "web")
        assert cluster.network is not None
        proxy = cluster.network.proxy
        await eventually(lambda: (cluster_ip, 80, "TCP") in proxy.listeners)
        seen = {(await get_text(f"http://{cluster_ip}/id.txt"))[1].strip() for _ in range(24)}
        assert seen == set(NAMES)

        # Inside pod ns-a: the Service's short name resolves (search domains of
        # the pod's resolv.conf, cluster DNS) and answers.
        pod = pods["ns-a"]
        assert pod.spec.node_name is not None and pod.metadata.uid is not None
        runtime = cluster.kubelet(pod.spec.node_name).runtime
        assert isinstance(runtime, ProcessRuntime)
        script = (
            "import socket, urllib.request;"
            "print(socket.gethostbyname('web'));"
            "print(urllib.request.urlopen('http://web/id.txt', timeout=5).status)"
        )
        argv = runtime.pod_command(pod.metadata.uid, [sys.executable, "-c", script])
        process = await asyncio.create_subprocess_exec(
            *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
        assert output.decode().split() == [cluster_ip, "200"], output.decode()
        assert owned(iproute.owner_tag())
    assert owned(iproute.owner_tag()) == []


def test_what_a_killed_run_left_is_swept() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    tag = iproute.owner_tag(dead.pid)
    subprocess.run(["ip", "netns", "add", f"{tag}-stale"], check=True)
    subprocess.run(["ip", "link", "add", f"{tag}b0", "type", "bridge"], check=True)
    address = f"10.250.{os.getpid() % 250}.{dead.pid % 250 + 1}/32"
    subprocess.run(["ip", "addr", "add", address, "dev", "lo", "label", f"lo:{tag}"], check=True)
    assert len(owned(tag)) == 3
    removed = iproute.sweep_stale()
    assert owned(tag) == []
    assert f"netns {tag}-stale" in removed and f"link {tag}b0" in removed
