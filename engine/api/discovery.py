"""The discovery.k8s.io/v1 API group: EndpointSlice, a slice of a Service's
endpoints (at most 100 by default) with per-endpoint readiness, serving and
terminating conditions and topology.

Neighbours: `engine.api.core` (ObjectReference, the older Endpoints), the
endpointslice controller (writer) and service proxies (readers).
"""

from __future__ import annotations

from pydantic import Field, StrictBool

from engine.api.base import KubeModel, Resource
from engine.api.core import ObjectReference
from engine.api.integers import Int32
from engine.registry import kind

__all__ = [
    "Endpoint",
    "EndpointConditions",
    "EndpointHints",
    "EndpointSlice",
    "EndpointSlicePort",
    "ForNode",
    "ForZone",
]


class EndpointConditions(KubeModel):
    """None for `ready` or `serving` means unknown and is read as true."""

    ready: StrictBool | None = None
    serving: StrictBool | None = None
    terminating: StrictBool | None = None


class ForZone(KubeModel):
    name: str


class ForNode(KubeModel):
    name: str


class EndpointHints(KubeModel):
    for_zones: list[ForZone] = Field(default_factory=list)
    for_nodes: list[ForNode] = Field(default_factory=list)


class Endpoint(KubeModel):
    addresses: list[str]
    conditions: EndpointConditions = Field(default_factory=EndpointConditions)
    hostname: str | None = None
    target_ref: ObjectReference | None = None
    deprecated_topology: dict[str, str] = Field(default_factory=dict)
    node_name: str | None = None
    zone: str | None = None
    hints: EndpointHints | None = None


class EndpointSlicePort(KubeModel):
    name: str = ""
    protocol: str = "TCP"
    port: Int32 | None = None
    app_protocol: str | None = None


@kind(
    "discovery.k8s.io/v1",
    "EndpointSlice",
    plural="endpointslices",
    namespaced=True,
    status_subresource=False,
)
class EndpointSlice(Resource):
    address_type: str
    endpoints: list[Endpoint] = Field(default_factory=list)
    ports: list[EndpointSlicePort] = Field(default_factory=list)
