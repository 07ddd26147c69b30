"""`ClusterConfig`: everything that makes a kubeloop cluster what it is.

A frozen value: node pools (count, capacity, labels, taints, zones, and for
autoscaled pools min_count, max_count and provisioning_delay), the cluster
autoscaler's options, the container runtime (simulated or real processes),
the clock (virtual or real), the seed every random choice derives from, which
controllers run, the log level, the network of a process cluster (`network`,
`runtime.network.config`), the address plan (`addresses`: kubeadm's service
and pod ranges; a cluster of more than 256 nodes on the default plan gets
10.128.0.0/9 for its pods, so every node has its /24), whether the cluster
starts with the default StorageClass `standard` (`runtime.cluster.storage`),
and where the cluster's state is kept: in memory only (`data_dir` None, the
default) or also in a SQLite database in `data_dir` (`engine.durable`), from
which a later cluster with the same `data_dir` starts where this one stopped;
`fsync` is that database's durability policy; or in etcd (`etcd_servers`,
`engine.storage.etcd`), where several clusters (apiserver processes) may
share it. Defaults give a 3-node
simulated cluster on virtual time with every built-in controller, the
scheduler and that StorageClass, its state in memory only.

Neighbours: `runtime.cluster.cluster` (reads it), `runtime.kubelet.config`
(each pool expands to one `KubeletConfig` per node).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from controllers.clusterautoscaler import AutoscalingOptions
from controllers.common.network import NetworkSettings
from controllers.registry import CONTROLLERS
from engine.admission.podsecurity import PodSecurityExemptions
from engine.api.core import Taint
from engine.api.integers import INT32_MAX
from engine.storage.etcd import endpoint_address
from runtime.network.config import ProcessNetworkConfig

__all__ = ["ALL_CONTROLLERS", "MAX_NODES", "ClusterConfig", "NodePool"]

MAX_NODES = 50_000
"""Nodes one cluster may have: ten times the 5,000 Kubernetes supports, so any
real size fits, while a typo (`--nodes 10000000`) is refused at once instead of
building millions of node agents."""

ALL_CONTROLLERS: tuple[str, ...] = tuple(CONTROLLERS)
"""The controllers a cluster runs unless told otherwise, by name."""


@dataclass(frozen=True, slots=True)
class NodePool:
    """`count` identical nodes named `<name>-<i>`. With `zones`, nodes are spread
    over them round-robin (label topology.kubernetes.io/zone). The container
    log limits are the kubelet's (containerLogMaxSize, containerLogMaxFiles).

    With `max_count`, the pool is a node group the cluster autoscaler sizes
    between `min_count` (default 0) and `max_count`, starting at `count`; a node
    it adds registers `provisioning_delay` seconds (of the cluster's clock)
    after it was requested, with the pool's capacity, labels and taints (the
    pool's template)."""

    name: str = "node"
    count: int = 3
    cpu: str = "4"
    memory: str = "16Gi"
    pods: int = 110
    extended_resources: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    zones: tuple[str, ...] = ()
    region: str | None = None
    container_log_max_size: str = "10Mi"
    container_log_max_files: int = 5
    min_count: int | None = None
    max_count: int | None = None
    provisioning_delay: float = 60.0

    @property
    def autoscaled(self) -> bool:
        return self.max_count is not None

    def __post_init__(self) -> None:
        if self.min_count is not None and self.max_count is None:
            raise ValueError(f"node pool {self.name!r}: min_count needs max_count")
        if self.max_count is not None:
            low = self.min_count or 0
            if low < 0:
                raise ValueError(f"node pool {self.name!r}: min_count must be >= 0, got {low}")
            if self.max_count < low or self.max_count > MAX_NODES:
                raise ValueError(
                    f"node pool {self.name!r}: max_count must be within "
                    f"[min_count={low}, {MAX_NODES}], got {self.max_count}"
                )
            if not low <= self.count <= self.max_count:
                raise ValueError(
                    f"node pool {self.name!r}: count must be within "
                    f"[min_count={low}, max_count={self.max_count}], got {self.count}"
                )
        if self.provisioning_delay < 0:
            raise ValueError(
                f"node pool {self.name!r}: provisioning_delay must be >= 0, "
                f"got {self.provisioning_delay}"
            )
        if self.count < 0:
            raise ValueError(f"node pool {self.name!r}: count must be >= 0, got {self.count}")
        if self.count > MAX_NODES:
            raise ValueError(
                f"node pool {self.name!r}: count must be <= {MAX_NODES}, got {self.count}"
            )
        if not 1 <= self.pods <= INT32_MAX:  # the kubelet's maxPods is an int32
            raise ValueError(
                f"node pool {self.name!r}: pods must be 1 to {INT32_MAX}, got {self.pods}"
            )


@dataclass(frozen=True, slots=True)
class ClusterConfig:
    """See the module docstring. `controllers` names entries of `ALL_CONTROLLERS`."""

    node_pools: tuple[NodePool, ...] = (NodePool(),)
    runtime: Literal["simulated", "process"] = "simulated"
    virtual_time: bool = True
    seed: int = 0
    controllers: tuple[str, ...] = ALL_CONTROLLERS
    log_level: str | None = None
    history_size: int = 20_000
    data_dir: Path | None = None
    fsync: Literal["normal", "always"] = "normal"
    etcd_servers: tuple[str, ...] = ()
    """etcd client URLs (`http://HOST:PORT`): keep the state there, as
    kube-apiserver does (`engine.storage.etcd`); none: in memory."""
    network: ProcessNetworkConfig = field(default_factory=ProcessNetworkConfig)
    """The pod network, kube-proxy, DNS and ingress of a process cluster
    (`runtime.network.config`); simulated nodes ignore it."""
    default_storage_class: bool = True
    metric_resolution: float = 15.0
    """How often the metrics server scrapes the kubelets (metrics-server's
    --metric-resolution), in seconds of the cluster's clock."""
    request_rate: Callable[[str], float] | None = None
    """Requests per second each pod receives, by pod uid: the simulated
    runtime's load-driven CPU (`sim.kubeloop.io/cpu-per-request`) multiplies
    it. None: the cluster's own simulated traffic (`Cluster.traffic`, the
    `traffic` scenario step)."""
    addresses: NetworkSettings = field(default_factory=NetworkSettings)
    """The address plan: service CIDR and node ports (the store allocates),
    cluster CIDR and per-node mask (node IPAM), the load-balancer pool."""
    cluster_autoscaler: AutoscalingOptions = field(default_factory=AutoscalingOptions)
    """The cluster autoscaler's options; it runs when a pool has `max_count`."""
    pod_security_exemptions: PodSecurityExemptions | None = None
    """PodSecurity admission's exempt namespaces and runtime classes
    (`engine.admission.podsecurity`); None: no exemptions."""

    def __post_init__(self) -> None:
        if self.addresses.node_cidrs() < self.node_count:
            if self.addresses.cluster_cidr != NetworkSettings().cluster_cidr:
                raise ValueError(
                    f"cluster CIDR {self.addresses.cluster_cidr} with /"
                    f"{self.addresses.node_cidr_mask_size} per node holds "
                    f"{self.addresses.node_cidrs()} nodes, not {self.node_count}"
                )
            # A big simulated cluster on the default plan: a wider pod range
            # (as a user sizing --cluster-cidr for it would choose).
            wide = replace(
                self.addresses,
                cluster_cidr="10.128.0.0/9",
                node_cidr_mask_size=24 if self.node_count <= 32768 else 25,
            )
            object.__setattr__(self, "addresses", wide)
        unknown = sorted(set(self.controllers) - set(ALL_CONTROLLERS))
        if unknown:
            raise ValueError(
                f"unknown controller(s) {', '.join(unknown)}; "
                f"choose from {', '.join(ALL_CONTROLLERS)}"
            )
        if self.runtime not in ("simulated", "process"):
            raise ValueError(f"runtime must be 'simulated' or 'process', got {self.runtime!r}")
        if not self.metric_resolution > 0:
            raise ValueError(f"metric_resolution must be > 0 seconds, got {self.metric_resolution}")
        if self.node_count > MAX_NODES:
            raise ValueError(f"at most {MAX_NODES} nodes, got {self.node_count}")
        if self.etcd_servers and self.data_dir is not None:
            raise ValueError("choose one place for the state: data_dir or etcd_servers, not both")
        for url in self.etcd_servers:
            endpoint_address(url)  # a bad URL is refused before anything starts
        if self.fsync not in ("normal", "always"):
            raise ValueError(f"fsync must be 'normal' or 'always', got {self.fsync!r}")
        names = [p.name for p in self.node_pools]
        if len(set(names)) != len(names):
            raise ValueError(f"node pool names must be unique, got {names}")

    @property
    def node_count(self) -> int:
        return sum(p.count for p in self.node_pools)

    @property
    def autoscaled(self) -> bool:
        """Whether some pool is a node group of the cluster autoscaler."""
        return any(p.autoscaled for p in self.node_pools)
