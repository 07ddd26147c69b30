"""`ProcessNetworkConfig`: how a cluster of process nodes is networked.

Two pod network modes (`runtime.network.podnetwork`):

* `loopback` (default; unprivileged; Linux, where the whole of 127.0.0.0/8 is
  local): every pod gets its own loopback address, from its node's podCIDR
  carved out of `LOOPBACK_CLUSTER_CIDR` (node i: 127.128+i/256.i%256.0/24), as
  its pod IP; Services get ClusterIPs from a loopback service range
  (`LOOPBACK_SERVICE_CIDR`, 127.96.0.0/12, the loopback twin of Kubernetes'
  10.96.0.0/12), so the proxy listens on the ClusterIP itself and the host
  reaches pods and Services with no privileges. Nodes' InternalIPs are
  127.16.0.1 + i. Containers get `POD_IP` and should bind it: two pods
  binding 0.0.0.0 on one port collide (the second fails with EADDRINUSE in
  its log, as two processes on one host do).
* `namespaces` (Linux, root or CAP_NET_ADMIN): one network namespace per pod,
  joined by a veth pair to a bridge per node; the pod's IP comes from the
  node's podCIDR (the kubelet's, 10.x.y.0/24), the bridge holds the podCIDR's
  first address (also the node's InternalIP) and is the pods' gateway, and
  applications bind 0.0.0.0 as in a real cluster. ClusterIPs, the DNS address
  and load-balancer addresses are added to the host's `lo` as /32 addresses
  (as kube-proxy's IPVS mode adds them to a dummy device), so a pod's packets
  to them go through its gateway to the host's proxy.

`dns_address` is where cluster DNS listens (loopback: 127.0.0.10; namespaces:
169.254.20.10, NodeLocal DNSCache's address), `dns_port` its port (53; 0
picks a free one, for an unprivileged loopback cluster). The ingress
controller listens on `ingress_address`, HTTP on `ingress_port` and HTTPS on
`ingress_tls_port` (0: chosen at start).

Neighbours: `runtime.cluster.config` (holds one), `runtime.network.plane`.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "LOOPBACK_CLUSTER_CIDR",
    "LOOPBACK_LOAD_BALANCER_POOL",
    "LOOPBACK_SERVICE_CIDR",
    "NetworkMode",
    "ProcessNetworkConfig",
    "loopback_node_address",
    "loopback_pod_cidr",
]

NetworkMode = Literal["loopback", "namespaces"]

LOOPBACK_SERVICE_CIDR = "127.96.0.0/12"
"""The service range of a loopback process cluster (ClusterIPs the host can bind)."""

LOOPBACK_LOAD_BALANCER_POOL = "127.112.0.1-127.112.0.250"
"""The load-balancer addresses of a loopback process cluster (bindable too)."""

LOOPBACK_CLUSTER_CIDR = "127.128.0.0/9"
"""Where a loopback process cluster's node podCIDRs (/24 each) come from."""

_LOOPBACK_NODE_BASE = ipaddress.IPv4Address("127.16.0.1")
_MAX_LOOPBACK_NODES = 32768


def loopback_pod_cidr(index: int) -> str:
    """The podCIDR of the index-th node of a loopback process cluster."""
    _check_index(index)
    high, low = divmod(index, 256)
    return f"127.{128 + high}.{low}.0/24"


def loopback_node_address(index: int) -> str:
    """The InternalIP of the index-th node of a loopback process cluster."""
    _check_index(index)
    return str(_LOOPBACK_NODE_BASE + index)


def _check_index(index: int) -> None:
    if not 0 <= index < _MAX_LOOPBACK_NODES:
        raise ValueError(
            f"a loopback process cluster has at most {_MAX_LOOPBACK_NODES} nodes, "
            f"node index {index} is out of range"
        )


@dataclass(frozen=True, slots=True)
class ProcessNetworkConfig:
    """See the module docstring."""

    mode: NetworkMode = "loopback"
    cluster_domain: str = "cluster.local"
    dns_address: str | None = None
    dns_port: int = 53
    ingress_address: str = "127.0.0.1"
    ingress_port: int = 0
    ingress_tls_port: int = 0
    ingress_class: str = "kubeloop"
    udp_idle_timeout: float = 30.0
    """How long a UDP flow's upstream socket lives without traffic (conntrack's)."""

    def __post_init__(self) -> None:
        if self.mode not in ("loopback", "namespaces"):
            raise ValueError(f"network mode must be 'loopback' or 'namespaces', got {self.mode!r}")
        for name in ("dns_port", "ingress_port", "ingress_tls_port"):
            value = getattr(self, name)
            if not 0 <= value <= 65535:
                raise ValueError(f"{name} must be within 0..65535, got {value}")
        for name in ("dns_address", "ingress_address"):
            value = getattr(self, name)
            if value is not None:
                try:
                    ipaddress.IPv4Address(value)
                except ValueError:
                    raise ValueError(f"{name} must be an IPv4 address, got {value!r}") from None
        if self.mode == "loopback" and not ipaddress.IPv4Address(self.ingress_address).is_loopback:
            raise ValueError(
                f"ingress_address {self.ingress_address!r} is not a loopback address "
                "(the loopback network mode binds only 127.0.0.0/8)"
            )

    @property
    def resolved_dns_address(self) -> str:
        if self.dns_address is not None:
            return self.dns_address
        return "127.0.0.10" if self.mode == "loopback" else "169.254.20.10"
