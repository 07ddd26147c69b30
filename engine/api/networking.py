"""The networking.k8s.io/v1 API group: Ingress and IngressClass.

An Ingress routes HTTP by host and path (`pathType` Exact, Prefix or
ImplementationSpecific) to a Service port named or numbered in
`ServiceBackendPort`. IngressClass is cluster-scoped and names the controller
that implements a class.

Neighbours: `engine.api.core` (Service, TypedLocalObjectReference), the
ingress implementation on the node side.
"""

from __future__ import annotations

from pydantic import Field

from engine.api.base import KubeModel, Resource
from engine.api.core import TypedLocalObjectReference
from engine.api.integers import Int32
from engine.registry import kind

__all__ = [
    "HTTPIngressPath",
    "HTTPIngressRuleValue",
    "Ingress",
    "IngressBackend",
    "IngressClass",
    "IngressClassParametersReference",
    "IngressClassSpec",
    "IngressLoadBalancerIngress",
    "IngressLoadBalancerStatus",
    "IngressPortStatus",
    "IngressRule",
    "IngressServiceBackend",
    "IngressSpec",
    "IngressStatus",
    "IngressTLS",
    "ServiceBackendPort",
]


class ServiceBackendPort(KubeModel):
    """A service port by name or by number (exactly one)."""

    name: str | None = None
    number: Int32 | None = None


class IngressServiceBackend(KubeModel):
    name: str
    port: ServiceBackendPort | None = None


class IngressBackend(KubeModel):
    """A Service port, or another resource (e.g. a storage bucket); exactly one."""

    service: IngressServiceBackend | None = None
    resource: TypedLocalObjectReference | None = None


class HTTPIngressPath(KubeModel):
    path_type: str
    backend: IngressBackend
    path: str | None = None


class HTTPIngressRuleValue(KubeModel):
    paths: list[HTTPIngressPath] = Field(default_factory=list)


class IngressRule(KubeModel):
    host: str | None = None
    http: HTTPIngressRuleValue | None = None


class IngressTLS(KubeModel):
    hosts: list[str] = Field(default_factory=list)
    secret_name: str | None = None


class IngressSpec(KubeModel):
    ingress_class_name: str | None = None
    default_backend: IngressBackend | None = None
    tls: list[IngressTLS] = Field(default_factory=list)
    rules: list[IngressRule] = Field(default_factory=list)


class IngressPortStatus(KubeModel):
    port: Int32
    protocol: str
    error: str | None = None


class IngressLoadBalancerIngress(KubeModel):
    ip: str | None = None
    hostname: str | None = None
    ports: list[IngressPortStatus] = Field(default_factory=list)


class IngressLoadBalancerStatus(KubeModel):
    ingress: list[IngressLoadBalancerIngress] = Field(default_factory=list)


class IngressStatus(KubeModel):
    load_balancer: IngressLoadBalancerStatus = Field(default_factory=IngressLoadBalancerStatus)


@kind(
    "networking.k8s.io/v1", "Ingress", plural="ingresses", namespaced=True, status_subresource=True
)
class Ingress(Resource):
    spec: IngressSpec = Field(default_factory=IngressSpec)
    status: IngressStatus = Field(default_factory=IngressStatus)


class IngressClassParametersReference(KubeModel):
    kind: str
    name: str
    api_group: str | None = None
    scope: str | None = None
    namespace: str | None = None


class IngressClassSpec(KubeModel):
    controller: str | None = None
    parameters: IngressClassParametersReference | None = None


@kind(
    "networking.k8s.io/v1",
    "IngressClass",
    plural="ingressclasses",
    namespaced=False,
    status_subresource=False,
)
class IngressClass(Resource):
    spec: IngressClassSpec = Field(default_factory=IngressClassSpec)
