"""`ClusterDNS`: the cluster's DNS server, on UDP and TCP, with dnspython.

Answers the names of `runtime.network.dnsrecords` from the informer caches
(read at query time, so an answer is as fresh as the caches), authoritative
(AA) for the cluster domain. Other names are forwarded to the host's
resolvers (`/etc/resolv.conf`'s nameservers, as CoreDNS's `forward .
/etc/resolv.conf`), and answered SERVFAIL when none answers in 2 s.

It listens on `address:port` (`ProcessNetworkConfig.dns_address`, port 53 by
default, 0 for a free one chosen at start, and a free one too when port 53
is not permitted or taken, e.g. by another cluster; `port` tells which). In the
namespaces mode the address is added to the host so pods reach it through
their gateway; their resolv.conf names it (`runtime.network.netns`).

Messages are parsed and built by dnspython; a query that does not parse is
dropped (UDP) or ends the connection (TCP), with FORMERR where its id could
be read.

Neighbours: `runtime.network.dnsrecords`, `runtime.network.plane`.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from typing import Any, cast

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

from engine.api.core import Pod, Service
from engine.api.discovery import EndpointSlice
from engine.informer import InformerFactory
from engine.logging import get_logger
from runtime.network.dnsrecords import TTL, ClusterRecords
from runtime.network.hostaddresses import HostAddresses
from runtime.network.proxyrules import index_by_service_name

__all__ = ["SLICE_INDEX", "ClusterDNS"]

log = get_logger("network.dns")
FORWARD_TIMEOUT = 2.0
SLICE_INDEX = "service-name"


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, server: ClusterDNS) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        task = asyncio.get_running_loop().create_task(self._answer(data, addr))
        self.server.tasks.add(task)
        task.add_done_callback(self.server.tasks.discard)

    async def _answer(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        reply = await self.server.handle(data, max_size=512)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


class ClusterDNS:
    """See the module docstring."""

    def __init__(
        self,
        factory: InformerFactory,
        *,
        address: str,
        port: int,
        domain: str,
        addresses: HostAddresses,
    ) -> None:
        self.address = address
        self.port = port
        self.domain = domain
        self.addresses = addresses
        self.services = factory.informer(Service)
        self.slices = factory.informer(EndpointSlice)
        self.pods = factory.informer(Pod)
        self.slices.add_indexer(SLICE_INDEX, index_by_service_name)  # shared: added once
        self.records = ClusterRecords(
            domain,
            lambda namespace, name: self.services.cache.get(name, namespace),
            lambda namespace, name: self.slices.cache.by_index(SLICE_INDEX, f"{namespace}/{name}"),
            lambda namespace: self.pods.cache.by_index("namespace", namespace),
        )
        self.tasks: set[asyncio.Task[None]] = set()
        self.upstreams = _host_nameservers()
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None

    async def start(self) -> None:
        await self.addresses.ensure(self.address)
        loop = asyncio.get_running_loop()
        try:
            self._tcp = await asyncio.start_server(self._serve_tcp, self.address, self.port)
        except OSError as error:
            # Port 53 needs privileges, or another cluster on this machine has
            # it: take a free port (`port` says which; resolv.conf cannot name one).
            if self.port == 0:
                raise
            log.warning("dns port unavailable, choosing a free one", port=self.port, error=error)
            self._tcp = await asyncio.start_server(self._serve_tcp, self.address, 0)
        self.port = self._tcp.sockets[0].getsockname()[1]
        self._udp, _ = await loop.create_datagram_endpoint(
            lambda: _Udp(self), local_addr=(self.address, self.port)
        )

    async def aclose(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            self._tcp = None
        for task in list(self.tasks):
            task.cancel()

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                (length,) = struct.unpack("!H", await reader.readexactly(2))
                reply = await self.handle(await reader.readexactly(length), max_size=65535)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        writer.close()

    async def handle(self, data: bytes, *, max_size: int) -> bytes | None:
        """The wire reply to the wire query `data` (None: drop it)."""
        try:
            query = dns.message.from_wire(data)
        except dns.exception.DNSException:
            if len(data) >= 2:
                return data[:2] + struct.pack("!HHHHH", 0x8001, 0, 0, 0, 0)  # FORMERR
            return None
        if not query.question:
            response = dns.message.make_response(query)
            response.set_rcode(dns.rcode.FORMERR)
            return response.to_wire()
        question = query.question[0]
        name = question.name.to_text()
        qtype = dns.rdatatype.to_text(question.rdtype)
        answer = self.records.lookup(name, qtype)
        if not answer.authoritative:
            return await self._forward(query, data)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        if not answer.exists:
            response.set_rcode(dns.rcode.NXDOMAIN)
        by_owner: dict[tuple[str, str], list[str]] = {}
        for record in answer.records:
            by_owner.setdefault((record.name, record.type), []).append(record.data)
        for (owner, rtype), datas in by_owner.items():
            response.answer.append(
                dns.rrset.from_text_list(owner, TTL, dns.rdataclass.IN, rtype, datas)
            )
        return response.to_wire(max_size=max_size)

    async def _forward(self, query: dns.message.Message, data: bytes) -> bytes:
        for upstream in self.upstreams:
            if upstream == self.address:
                continue
            with contextlib.suppress(dns.exception.DNSException, OSError):
                reply = await dns.asyncquery.udp(query, upstream, timeout=FORWARD_TIMEOUT)
                return reply.to_wire()
        response = dns.message.make_response(query)
        response.set_rcode(dns.rcode.SERVFAIL)
        return response.to_wire()


def _host_nameservers() -> list[str]:
    try:
        return [str(n) for n in dns.resolver.Resolver().nameservers]
    except dns.exception.DNSException:
        return []
