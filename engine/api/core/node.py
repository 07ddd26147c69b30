"""core/v1 Node: NodeSpec (pod CIDRs, taints, unschedulable) and NodeStatus
(capacity, allocatable, conditions, addresses, node info, images).

Kubernetes' initialisms keep their wire names through explicit aliases:
`pod_cidr` is `podCIDR`, `provider_id` is `providerID`, `machine_id` is
`machineID`. A node's allocatable cpu reads as
`node.status.allocatable.get("cpu")` (a Quantity); when a node reports only
capacity, `engine.api.defaulting` copies it to allocatable as Kubernetes does.

Neighbours: `engine.api.core.placement` (Taint), the scheduler's node
snapshot and the node lifecycle controller (readers), the kubelet (writer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, StrictBool

from engine.api.base import KubeModel, Resource
from engine.api.core.common import find_condition
from engine.api.core.placement import Taint
from engine.api.integers import Int32, Int64
from engine.quantity import ResourceList
from engine.registry import kind

__all__ = [
    "AttachedVolume",
    "ContainerImage",
    "DaemonEndpoint",
    "Node",
    "NodeAddress",
    "NodeCondition",
    "NodeConfigSource",
    "NodeDaemonEndpoints",
    "NodeSpec",
    "NodeStatus",
    "NodeSystemInfo",
]

JSONObject = dict[str, Any]


class NodeConfigSource(KubeModel):
    """Deprecated dynamic kubelet config source; kept as given."""

    config_map: JSONObject | None = None


class NodeSpec(KubeModel):
    pod_cidr: str | None = Field(None, alias="podCIDR")
    pod_cidrs: list[str] = Field(default_factory=list, alias="podCIDRs")
    provider_id: str | None = Field(None, alias="providerID")
    unschedulable: StrictBool | None = None
    taints: list[Taint] = Field(default_factory=list)
    config_source: NodeConfigSource | None = None
    external_id: str | None = Field(None, alias="externalID")
    pod_preemption_policy: JSONObject | None = None


class NodeCondition(KubeModel):
    """Ready, MemoryPressure, DiskPressure, PIDPressure, NetworkUnavailable."""

    type: str
    status: str
    last_heartbeat_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class NodeAddress(KubeModel):
    """Hostname, InternalIP, ExternalIP, InternalDNS or ExternalDNS."""

    type: str
    address: str


class DaemonEndpoint(KubeModel):
    # The one capitalised wire name in the API.
    port: Int32 = Field(alias="Port")


class NodeDaemonEndpoints(KubeModel):
    kubelet_endpoint: DaemonEndpoint | None = None


class NodeSystemInfo(KubeModel):
    machine_id: str = Field("", alias="machineID")
    system_uuid: str = Field("", alias="systemUUID")
    boot_id: str = Field("", alias="bootID")
    kernel_version: str = ""
    os_image: str = ""
    container_runtime_version: str = ""
    kubelet_version: str = ""
    kube_proxy_version: str = ""
    operating_system: str = ""
    architecture: str = ""
    swap: JSONObject | None = None
    running_in_user_namespace: StrictBool | None = None


class ContainerImage(KubeModel):
    names: list[str] = Field(default_factory=list)
    size_bytes: Int64 | None = None


class AttachedVolume(KubeModel):
    name: str
    device_path: str


class NodeStatus(KubeModel):
    capacity: ResourceList = Field(default_factory=dict)
    allocatable: ResourceList = Field(default_factory=dict)
    phase: str | None = None
    conditions: list[NodeCondition] = Field(default_factory=list)
    addresses: list[NodeAddress] = Field(default_factory=list)
    daemon_endpoints: NodeDaemonEndpoints | None = None
    node_info: NodeSystemInfo | None = None
    images: list[ContainerImage] = Field(default_factory=list)
    volumes_in_use: list[str] = Field(default_factory=list)
    volumes_attached: list[AttachedVolume] = Field(default_factory=list)
    config: JSONObject | None = None
    runtime_handlers: list[JSONObject] = Field(default_factory=list)
    features: JSONObject | None = None
    declared_features: list[str] = Field(default_factory=list)

    def condition(self, condition_type: str) -> NodeCondition | None:
        return find_condition(self.conditions, condition_type)


@kind("v1", "Node", plural="nodes", namespaced=False, status_subresource=True)
class Node(Resource):
    spec: NodeSpec = Field(default_factory=NodeSpec)
    status: NodeStatus = Field(default_factory=NodeStatus)

    @property
    def is_ready(self) -> bool:
        """The Ready condition is True."""
        ready = self.status.condition("Ready")
        return ready is not None and ready.status == "True"
