"""Addresses the host must answer on: ClusterIPs, load-balancer IPs, the DNS address.

`HostAddresses.ensure(ip)` makes `ip` bindable on this machine before a
listener binds it; `release(ip)` undoes it. In the loopback mode nothing is
added: every 127.0.0.0/8 address is already local on Linux, and any other
address cannot be made local without privileges, so `ensure` refuses it
(`AddressUnavailable`, which the proxier logs per Service). In the
namespaces mode a non-local address is added to `lo` as a /32 labelled with
the owner's tag (`runtime.network.iproute`), as kube-proxy's IPVS mode adds
Service addresses to a dummy device: pods' packets reach it through their
gateway, and it is removed on release, on close, or by the next run's sweep.

Neighbours: `runtime.network.proxier`, `runtime.network.dnsserver`,
`runtime.network.ingress` (callers), `runtime.network.iproute`.
"""

from __future__ import annotations

import ipaddress

from runtime.network.iproute import ip, owner_tag

__all__ = ["AddressUnavailable", "HostAddresses"]


class AddressUnavailable(Exception):
    """The address cannot be made local in this network mode."""


class HostAddresses:
    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._added: set[str] = set()

    async def ensure(self, address: str) -> None:
        parsed = ipaddress.IPv4Address(address)
        if parsed.is_loopback or address in self._added:
            return
        if self.mode != "namespaces":
            raise AddressUnavailable(
                f"{address} is not a loopback address: the loopback network mode can "
                "listen only on 127.0.0.0/8 (use a loopback service range, or the "
                "namespaces mode)"
            )
        await ip("addr", "replace", f"{address}/32", "dev", "lo", "label", f"lo:{owner_tag()}")
        self._added.add(address)

    async def release(self, address: str) -> None:
        if address in self._added:
            self._added.discard(address)
            await ip("addr", "del", f"{address}/32", "dev", "lo", check=False)

    async def keep_only(self, addresses: set[str]) -> None:
        """Release every address this one added that is not in `addresses`."""
        for address in sorted(self._added - addresses):
            await self.release(address)

    async def aclose(self) -> None:
        for address in sorted(self._added):
            await self.release(address)
