"""kube-proxy's rules, computed: Services and EndpointSlices to forwarding frontends.

Pure (no I/O, no clock): `build_rules(services, slices, nodes)` turns the
cluster's state into `Frontend`s, one per address, port and protocol the
proxy must answer on, each holding the Service port's `Backend`s. As
kube-proxy (pkg/proxy: ServicePortInfo, CategorizeEndpoints):

* proxied Services have a ClusterIP (not headless `None`, not ExternalName);
  each Service port gives a ClusterIP frontend, a NodePort frontend per node
  address (and 127.0.0.1, where kube-proxy's `--nodeport-addresses` includes
  localhost), and one per `externalIPs` and `status.loadBalancer.ingress[].ip`;
* the endpoints of a Service port are those of every slice labelled
  `kubernetes.io/service-name=<name>` with a port of the same name and
  protocol, deduplicated by address;
* `usable(backends, node, local)`: the ready endpoints (ready unknown counts
  as ready); when none is ready, the serving terminating ones; with a Local
  traffic policy, only those on `node`, with the same fallback. An empty
  result means the connection is rejected.

`Frontend.internal` tells which traffic policy applies: the ClusterIP obeys
`internalTrafficPolicy`, NodePorts and external addresses obey
`externalTrafficPolicy`.

Neighbours: `runtime.network.proxier` (applies the rules), `engine.api`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from engine.api.core import Service
from engine.api.discovery import EndpointSlice

__all__ = [
    "SERVICE_NAME_LABEL",
    "Backend",
    "Frontend",
    "FrontendKey",
    "build_rules",
    "index_by_service_name",
    "is_proxied",
    "service_backends",
    "usable",
]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"
HOST_NODE_ADDRESS = "127.0.0.1"

FrontendKey = tuple[str, int, str]
"""(address, port, protocol) a frontend answers on."""


@dataclass(frozen=True, slots=True)
class Backend:
    ip: str
    port: int
    node: str | None
    ready: bool
    serving: bool
    terminating: bool


@dataclass(frozen=True, slots=True)
class Frontend:
    """One address/port/protocol of one Service port."""

    service: str  # namespace/name
    port_name: str
    address: str
    port: int
    protocol: str
    internal: bool  # the ClusterIP (internalTrafficPolicy) or external (externalTrafficPolicy)
    local: bool  # the applicable traffic policy is Local
    node: str | None  # a NodePort on one node's address: that node; else None
    backends: tuple[Backend, ...]
    affinity_seconds: float | None  # sessionAffinity ClientIP timeout, None without affinity

    @property
    def key(self) -> FrontendKey:
        return (self.address, self.port, self.protocol)


def is_proxied(service: Service) -> bool:
    ip = service.spec.cluster_ip
    return service.spec.type != "ExternalName" and bool(ip) and ip != "None"


def index_by_service_name(obj: EndpointSlice) -> list[str]:
    """An informer index of EndpointSlices by `<namespace>/<service name>`."""
    name = obj.metadata.labels.get(SERVICE_NAME_LABEL)
    return [f"{obj.metadata.namespace}/{name}"] if name else []


def service_backends(
    port_name: str, protocol: str, slices: Iterable[EndpointSlice]
) -> tuple[Backend, ...]:
    """The endpoints of one Service port (by name and protocol) in `slices`."""
    found: dict[str, Backend] = {}
    for endpoint_slice in slices:
        if endpoint_slice.address_type != "IPv4":
            continue
        port = next(
            (
                p.port
                for p in endpoint_slice.ports
                if (p.name or "") == port_name and p.protocol == protocol and p.port
            ),
            None,
        )
        if port is None:
            continue
        for endpoint in endpoint_slice.endpoints:
            conditions = endpoint.conditions
            for address in endpoint.addresses[:1]:
                found.setdefault(
                    address,
                    Backend(
                        ip=address,
                        port=port,
                        node=endpoint.node_name,
                        ready=conditions.ready is not False,
                        serving=conditions.serving is not False,
                        terminating=bool(conditions.terminating),
                    ),
                )
    return tuple(found[address] for address in sorted(found))


def build_rules(
    services: Iterable[Service],
    slices: Iterable[EndpointSlice],
    nodes: Mapping[str, str],
    *,
    host_node: str | None = None,
) -> dict[FrontendKey, Frontend]:
    """Every frontend of every proxied Service. `nodes` maps node names to their
    address (NodePorts listen there); `host_node`'s NodePorts also listen on
    127.0.0.1. A key claimed twice keeps the first Service in (namespace, name)
    order, as a second listener on one address could not bind."""
    by_service: dict[tuple[str, str], list[EndpointSlice]] = {}
    for endpoint_slice in slices:
        name = endpoint_slice.metadata.labels.get(SERVICE_NAME_LABEL)
        if name:
            key = (endpoint_slice.metadata.namespace, name)
            by_service.setdefault(key, []).append(endpoint_slice)
    rules: dict[FrontendKey, Frontend] = {}
    ordered = sorted(services, key=lambda s: (s.metadata.namespace, s.metadata.name))
    for service in ordered:
        if not is_proxied(service):
            continue
        spec = service.spec
        ident = f"{service.metadata.namespace}/{service.metadata.name}"
        own = by_service.get((service.metadata.namespace, service.metadata.name), [])
        affinity: float | None = None
        if spec.session_affinity == "ClientIP":
            config = spec.session_affinity_config
            timeout = config.client_ip.timeout_seconds if config and config.client_ip else None
            affinity = float(timeout if timeout is not None else 10800)
        internal_local = spec.internal_traffic_policy == "Local"
        external_local = spec.external_traffic_policy == "Local"
        external_ips = list(spec.external_ips)
        external_ips += [i.ip for i in service.status.load_balancer.ingress if i.ip]
        for port in spec.ports:
            template = Frontend(
                service=ident,
                port_name=port.name or "",
                address="",
                port=port.port,
                protocol=port.protocol,
                internal=True,
                local=internal_local,
                node=None,
                backends=service_backends(port.name or "", port.protocol, own),
                affinity_seconds=affinity,
            )
            frontends: list[Frontend] = [
                replace(template, address=ip)
                for ip in dict.fromkeys([spec.cluster_ip or "", *spec.cluster_ips])
                if ip and ip != "None" and ":" not in ip
            ]
            external = replace(template, internal=False, local=external_local)
            if spec.type in ("NodePort", "LoadBalancer") and port.node_port:
                frontends += [
                    replace(external, address=address, port=port.node_port, node=node)
                    for node, address in sorted(nodes.items())
                ]
                if host_node is not None:
                    frontends.append(
                        replace(
                            external, address=HOST_NODE_ADDRESS, port=port.node_port, node=host_node
                        )
                    )
            frontends += [replace(external, address=address) for address in external_ips]
            for frontend in frontends:
                rules.setdefault(frontend.key, frontend)
    return rules


def usable(backends: Iterable[Backend], node: str | None, local: bool) -> list[Backend]:
    """The endpoints a connection may go to (module docstring); empty: reject."""
    candidates = [b for b in backends if not local or b.node == node]
    ready = [b for b in candidates if b.ready]
    if ready:
        return ready
    return [b for b in candidates if b.serving and b.terminating]
