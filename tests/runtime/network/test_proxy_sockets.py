"""kube-proxy's listeners with real sockets: TCP and UDP, traffic policy Local
by the client's node, reset when the client's node has no endpoint, and
listeners following the EndpointSlices. Backends are in-process servers on
pod addresses; nodes and slices are written to the store directly."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from engine.api.core import Node, Service
from engine.api.discovery import EndpointSlice
from engine.client import LocalClient
from engine.clock import RealClock
from engine.informer import InformerFactory
from engine.manifests import parse_object
from engine.store import Store
from runtime.network.config import LOOPBACK_SERVICE_CIDR
from runtime.network.hostaddresses import HostAddresses
from runtime.network.proxier import KubeProxy
from tests.runtime.network.netfixtures import eventually, free_loopback_address, free_port

POD_N0, POD_N1 = "127.128.0.2", "127.128.1.2"


def node(name: str, cidr: str, address: str) -> Node:
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name},
            "spec": {"podCIDR": cidr},
            "status": {"addresses": [{"type": "InternalIP", "address": address}]},
        }
    )
    assert isinstance(obj, Node)
    return obj


def slice_of(ips: list[tuple[str, str]], port: int) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "svc-1",
            "namespace": "default",
            "labels": {"kubernetes.io/service-name": "svc"},
        },
        "addressType": "IPv4",
        "endpoints": [
            {"addresses": [ip], "nodeName": node_name, "conditions": {"ready": True}}
            for ip, node_name in ips
        ],
        "ports": [
            {"name": "tcp", "port": port, "protocol": "TCP"},
            {"name": "udp", "port": port, "protocol": "UDP"},
        ],
    }


class _UdpEcho(asyncio.DatagramProtocol):
    def __init__(self, me: str) -> None:
        self.me = me
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        assert self.transport is not None
        self.transport.sendto(self.me.encode() + b":" + data, addr)


@contextlib.asynccontextmanager
async def backends(port: int) -> AsyncIterator[None]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        data = await reader.read(100)
        writer.write(writer.get_extra_info("sockname")[0].encode() + b":" + data)
        await writer.drain()
        writer.close()

    loop = asyncio.get_running_loop()
    servers = [await asyncio.start_server(answer, ip, port) for ip in (POD_N0, POD_N1)]
    udp: list[asyncio.DatagramTransport] = []
    for ip in (POD_N0, POD_N1):
        transport, _ = await loop.create_datagram_endpoint(
            functools.partial(_UdpEcho, ip), local_addr=(ip, port)
        )
        udp.append(transport)
    try:
        yield
    finally:
        for server in servers:
            server.close()
        for transport in udp:
            transport.close()


@contextlib.asynccontextmanager
async def proxy_on(store: Store) -> AsyncIterator[KubeProxy]:
    clock = RealClock()
    factory = InformerFactory(LocalClient(store), clock=clock)
    proxy = KubeProxy(
        factory,
        ["n0", "n1"],
        clock=clock,
        rng=random.Random(4),
        addresses=HostAddresses("loopback"),
    )
    async with anyio.create_task_group() as group:
        factory.start(group)
        group.start_soon(proxy.run)
        try:
            yield proxy
        finally:
            group.cancel_scope.cancel()


async def tcp_call(address: str, port: int, source: str) -> str:
    reader, writer = await asyncio.open_connection(address, port, local_addr=(source, 0))
    writer.write(b"hi")
    await writer.drain()
    data = await reader.read(100)
    writer.close()
    return data.decode()


async def udp_call(address: str, port: int, source: str) -> str:
    loop = asyncio.get_running_loop()
    received: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
            if not received.done():
                received.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(
        Client, local_addr=(source, 0), remote_addr=(address, port)
    )
    try:
        transport.sendto(b"ping")
        return (await asyncio.wait_for(received, 5)).decode()
    finally:
        transport.close()


async def test_local_traffic_policy_tcp_udp_and_reset() -> None:
    port = free_port(POD_N0)
    cluster_ip = free_loopback_address(port, base="127.96.12.")
    store = Store(service_cidr=LOOPBACK_SERVICE_CIDR)
    store.create(node("n0", "127.128.0.0/24", "127.16.0.1"))
    store.create(node("n1", "127.128.1.0/24", "127.16.0.2"))
    svc = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "svc", "namespace": "default"},
            "spec": {
                "clusterIP": cluster_ip,
                "internalTrafficPolicy": "Local",
                "ports": [
                    {"name": "tcp", "port": port, "protocol": "TCP"},
                    {"name": "udp", "port": port, "protocol": "UDP"},
                ],
            },
        }
    )
    assert isinstance(svc, Service)
    store.create(svc)
    both = slice_of([(POD_N0, "n0"), (POD_N1, "n1")], port)
    endpoint_slice = parse_object(both)
    assert isinstance(endpoint_slice, EndpointSlice)
    store.create(endpoint_slice)
    async with backends(port), proxy_on(store) as proxy:
        await eventually(lambda: (cluster_ip, port, "UDP") in proxy.listeners)
        # The host's clients are node n0's; a pod of n1 (its podCIDR) is n1's.
        for _ in range(5):
            assert await tcp_call(cluster_ip, port, "127.0.0.1") == f"{POD_N0}:hi"
            assert await tcp_call(cluster_ip, port, "127.128.1.77") == f"{POD_N1}:hi"
        assert await udp_call(cluster_ip, port, "127.0.0.1") == f"{POD_N0}:ping"
        assert await udp_call(cluster_ip, port, "127.128.1.77") == f"{POD_N1}:ping"

        # n1 loses its endpoint: its clients are reset, n0's still served.
        current = store.get(EndpointSlice, "svc-1", "default")
        only_n0 = parse_object(
            {
                **slice_of([(POD_N0, "n0")], port),
                "metadata": {
                    **both["metadata"],
                    "resourceVersion": current.metadata.resource_version,
                },
            }
        )
        assert isinstance(only_n0, EndpointSlice)
        store.update(only_n0)
        await eventually(lambda: len(proxy.frontends[(cluster_ip, port, "TCP")].backends) == 1)
        with pytest.raises((ConnectionResetError, asyncio.IncompleteReadError)):
            reader, writer = await asyncio.open_connection(
                cluster_ip, port, local_addr=("127.128.1.78", 0)
            )
            writer.write(b"hi")
            await writer.drain()
            if not await reader.read(100):
                raise ConnectionResetError("closed")
        assert await tcp_call(cluster_ip, port, "127.0.0.1") == f"{POD_N0}:hi"

        # No endpoint at all: nothing listens, the connection is refused.
        store.delete(EndpointSlice, "svc-1", "default")
        await eventually(lambda: (cluster_ip, port, "TCP") not in proxy.listeners)
        with pytest.raises(ConnectionRefusedError):
            await asyncio.open_connection(cluster_ip, port)
