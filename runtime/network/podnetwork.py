"""The pod network a process runtime attaches its sandboxes to, and its loopback mode.

`PodNetwork` is what `runtime.runtimes.process.ProcessRuntime` needs: `attach`
gives a new sandbox its address (and, in the namespaces mode, its network
namespace), `command` turns a container's argv into one that runs inside
that network, `detach` undoes `attach` (idempotent), `aclose` undoes all.

`LoopbackPodNetwork` (the default, unprivileged): a pod's address is the IP
the kubelet assigned, when that is a loopback address (a loopback process
cluster carves its nodes' podCIDRs out of 127.128.0.0/9, see
`runtime.network.config`); an address outside 127.0.0.0/8 (a kubelet with a
10.x podCIDR) is mapped into it by keeping its last three octets (10.1.2.3 ->
127.1.2.3), so every pod still has an address of its own. hostNetwork pods
share the node's address. Processes run as they are, on the host's network:
they should bind `$POD_IP`; binding 0.0.0.0 takes the port on every address,
so a second pod doing the same fails with EADDRINUSE in its log.

Neighbours: `runtime.network.netns` (the namespaces mode),
`runtime.runtimes.process` (the caller).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from runtime.runtimes.protocol import PodSandboxConfig

__all__ = ["LoopbackPodNetwork", "PodAttachment", "PodNetwork", "loopback_address"]


@dataclass(frozen=True, slots=True)
class PodAttachment:
    """Where a sandbox is on the network: its IP and, if any, its network namespace."""

    ip: str
    netns: str | None = None
    host_link: str | None = None
    """The host end of the pod's veth pair (namespaces mode)."""


class PodNetwork(Protocol):
    """See the module docstring."""

    @property
    def mode(self) -> str: ...

    async def attach(self, config: PodSandboxConfig) -> PodAttachment: ...

    async def detach(self, pod_uid: str) -> None: ...

    def command(self, attachment: PodAttachment, argv: Sequence[str]) -> list[str]: ...

    async def aclose(self) -> None: ...


def loopback_address(ip: str) -> str:
    """`ip` if it is a loopback address, else its last three octets under 127/8."""
    try:
        address = ipaddress.IPv4Address(ip)
    except ValueError:
        raise ValueError(f"pod IP {ip!r} is not an IPv4 address") from None
    if address.is_loopback:
        return ip
    return str(ipaddress.IPv4Address((127 << 24) | (int(address) & 0xFFFFFF)))


class LoopbackPodNetwork:
    """Every pod at its own 127.x.y.z address (module docstring)."""

    mode = "loopback"

    def __init__(self) -> None:
        self._attached: dict[str, PodAttachment] = {}

    async def attach(self, config: PodSandboxConfig) -> PodAttachment:
        attachment = PodAttachment(loopback_address(config.pod_ip or "127.0.0.1"))
        self._attached[config.pod_uid] = attachment
        return attachment

    async def detach(self, pod_uid: str) -> None:
        self._attached.pop(pod_uid, None)

    def command(self, attachment: PodAttachment, argv: Sequence[str]) -> list[str]:
        return list(argv)

    async def aclose(self) -> None:
        self._attached.clear()
