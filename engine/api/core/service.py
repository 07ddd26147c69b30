"""core/v1 Service and Endpoints.

Static defaults are field defaults (type ClusterIP, sessionAffinity None,
port protocol TCP); a port without `targetPort` targets its own `port`, filled
by a validator as SetDefaults_Service does. Defaults that depend on the
service type (traffic policies, allocateLoadBalancerNodePorts, the ClientIP
affinity timeout) are in `engine.api.defaulting`. Cluster IPs are assigned by
whoever allocates them, not here.

Neighbours: `engine.api.discovery` (EndpointSlice, the modern Endpoints),
the endpoints controllers and service proxies (readers).
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, StrictBool, model_validator

from engine.api.base import KubeModel, Resource
from engine.api.core.common import Condition, IntOrString, ObjectReference
from engine.api.integers import Int32
from engine.registry import kind

__all__ = [
    "ClientIPConfig",
    "EndpointAddress",
    "EndpointPort",
    "EndpointSubset",
    "Endpoints",
    "LoadBalancerIngress",
    "LoadBalancerStatus",
    "PortStatus",
    "Service",
    "ServicePort",
    "ServiceSpec",
    "ServiceStatus",
    "SessionAffinityConfig",
]


class ServicePort(KubeModel):
    """`port` on the service; `targetPort` (number or container port name) on the pods."""

    port: Int32
    name: str | None = None
    protocol: str = "TCP"
    app_protocol: str | None = None
    target_port: IntOrString | None = None
    node_port: Int32 | None = None

    @model_validator(mode="after")
    def _default_target_port(self) -> Self:
        if self.target_port in (None, 0, ""):
            object.__setattr__(self, "target_port", self.port)
        return self


class ClientIPConfig(KubeModel):
    timeout_seconds: Int32 | None = None


class SessionAffinityConfig(KubeModel):
    client_ip: ClientIPConfig | None = Field(None, alias="clientIP")


class ServiceSpec(KubeModel):
    ports: list[ServicePort] = Field(default_factory=list)
    selector: dict[str, str] = Field(default_factory=dict)
    cluster_ip: str | None = Field(None, alias="clusterIP")
    cluster_ips: list[str] = Field(default_factory=list, alias="clusterIPs")
    type: str = "ClusterIP"
    external_ips: list[str] = Field(default_factory=list, alias="externalIPs")
    session_affinity: str = "None"
    load_balancer_ip: str | None = Field(None, alias="loadBalancerIP")
    load_balancer_source_ranges: list[str] = Field(default_factory=list)
    external_name: str | None = None
    external_traffic_policy: str | None = None
    health_check_node_port: Int32 | None = None
    publish_not_ready_addresses: StrictBool | None = None
    session_affinity_config: SessionAffinityConfig | None = None
    ip_families: list[str] = Field(default_factory=list)
    ip_family_policy: str | None = None
    allocate_load_balancer_node_ports: StrictBool | None = None
    load_balancer_class: str | None = None
    internal_traffic_policy: str | None = None
    traffic_distribution: str | None = None


class PortStatus(KubeModel):
    port: Int32
    protocol: str
    error: str | None = None


class LoadBalancerIngress(KubeModel):
    ip: str | None = None
    hostname: str | None = None
    ip_mode: str | None = None
    ports: list[PortStatus] = Field(default_factory=list)


class LoadBalancerStatus(KubeModel):
    ingress: list[LoadBalancerIngress] = Field(default_factory=list)


class ServiceStatus(KubeModel):
    load_balancer: LoadBalancerStatus = Field(default_factory=LoadBalancerStatus)
    conditions: list[Condition] = Field(default_factory=list)


@kind("v1", "Service", plural="services", namespaced=True, status_subresource=True)
class Service(Resource):
    spec: ServiceSpec = Field(default_factory=ServiceSpec)
    status: ServiceStatus = Field(default_factory=ServiceStatus)


class EndpointAddress(KubeModel):
    ip: str
    hostname: str | None = None
    node_name: str | None = None
    target_ref: ObjectReference | None = None


class EndpointPort(KubeModel):
    port: Int32
    name: str | None = None
    protocol: str = "TCP"
    app_protocol: str | None = None


class EndpointSubset(KubeModel):
    """Every address of a subset serves every port of it."""

    addresses: list[EndpointAddress] = Field(default_factory=list)
    not_ready_addresses: list[EndpointAddress] = Field(default_factory=list)
    ports: list[EndpointPort] = Field(default_factory=list)


@kind("v1", "Endpoints", plural="endpoints", namespaced=True, status_subresource=False)
class Endpoints(Resource):
    subsets: list[EndpointSubset] = Field(default_factory=list)
