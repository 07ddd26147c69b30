"""`NetworkPlane`: the data plane of a cluster of process nodes, started and stopped as one.

It runs kube-proxy (`proxier.KubeProxy`), the cluster DNS
(`dnsserver.ClusterDNS`) and the ingress controller (`ingress.IngressController`)
on the cluster's informers, in a task group of its own:

    async with NetworkPlane(manager.factory, client, config, nodes, clock=..., rng=...):
        ...

Leaving cancels them, closes every listener and removes the addresses it
added to the host (namespaces mode). `runtime.cluster.cluster.Cluster` enters
one for every process cluster and exposes it as `cluster.network`.

Neighbours: `runtime.network.config`, `runtime.network.proxier`,
`runtime.network.dnsserver`, `runtime.network.ingress`.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from contextlib import AsyncExitStack
from typing import Any

import anyio

from engine.client import Client
from engine.clock import Clock
from engine.informer import InformerFactory
from runtime.network.config import ProcessNetworkConfig
from runtime.network.dnsserver import ClusterDNS
from runtime.network.hostaddresses import HostAddresses
from runtime.network.ingress import IngressController
from runtime.network.proxier import KubeProxy

__all__ = ["NetworkPlane"]


class NetworkPlane:
    """See the module docstring."""

    def __init__(
        self,
        factory: InformerFactory,
        client: Client,
        config: ProcessNetworkConfig,
        nodes: Sequence[str],
        *,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.config = config
        self._proxy_addresses = HostAddresses(config.mode)
        self._own_addresses = HostAddresses(config.mode)
        self.proxy = KubeProxy(
            factory,
            nodes,
            clock=clock,
            rng=random.Random(f"{rng.random()}/proxy"),
            addresses=self._proxy_addresses,
            udp_idle_timeout=config.udp_idle_timeout,
        )
        self.dns = ClusterDNS(
            factory,
            address=config.resolved_dns_address,
            port=config.dns_port,
            domain=config.cluster_domain,
            addresses=self._own_addresses,
        )
        self.ingress = IngressController(
            factory,
            client,
            address=config.ingress_address,
            port=config.ingress_port,
            tls_port=config.ingress_tls_port,
            ingress_class=config.ingress_class,
            addresses=self._own_addresses,
            rng=random.Random(f"{rng.random()}/ingress"),
        )
        self._stack: AsyncExitStack | None = None

    @property
    def dns_address(self) -> tuple[str, int]:
        """Where cluster DNS answers (address, port): the port is known once started."""
        return (self.dns.address, self.dns.port)

    @property
    def ingress_address(self) -> tuple[str, int, int]:
        """Where the ingress controller listens: (address, HTTP port, HTTPS port)."""
        return (self.ingress.address, self.ingress.port, self.ingress.tls_port)

    async def __aenter__(self) -> NetworkPlane:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(self._proxy_addresses.aclose)
            stack.push_async_callback(self._own_addresses.aclose)
            await self.dns.start()
            stack.push_async_callback(self.dns.aclose)
            await self.ingress.start()
            stack.push_async_callback(self.ingress.aclose)
            stack.push_async_callback(self.proxy.aclose)
            group = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(group.cancel_scope.cancel)
            group.start_soon(self.proxy.run)
            group.start_soon(self.ingress.run)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.__aexit__(None, None, None)
