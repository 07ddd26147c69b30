"""kube-proxy for process nodes: Services and EndpointSlices made into real listeners.

`KubeProxy` watches Services, EndpointSlices and Nodes through shared
informers and, after every burst of changes, recomputes the rules
(`runtime.network.proxyrules.build_rules`) and reconciles its listeners (as
kube-proxy's syncProxyRules: level-triggered, whole state each time):

* a frontend with at least one endpoint listens (TCP or UDP, `forward`); one
  with none is not listened on, so a connection to it is refused, as
  kube-proxy's REJECT rule does; a listener whose frontend went is closed;
* addresses are made local first (`hostaddresses`); an address or port that
  cannot be bound (outside 127/8 in the loopback mode, a port below 1024
  without privileges, a port taken by another program) is logged once and
  retried at the next sync; `errors()` lists what is failing now.

Process nodes share this machine's network, so an address is bound once for
all of them; the endpoint choice is per node (`NodeProxier`, one per node, as
one kube-proxy per node): a connection is handled by the proxier of the node
it comes from, found by the client's address in a node's podCIDR (pods
calling a Service), by the node whose address a NodePort was reached on, or
else the first node (the host's own clients). That node decides what
`internalTrafficPolicy`/`externalTrafficPolicy: Local` keep, and keeps the
`sessionAffinity: ClientIP` table (reused while the client comes back within
`timeoutSeconds` of its last connection). Among usable endpoints the choice
is uniform, from the injected RNG.

Neighbours: `runtime.network.proxyrules`, `runtime.network.forward`,
`runtime.network.hostaddresses`, `runtime.network.plane` (starts it).
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections.abc import Sequence
from typing import Any

from engine.api.core import Node, Service
from engine.api.discovery import EndpointSlice
from engine.clock import Clock
from engine.informer import EventHandler, InformerFactory
from engine.logging import get_logger
from runtime.network.forward import TcpListener, UdpListener
from runtime.network.hostaddresses import AddressUnavailable, HostAddresses
from runtime.network.proxyrules import Backend, Frontend, FrontendKey, build_rules, usable

__all__ = ["KubeProxy", "NodeProxier"]

log = get_logger("network.proxy")


class NodeProxier:
    """The endpoint choice of one node's kube-proxy (module docstring)."""

    def __init__(self, node: str, *, clock: Clock, rng: random.Random) -> None:
        self.node = node
        self.clock = clock
        self.rng = rng
        self.affinity: dict[tuple[str, str, str], tuple[Backend, float]] = {}

    def choose(self, frontend: Frontend, client_ip: str) -> Backend | None:
        candidates = usable(frontend.backends, self.node, frontend.local)
        if not candidates:
            return None
        timeout = frontend.affinity_seconds
        if timeout is None:
            return candidates[self.rng.randrange(len(candidates))]
        key = (frontend.service, frontend.port_name, client_ip)
        now = self.clock.monotonic()
        remembered = self.affinity.get(key)
        if remembered is not None and now - remembered[1] <= timeout:
            backend = remembered[0]
            if any(c.ip == backend.ip and c.port == backend.port for c in candidates):
                self.affinity[key] = (backend, now)
                return backend
        backend = candidates[self.rng.randrange(len(candidates))]
        self.affinity[key] = (backend, now)
        return backend

    def forget_expired(self, frontends: dict[FrontendKey, Frontend]) -> None:
        timeouts = {(f.service, f.port_name): f.affinity_seconds for f in frontends.values()}
        now = self.clock.monotonic()
        for key, (_, seen) in list(self.affinity.items()):
            timeout = timeouts.get(key[:2])
            if timeout is None or now - seen > timeout:
                del self.affinity[key]


Listener = TcpListener | UdpListener


class KubeProxy:
    """See the module docstring. `nodes` are the process nodes, the first one
    standing for the host's own clients."""

    def __init__(
        self,
        factory: InformerFactory,
        nodes: Sequence[str],
        *,
        clock: Clock,
        rng: random.Random,
        addresses: HostAddresses,
        udp_idle_timeout: float = 30.0,
    ) -> None:
        if not nodes:
            raise ValueError("kube-proxy needs at least one node")
        self.clock = clock
        self.addresses = addresses
        self.udp_idle_timeout = udp_idle_timeout
        self.proxiers = {
            node: NodeProxier(node, clock=clock, rng=random.Random(f"{rng.random()}/{node}"))
            for node in nodes
        }
        self.host_node = nodes[0]
        self.services = factory.informer(Service)
        self.slices = factory.informer(EndpointSlice)
        self.nodes = factory.informer(Node)
        self.frontends: dict[FrontendKey, Frontend] = {}
        self.listeners: dict[FrontendKey, Listener] = {}
        self.syncs = 0
        self._errors: dict[FrontendKey, str] = {}
        self._pod_networks: list[tuple[ipaddress.IPv4Network, str]] = []
        self._dirty = asyncio.Event()
        self._synced = asyncio.Event()
        handler: EventHandler[Any] = EventHandler(
            add=lambda _: self._mark(),
            update=lambda _, __: self._mark(),
            delete=lambda _: self._mark(),
        )
        for informer in (self.services, self.slices, self.nodes):
            informer.add_event_handler(handler)

    def _mark(self) -> None:
        self._synced.clear()
        self._dirty.set()

    def errors(self) -> dict[FrontendKey, str]:
        """Frontends that could not be listened on at the last sync, with why."""
        return dict(self._errors)

    def frontend(self, address: str, port: int, protocol: str = "TCP") -> Frontend | None:
        return self.frontends.get((address, port, protocol))

    async def wait_synced(self) -> None:
        """Until the changes seen so far are applied to the listeners."""
        await self._synced.wait()

    async def run(self) -> None:
        """Sync after every burst of changes, until cancelled; listeners close then."""
        try:
            await self.services.wait_for_sync()
            await self.slices.wait_for_sync()
            await self.nodes.wait_for_sync()
            while True:
                self._dirty.clear()
                await self.sync()
                if not self._dirty.is_set():
                    self._synced.set()
                await self._dirty.wait()
                await asyncio.sleep(0)  # let a burst of events land first
        finally:
            await self.aclose()

    def _node_addresses(self) -> dict[str, str]:
        addresses: dict[str, str] = {}
        networks: list[tuple[ipaddress.IPv4Network, str]] = []
        for name in self.proxiers:
            node = self.nodes.cache.get(name)
            if node is None:
                continue
            for address in node.status.addresses:
                if address.type == "InternalIP":
                    addresses[name] = address.address
            if node.spec.pod_cidr:
                networks.append((ipaddress.IPv4Network(node.spec.pod_cidr, strict=False), name))
        self._pod_networks = networks
        return addresses

    def _node_of(self, client_ip: str) -> str:
        try:
            address = ipaddress.IPv4Address(client_ip)
        except ValueError:
            return self.host_node
        for network, node in self._pod_networks:
            if address in network:
                return node
        return self.host_node

    def _chooser(self, key: FrontendKey) -> Any:
        def choose(client_ip: str) -> tuple[str, int] | None:
            frontend = self.frontends.get(key)
            if frontend is None:
                return None
            node = frontend.node or self._node_of(client_ip)
            proxier = self.proxiers.get(node) or self.proxiers[self.host_node]
            backend = proxier.choose(frontend, client_ip)
            return (backend.ip, backend.port) if backend is not None else None

        return choose

    async def sync(self) -> None:
        """Recompute the rules and reconcile the listeners (module docstring)."""
        self.syncs += 1
        rules = build_rules(
            self.services.cache.list(),
            self.slices.cache.list(),
            self._node_addresses(),
            host_node=self.host_node,
        )
        self.frontends = rules
        for proxier in self.proxiers.values():
            proxier.forget_expired(rules)
        wanted = {key for key, frontend in rules.items() if frontend.backends}
        for key in [k for k in self.listeners if k not in wanted]:
            await self.listeners.pop(key).aclose()
        errors: dict[FrontendKey, str] = {}
        for key in sorted(wanted - set(self.listeners)):
            address, port, protocol = key
            listener: Listener
            if protocol == "UDP":
                listener = UdpListener(
                    address, port, self._chooser(key), self.clock, self.udp_idle_timeout
                )
            elif protocol == "TCP":
                listener = TcpListener(address, port, self._chooser(key))
            else:
                errors[key] = f"protocol {protocol} is not proxied (TCP and UDP are)"
                continue
            try:
                await self.addresses.ensure(address)
                await listener.start()
            except (AddressUnavailable, OSError) as error:
                errors[key] = str(error)
                if self._errors.get(key) != errors[key]:
                    log.warning(
                        "cannot listen",
                        service=rules[key].service,
                        address=f"{address}:{port}/{protocol}",
                        error=str(error),
                    )
                continue
            self.listeners[key] = listener
        self._errors = errors
        await self.addresses.keep_only({key[0] for key in self.listeners})

    async def aclose(self) -> None:
        """Close every listener (the addresses are the caller's `HostAddresses`)."""
        listeners, self.listeners = self.listeners, {}
        for listener in listeners.values():
            await listener.aclose()
