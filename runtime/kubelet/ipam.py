"""Pod IP addresses from the node's podCIDR.

Role: hand every pod sandbox an address of the node's pod CIDR, as the CNI
host-local IPAM plugin does: the network address, the first host address
(the bridge/gateway) and the broadcast address are never handed out; the
lowest free address is, so a run is deterministic; an address is free again
once its pod's sandbox is gone.

The pod CIDR is the Node's `spec.podCIDR` (given by the node IPAM
controller, or by the kubelet's own `pod_cidr` when it registers with one,
as `kubelet --pod-cidr`): `PodIPAllocator.follow(cidr)` moves an allocator
with no pods to a new CIDR, so the addresses a kubelet reports always lie in
its Node's podCIDR.

`PodAddresses` is the interface the kubelet uses (allocate at sandbox
creation, reserve for adopted pods, release at removal, look up). A runtime
that decides addresses itself (the process runtime's loopback mode, which
hands out 127.x addresses) supplies its own implementation of it; the
simulated runtime uses `PodIPAllocator`.

Neighbours: `runtime.kubelet.pods` (allocates at sandbox creation and
releases at removal).
"""

from __future__ import annotations

import ipaddress
from typing import Protocol

__all__ = ["PodAddresses", "PodCIDRExhausted", "PodIPAllocator"]


class PodCIDRExhausted(Exception):
    """No free address is left in the node's pod CIDR."""


class PodAddresses(Protocol):
    """Where pods' addresses come from, keyed by pod uid (see the module docstring)."""

    def allocate(self, pod_uid: str) -> str: ...

    def reserve(self, pod_uid: str, address: str) -> str: ...

    def release(self, pod_uid: str) -> None: ...

    def get(self, pod_uid: str) -> str | None: ...

    def follow(self, cidr: str) -> None: ...

    def __len__(self) -> int: ...


class PodIPAllocator:
    """Addresses of one pod CIDR, keyed by pod uid."""

    def __init__(self, cidr: str) -> None:
        self._setup(cidr)

    def follow(self, cidr: str) -> None:
        """Use `cidr` from now on, if it differs and no pod holds an address
        (a Node's podCIDR never changes once set, so this happens only when
        the Node first gets one)."""
        try:
            network = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return
        if network != self.network and not self._by_pod:
            self._setup(cidr)

    def _setup(self, cidr: str) -> None:
        try:
            self.network = ipaddress.ip_network(cidr, strict=False)
        except ValueError as error:
            raise ValueError(f"invalid podCIDR {cidr!r}: {error}") from None
        self._first = int(self.network.network_address) + 2
        self._last = int(self.network.broadcast_address) - 1
        self._next = self._first
        self._by_pod: dict[str, str] = {}
        self._free: list[int] = []  # released addresses, reused lowest first
        self._used: set[int] = set()

    def allocate(self, pod_uid: str) -> str:
        existing = self._by_pod.get(pod_uid)
        if existing is not None:
            return existing
        while True:
            if self._free:
                self._free.sort()
                value = self._free.pop(0)
            elif self._next <= self._last:
                value = self._next
                self._next += 1
            else:
                raise PodCIDRExhausted(f"no free address left in podCIDR {self.network}")
            if value not in self._used:  # skip addresses reserved for adopted pods
                break
        self._used.add(value)
        address = str(ipaddress.ip_address(value))
        self._by_pod[pod_uid] = address
        return address

    def reserve(self, pod_uid: str, address: str) -> str:
        """Record an address a pod already has (a restarted kubelet adopting it);
        falls back to a fresh one if it is outside the CIDR or taken."""
        try:
            value = int(ipaddress.ip_address(address))
        except ValueError:
            return self.allocate(pod_uid)
        if not self._first <= value <= self._last or value in self._used:
            return self.allocate(pod_uid)
        self._used.add(value)
        if value in self._free:
            self._free.remove(value)
        self._by_pod[pod_uid] = address
        return address

    def release(self, pod_uid: str) -> None:
        address = self._by_pod.pop(pod_uid, None)
        if address is not None:
            value = int(ipaddress.ip_address(address))
            self._used.discard(value)
            self._free.append(value)

    def get(self, pod_uid: str) -> str | None:
        return self._by_pod.get(pod_uid)

    def __len__(self) -> int:
        return len(self._by_pod)
