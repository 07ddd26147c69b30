"""`NetworkSettings`: the cluster's address plan, as the controllers that hand
out addresses read it (kube-controller-manager's --cluster-cidr,
--node-cidr-mask-size, --max-endpoints-per-slice and
--endpointslice-updates-batch-period; a MetalLB address pool).

Defaults are kubeadm's and kind's: pods in 10.244.0.0/16, a /24 per node,
Services in 10.96.0.0/12 (the store allocates those, `engine.serviceips`),
load-balancer addresses 172.18.255.200-172.18.255.250 (the pool the kind and
MetalLB guides use). The `Cluster` hands its settings to every controller
setup that takes a `network` argument.

Neighbours: `controllers.nodeipam`, `controllers.loadbalancer`,
`controllers.endpointslice`; `runtime.cluster.config` (where users set them).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

__all__ = ["NetworkSettings", "parse_pool"]


def parse_pool(text: str) -> list[str]:
    """Addresses of a pool written as a CIDR (`192.168.10.0/28`, every host
    address) or a range (`172.18.255.200-172.18.255.250`), in order."""
    text = text.strip()
    try:
        if "-" in text:
            first_text, last_text = text.split("-", 1)
            first = ipaddress.IPv4Address(first_text.strip())
            last = ipaddress.IPv4Address(last_text.strip())
            if last < first:
                raise ValueError("the last address is below the first")
            return [str(ipaddress.IPv4Address(v)) for v in range(int(first), int(last) + 1)]
        network = ipaddress.IPv4Network(text, strict=True)
    except ValueError as error:
        raise ValueError(f"invalid address pool {text!r}: {error}") from None
    hosts = list(network.hosts()) if network.prefixlen < 31 else list(network)
    return [str(a) for a in hosts]


@dataclass(frozen=True, slots=True)
class NetworkSettings:
    service_cidr: str = "10.96.0.0/12"
    node_port_range: str = "30000-32767"
    cluster_cidr: str = "10.244.0.0/16"
    node_cidr_mask_size: int = 24
    load_balancer_pool: str = "172.18.255.200-172.18.255.250"
    max_endpoints_per_slice: int = 100
    endpoint_updates_batch_period: float = 0.0
    """Seconds pod updates wait so that a burst costs one EndpointSlice sync
    (kube-controller-manager's --endpointslice-updates-batch-period, 0 by
    default; large clusters set about 1 s)."""

    def __post_init__(self) -> None:
        network = ipaddress.ip_network(self.cluster_cidr, strict=True)
        if not network.prefixlen <= self.node_cidr_mask_size <= 30:
            raise ValueError(
                f"node CIDR mask size {self.node_cidr_mask_size} must be between the cluster "
                f"CIDR's prefix ({network.prefixlen}) and 30"
            )
        parse_pool(self.load_balancer_pool)
        if self.max_endpoints_per_slice < 1:
            raise ValueError("max_endpoints_per_slice must be at least 1")
        if self.endpoint_updates_batch_period < 0:
            raise ValueError("endpoint_updates_batch_period must be >= 0")

    def node_cidrs(self) -> int:
        """How many node pod CIDRs the cluster CIDR holds."""
        prefix = ipaddress.ip_network(self.cluster_cidr).prefixlen
        return 1 << (self.node_cidr_mask_size - prefix)

    def node_cidr(self, index: int) -> str:
        """The index-th pod CIDR of the cluster CIDR (what the node IPAM
        controller gives the index-th node it sees)."""
        network = ipaddress.ip_network(self.cluster_cidr)
        size = 1 << (32 - self.node_cidr_mask_size)
        if not 0 <= index < self.node_cidrs():
            raise ValueError(f"cluster CIDR {self.cluster_cidr} has no pod CIDR number {index}")
        base = int(network.network_address) + index * size
        return f"{ipaddress.IPv4Address(base)}/{self.node_cidr_mask_size}"
