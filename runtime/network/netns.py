"""The `namespaces` pod network: a network namespace per pod, a bridge per node.

`NamespacePodNetwork(pod_cidr, node_index, dns_address=..., cluster_domain=...)`
is one node's network (Linux, root or CAP_NET_ADMIN; see
`runtime.network.iproute.available`):

* the node's bridge `kl<owner>b<index>` holds the podCIDR's first address
  (the pods' gateway and the node's address) and is created on first use;
* `attach` creates the pod's namespace `kl<owner>-<pod uid>` with `lo` up and
  a veth pair: one end on the bridge, the other moved into the namespace as
  `eth0` with the pod's IP (the kubelet's, from the podCIDR) and a default
  route through the gateway; it writes `/etc/netns/<namespace>/resolv.conf`
  (cluster DNS, the pod's search domains, `ndots:5`), which `ip netns exec`
  mounts over `/etc/resolv.conf` for the pod's processes;
* `command` runs a container's argv through `ip netns exec <namespace>` (it
  execs the program in place, so the pid and process group are the
  container's own);
* `detach` deletes the namespace (its veth pair goes with it) and its /etc
  folder; `aclose` detaches every pod and deletes the bridge.

hostNetwork pods are not put in a namespace: they run on the host's network
at the node's address. Namespaces left by a kubeloop that died are removed
by `runtime.network.iproute.sweep_stale` when the next one starts.

Neighbours: `runtime.network.podnetwork` (the protocol), `runtime.network.iproute`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import itertools
import shutil
from collections.abc import Sequence

from runtime.network.iproute import NETNS_ETC, ip, owner_tag
from runtime.network.podnetwork import PodAttachment
from runtime.runtimes.protocol import PodSandboxConfig

__all__ = ["NamespacePodNetwork", "resolv_conf"]

_veth_numbers = itertools.count(1)


def resolv_conf(namespace: str, dns_address: str, cluster_domain: str) -> str:
    """A pod's resolv.conf with the kubelet's ClusterFirst policy."""
    search = f"{namespace}.svc.{cluster_domain} svc.{cluster_domain} {cluster_domain}"
    return f"search {search}\nnameserver {dns_address}\noptions ndots:5\n"


class NamespacePodNetwork:
    """One node's pods, each in a network namespace (module docstring)."""

    mode = "namespaces"

    def __init__(
        self,
        pod_cidr: str,
        node_index: int,
        *,
        dns_address: str,
        cluster_domain: str = "cluster.local",
    ) -> None:
        self.network = ipaddress.IPv4Network(pod_cidr, strict=False)
        self.gateway = str(self.network.network_address + 1)
        self.bridge = f"{owner_tag()}b{node_index:x}"
        self.dns_address = dns_address
        self.cluster_domain = cluster_domain
        self._bridge_ready = False
        self._lock = asyncio.Lock()
        self._attached: dict[str, PodAttachment] = {}

    async def _ensure_bridge(self) -> None:
        async with self._lock:
            if self._bridge_ready:
                return
            await ip("link", "del", self.bridge, check=False)
            await ip("link", "add", self.bridge, "type", "bridge")
            await ip("addr", "add", f"{self.gateway}/{self.network.prefixlen}", "dev", self.bridge)
            await ip("link", "set", self.bridge, "up")
            self._bridge_ready = True

    async def attach(self, config: PodSandboxConfig) -> PodAttachment:
        if config.host_network:
            attachment = PodAttachment(config.pod_ip or self.gateway)
            self._attached[config.pod_uid] = attachment
            return attachment
        if ipaddress.IPv4Address(config.pod_ip) not in self.network:
            raise ValueError(f"pod IP {config.pod_ip} is outside the node's podCIDR {self.network}")
        await self._ensure_bridge()
        name = f"{owner_tag()}-{config.pod_uid}"
        number = next(_veth_numbers)
        host_end, pod_end = f"{owner_tag()}v{number:x}", f"{owner_tag()}p{number:x}"
        self._attached[config.pod_uid] = attachment = PodAttachment(config.pod_ip, name, host_end)
        folder = NETNS_ETC / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "resolv.conf").write_text(
            resolv_conf(config.namespace, self.dns_address, self.cluster_domain)
        )
        await ip("netns", "add", name)
        await ip("link", "add", host_end, "type", "veth", "peer", "name", pod_end)
        await ip("link", "set", pod_end, "netns", name)
        await ip("link", "set", host_end, "master", self.bridge, "up")
        await ip("-n", name, "link", "set", "lo", "up")
        await ip("-n", name, "link", "set", pod_end, "name", "eth0")
        await ip(
            "-n", name, "addr", "add", f"{config.pod_ip}/{self.network.prefixlen}", "dev", "eth0"
        )
        await ip("-n", name, "link", "set", "eth0", "up")
        await ip("-n", name, "route", "add", "default", "via", self.gateway)
        return attachment

    async def detach(self, pod_uid: str) -> None:
        attachment = self._attached.pop(pod_uid, None)
        if attachment is None or attachment.netns is None:
            return
        if attachment.host_link is not None:
            # Deleting one end deletes the pair now; a deleted namespace's
            # own end goes only when the kernel gets round to the namespace.
            await ip("link", "del", attachment.host_link, check=False)
        await ip("netns", "del", attachment.netns, check=False)
        shutil.rmtree(NETNS_ETC / attachment.netns, ignore_errors=True)

    def command(self, attachment: PodAttachment, argv: Sequence[str]) -> list[str]:
        if attachment.netns is None:
            return list(argv)
        return ["ip", "netns", "exec", attachment.netns, *argv]

    async def aclose(self) -> None:
        for pod_uid in list(self._attached):
            await self.detach(pod_uid)
        if self._bridge_ready:
            self._bridge_ready = False
            await ip("link", "del", self.bridge, check=False)
