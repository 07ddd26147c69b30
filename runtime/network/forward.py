"""The proxy's data path: TCP and UDP forwarding with asyncio protocols.

`TcpListener` accepts on one address and port; for each connection it asks
its `choose(client_ip)` for a backend, opens a connection to it, and copies
bytes both ways with the transports' own flow control (a side whose peer's
write buffer is full stops reading until it drains), half-closes passed on.
No backend (`choose` returns None) or a backend that refuses: the client's
connection is reset, as kube-proxy's REJECT rule answers with a TCP reset.

`UdpListener` keeps one connected upstream socket per client address (a
conntrack entry), chosen on the flow's first datagram, and forgets it after
`idle_timeout` seconds without traffic (a timer on the injected clock).

Both use asyncio protocols rather than streams: no task and no coroutine per
chunk, which is what makes a userspace proxy fast enough (see
benchmarks/network_proxy.py).

Neighbours: `runtime.network.proxier` (owns the listeners), `engine.clock`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from typing import Any

from engine.clock import Clock, TimerHandle
from engine.logging import get_logger

__all__ = ["Chooser", "TcpListener", "UdpListener"]

Chooser = Callable[[str], tuple[str, int] | None]
"""client IP -> (backend IP, port), or None to reject."""

log = get_logger("network.forward")
_HIGH_WATER = 256 * 1024


def _reset(transport: asyncio.Transport) -> None:
    """Close with a TCP RST (SO_LINGER 0), as an iptables REJECT --reject-with tcp-reset."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


class _Side(asyncio.Protocol):
    """One end of a forwarded connection; `peer` is the other end."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.pending: list[bytes] = []
        self.eof_pending = False
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=_HIGH_WATER)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            peer.transport.write(data)
        else:
            self.pending.append(data)

    def eof_received(self) -> bool:
        peer = self.peer
        if peer is not None and peer.transport is not None:
            if peer.transport.can_write_eof():
                peer.transport.write_eof()
        else:
            self.eof_pending = True
        return True  # keep the other direction open (half-close)

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        peer = self.peer
        if peer is not None and peer.transport is not None and not peer.closed:
            peer.transport.close()

    def link(self, peer: _Side) -> None:
        """Join to `peer`, flushing what arrived before it existed."""
        self.peer, peer.peer = peer, self
        assert peer.transport is not None
        for chunk in self.pending:
            peer.transport.write(chunk)
        self.pending.clear()
        if self.eof_pending and peer.transport.can_write_eof():
            peer.transport.write_eof()


class _ClientSide(_Side):
    def __init__(self, listener: TcpListener) -> None:
        super().__init__()
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        peername = transport.get_extra_info("peername")
        client_ip = peername[0] if peername else ""
        target = self.listener.choose(client_ip)
        if target is None:
            assert self.transport is not None
            _reset(self.transport)
            return
        self.listener.connections += 1
        task = asyncio.get_running_loop().create_task(self._connect(target))
        self.listener.tasks.add(task)
        task.add_done_callback(self.listener.tasks.discard)

    async def _connect(self, target: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(_Side, target[0], target[1])
        except OSError:
            if self.transport is not None:
                _reset(self.transport)
            return
        if self.closed:
            if upstream.transport is not None:
                upstream.transport.close()
            return
        self.link(upstream)


class TcpListener:
    """Accepts on (address, port) and forwards to what `choose` picks."""

    def __init__(self, address: str, port: int, choose: Chooser) -> None:
        self.address = address
        self.port = port
        self.choose = choose
        self.connections = 0
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _ClientSide(self), self.address, self.port, reuse_address=True, backlog=1024
        )

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for task in list(self.tasks):
            task.cancel()


class _UdpUpstream(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpListener, client: tuple[str, int]) -> None:
        self.listener = listener
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        self.listener.reply(self.client, data)

    def error_received(self, exc: Exception) -> None:
        pass  # an ICMP error from the backend: the client's request is lost, as with NAT


class _Flow:
    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: list[bytes] = []
        self.timer: TimerHandle | None = None


class UdpListener(asyncio.DatagramProtocol):
    """Receives datagrams on (address, port) and forwards them per client flow."""

    def __init__(
        self, address: str, port: int, choose: Chooser, clock: Clock, idle_timeout: float
    ) -> None:
        self.address = address
        self.port = port
        self.choose = choose
        self.clock = clock
        self.idle_timeout = idle_timeout
        self.flows: dict[tuple[str, int], _Flow] = {}
        self._transport: asyncio.DatagramTransport | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._transport, _ = await loop.create_datagram_endpoint(
            lambda: self, local_addr=(self.address, self.port)
        )

    def datagram_received(self, data: bytes, addr: tuple[str | Any, int]) -> None:
        client = (str(addr[0]), int(addr[1]))
        flow = self.flows.get(client)
        if flow is None:
            target = self.choose(client[0])
            if target is None:
                return  # no endpoint: dropped
            flow = self.flows[client] = _Flow()
            task = asyncio.get_running_loop().create_task(self._open(client, flow, target))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._touch(client, flow)
        if flow.transport is None:
            flow.pending.append(data)
        else:
            flow.transport.sendto(data)

    async def _open(self, client: tuple[str, int], flow: _Flow, target: tuple[str, int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpUpstream(self, client), remote_addr=target
            )
        except OSError:
            self._expire(client)
            return
        if self.flows.get(client) is not flow:
            transport.close()
            return
        flow.transport = transport
        for data in flow.pending:
            transport.sendto(data)
        flow.pending.clear()

    def _touch(self, client: tuple[str, int], flow: _Flow) -> None:
        if flow.timer is not None:
            flow.timer.cancel()
        flow.timer = self.clock.call_later(self.idle_timeout, lambda: self._expire(client))

    def _expire(self, client: tuple[str, int]) -> None:
        flow = self.flows.pop(client, None)
        if flow is None:
            return
        if flow.timer is not None:
            flow.timer.cancel()
        if flow.transport is not None:
            flow.transport.close()

    def reply(self, client: tuple[str, int], data: bytes) -> None:
        flow = self.flows.get(client)
        if flow is not None:
            self._touch(client, flow)
        if self._transport is not None:
            self._transport.sendto(data, client)

    async def aclose(self) -> None:
        for client in list(self.flows):
            self._expire(client)
        for task in list(self._tasks):
            task.cancel()
        if self._transport is not None:
            self._transport.close()
            self._transport = None
