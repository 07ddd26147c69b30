"""`KubeletConfig`: everything that makes one node what it is, with Kubernetes' defaults.

Role: a frozen value the kubelet reads at start: the node's name, capacity
(cpu, memory, pods, extended resources), labels, taints, zone and region,
addresses, pod CIDR, and the kubelet's timing (lease renewal, status
reporting, CrashLoopBackOff). Defaults are the kubelet's: 110 pods, a 40 s
lease renewed every 10 s (a quarter of its duration) with 4 % jitter, node
status checked every 10 s and posted at least every 5 min, restart backoff
10 s doubling to 300 s and reset after 10 min of clean running, container
logs rotated at 10Mi keeping 5 files.

`KubeletConfig.for_node(name, index)` derives a distinct pod CIDR
(10.<hi>.<lo>.0/24) and address (172.16.0.1 + index) for the index-th node
of a simulated cluster.

Neighbours: `runtime.kubelet.kubelet` (reads it), `runtime.kubelet.node`
(turns it into a Node object).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.api.core import Taint
from engine.quantity import Quantity

__all__ = ["DEFAULT_CAPACITY", "KubeletConfig"]

DEFAULT_CAPACITY: Mapping[str, str] = {
    "cpu": "4",
    "memory": "16Gi",
    "pods": "110",
    "ephemeral-storage": "100Gi",
}


@dataclass(frozen=True, slots=True)
class KubeletConfig:
    """One node's identity, resources and kubelet timing (see the module docstring)."""

    node_name: str
    capacity: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_CAPACITY))
    allocatable: Mapping[str, str] | None = None  # None: equal to capacity
    labels: Mapping[str, str] = field(default_factory=dict)
    taints: tuple[Taint, ...] = ()
    zone: str | None = None
    region: str | None = None
    internal_ip: str = "10.0.0.1"
    pod_cidr: str = "10.244.0.0/24"
    operating_system: str = "linux"
    architecture: str = "amd64"
    kubelet_version: str = "v1.33.0-kubeloop"
    kubelet_port: int = 10250
    # Heartbeats (kubelet flags / KubeletConfiguration fields of the same names).
    node_lease_duration_seconds: int = 40
    node_lease_renew_fraction: float = 0.25
    heartbeat_jitter: float = 0.04
    node_status_update_frequency: float = 10.0
    node_status_report_frequency: float = 300.0
    # Restarts.
    crash_loop_initial_backoff: float = 10.0
    crash_loop_max_backoff: float = 300.0
    # Container logs (KubeletConfiguration containerLogMaxSize / containerLogMaxFiles),
    # applied by runtimes that keep logs (the process runtime).
    container_log_max_size: str = "10Mi"
    container_log_max_files: int = 5

    def __post_init__(self) -> None:
        if self.container_log_max_files < 2:
            raise ValueError(
                f"node {self.node_name}: containerLogMaxFiles must be at least 2, "
                f"got {self.container_log_max_files}"
            )
        if self.container_log_max_size_bytes <= 0:
            raise ValueError(
                f"node {self.node_name}: containerLogMaxSize must be positive, "
                f"got {self.container_log_max_size!r}"
            )

    @property
    def container_log_max_size_bytes(self) -> int:
        try:
            return Quantity(self.container_log_max_size).value()
        except ValueError as error:
            raise ValueError(f"node {self.node_name}: containerLogMaxSize: {error}") from None

    @property
    def lease_renew_interval(self) -> float:
        return self.node_lease_duration_seconds * self.node_lease_renew_fraction

    def capacity_quantities(self) -> dict[str, Quantity]:
        return {name: Quantity(value) for name, value in self.capacity.items()}

    def allocatable_quantities(self) -> dict[str, Quantity]:
        source = self.allocatable if self.allocatable is not None else self.capacity
        return {name: Quantity(value) for name, value in source.items()}

    @classmethod
    def for_node(cls, name: str, index: int, **overrides: Any) -> KubeletConfig:
        """A config for the `index`-th node of a cluster: pod CIDR 10.<hi>.<lo>.0/24
        and address 172.16.0.1 + index, which never collide (index < 65536)."""
        if not 0 <= index < 65536:
            raise ValueError(f"node index must be within [0, 65536), got {index}")
        high, low = divmod(index, 256)
        values: dict[str, Any] = {
            "node_name": name,
            "internal_ip": str(ipaddress.IPv4Address("172.16.0.1") + index),
            "pod_cidr": f"10.{high}.{low}.0/24",
        }
        values.update(overrides)
        return cls(**values)
