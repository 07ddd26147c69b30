"""Shared pieces of the process-network tests: pods serving HTTP, free
addresses and ports, and EndpointSlices.

`publish_endpoints` writes a Service's EndpointSlice from its pods, as the
EndpointSlice controller does (ready = the pod's Ready condition, terminating
while it is being deleted). Until that controller runs in kubeloop clusters,
the tests call it; once a cluster runs a controller named "endpointslice",
it only waits for that controller's slice instead, so the tests keep passing
either way.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp

from engine.api.core import Pod, Service
from engine.api.discovery import EndpointSlice
from engine.errors import NotFound
from engine.manifests import parse_object
from runtime.cluster import Cluster

PYTHON = sys.executable
SLICE_MANAGER = "kubeloop-tests"


def free_port(address: str = "127.0.0.1", low: int = 0, high: int = 0) -> int:
    """A TCP port free on `address` (within [low, high] when given)."""
    candidates = range(low, high + 1) if low else [0]
    for port in candidates:
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                continue
            return int(probe.getsockname()[1])
    raise RuntimeError(f"no free port on {address} in {low}..{high}")


def free_loopback_address(port: int, base: str = "127.96.7.") -> str:
    """An address of `base` (a /24 of the loopback service range) with `port` free."""
    for last in range(10, 250):
        address = f"{base}{last}"
        with socket.socket() as probe:
            try:
                probe.bind((address, port))
            except OSError:
                continue
            return address
    raise RuntimeError(f"no address of {base}0/24 has port {port} free")


ECHO_SERVER = Path(__file__).with_name("echo_server.py")


def http_pod(
    name: str, port: int, *, labels: dict[str, str], bind: str = "$POD_IP", echo: bool = False
) -> Pod:
    """A pod serving its work directory over HTTP (`python -m http.server`), with
    /id.txt holding its name; with `echo`, the JSON echo server instead."""
    if echo:
        script = f'exec "{PYTHON}" "{ECHO_SERVER}" {bind} {port}'
    else:
        script = f'echo "$HOSTNAME" > id.txt; exec "{PYTHON}" -m http.server --bind {bind} {port}'
    pod = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {
                "terminationGracePeriodSeconds": 1,
                "containers": [
                    {
                        "name": "web",
                        "image": "python:3.11-slim",
                        "command": ["sh", "-c", script],
                        "ports": [{"name": "http", "containerPort": port}],
                        "readinessProbe": {
                            "tcpSocket": {"port": "http"},
                            "periodSeconds": 1,
                        },
                    }
                ],
            },
        }
    )
    assert isinstance(pod, Pod)
    return pod


def _ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


async def publish_endpoints(
    cluster: Cluster, service_name: str, namespace: str = "default"
) -> None:
    """Write the Service's EndpointSlice from its pods (module docstring)."""
    if "endpointslice" in cluster.running_controllers:
        return
    service = await cluster.get(Service, service_name, namespace)
    pods = [
        pod
        for pod in (await cluster.list(Pod, namespace)).items
        if service.spec.selector
        and all(pod.metadata.labels.get(k) == v for k, v in service.spec.selector.items())
        and pod.status.pod_ip
        and pod.status.phase not in ("Succeeded", "Failed")
    ]
    endpoints: list[dict[str, Any]] = []
    for pod in sorted(pods, key=lambda p: p.metadata.name):
        terminating = pod.metadata.deletion_timestamp is not None
        endpoints.append(
            {
                "addresses": [pod.status.pod_ip],
                "conditions": {
                    "ready": _ready(pod) and not terminating,
                    "serving": _ready(pod),
                    "terminating": terminating,
                },
                "nodeName": pod.spec.node_name,
                "hostname": pod.spec.hostname,
                "targetRef": {"kind": "Pod", "name": pod.metadata.name, "namespace": namespace},
            }
        )
    ports = []
    for port in service.spec.ports:
        target = port.target_port
        number = target if isinstance(target, int) else None
        if number is None:
            for pod in pods:
                for container in pod.spec.containers:
                    for declared in container.ports:
                        if declared.name == target:
                            number = declared.container_port
        ports.append({"name": port.name or "", "protocol": port.protocol, "port": number})
    manifest = {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": f"{service_name}-tests",
            "namespace": namespace,
            "labels": {
                "kubernetes.io/service-name": service_name,
                "endpointslice.kubernetes.io/managed-by": SLICE_MANAGER,
            },
        },
        "addressType": "IPv4",
        "endpoints": endpoints,
        "ports": ports,
    }
    await cluster.apply(manifest)


async def wait_ready(cluster: Cluster, names: list[str], timeout: float = 30) -> None:
    store = cluster.store
    assert store is not None

    def ready() -> bool:
        for name in names:
            pod = store.try_get(Pod, name, "default")
            if pod is None or not _ready(pod):
                return False
        return True

    await cluster.wait_for(ready, timeout=timeout, what=f"pods {names} ready")


async def eventually(check: Any, timeout: float = 20.0) -> None:
    """Poll an async or plain check (bounded; real processes are involved)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not true within {timeout} s: {check}")
        await asyncio.sleep(0.05)


async def get_text(url: str, **kwargs: Any) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        session.get(url, **kwargs) as response,
    ):
        return response.status, await response.text()


async def slice_gone_for(cluster: Cluster, name: str) -> bool:
    try:
        await cluster.get(EndpointSlice, f"{name}-tests")
    except NotFound:
        return True
    return False
