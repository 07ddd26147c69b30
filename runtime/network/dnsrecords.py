"""What cluster DNS answers, computed from Services, EndpointSlices and Pods.

Pure (no I/O): `ClusterRecords(domain, service, slices, pods).lookup(name, type)`
follows Kubernetes' DNS specification for Services and Pods (as CoreDNS's
kubernetes plugin, `pods verified`):

* `<svc>.<ns>.svc.<domain>` A: the ClusterIP; for a headless Service
  (`clusterIP: None`) the addresses of its ready endpoints (the slice
  controller already counts `publishNotReadyAddresses` as ready); an
  ExternalName Service answers a CNAME to its `externalName`;
* `_<port>._<proto>.<svc>.<ns>.svc.<domain>` SRV for every named port:
  priority 0, weight 100, the port, and the Service's name as target (a
  headless Service: one record per ready endpoint, targeting the endpoint's
  own name below);
* `<hostname>.<svc>.<ns>.svc.<domain>` A for an endpoint of a headless
  Service with a `hostname` (a StatefulSet's pod `web-0` with `subdomain:
  nginx` is `web-0.nginx.default.svc.cluster.local`), and
  `<a-b-c-d>.<svc>.<ns>.svc.<domain>` for one without;
* `<a-b-c-d>.<ns>.pod.<domain>` A when a pod of that namespace has that IP.

A name that exists with no record of the asked type is NODATA (an empty
NOERROR answer), so resolvers asking A and AAAA together work; a name under
the domain that does not exist is NXDOMAIN. TTL is 5 s, CoreDNS's default.

Neighbours: `runtime.network.dnsserver` (the server), `engine.api`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from engine.api.core import Pod, Service
from engine.api.discovery import EndpointSlice
from runtime.network.proxyrules import SERVICE_NAME_LABEL

__all__ = ["TTL", "Answer", "ClusterRecords", "Record"]

TTL = 5


@dataclass(frozen=True, slots=True)
class Record:
    name: str  # absolute, with the trailing dot
    type: Literal["A", "CNAME", "SRV"]
    data: str  # rdata in zone-file text


@dataclass(frozen=True, slots=True)
class Answer:
    """`records` for the name; `exists` False means NXDOMAIN; `authoritative`
    False means the name is outside the cluster domain (not ours to answer)."""

    records: tuple[Record, ...] = ()
    exists: bool = True
    authoritative: bool = True


def _dashed(ip: str) -> str:
    return ip.replace(".", "-")


class ClusterRecords:
    """See the module docstring: one snapshot of the cluster's names."""

    def __init__(
        self,
        domain: str,
        service: Callable[[str, str], Service | None],
        slices: Callable[[str, str], Iterable[EndpointSlice]],
        pods: Callable[[str], Iterable[Pod]],
    ) -> None:
        """`service(namespace, name)`, `slices(namespace, service name)` and
        `pods(namespace)` read the cluster's state (an informer cache's)."""
        self.domain = domain.strip(".").lower()
        self.service = service
        self.slices = slices
        self.pods = pods

    @classmethod
    def of(
        cls,
        domain: str,
        services: Iterable[Service],
        slices: Iterable[EndpointSlice],
        pods: Iterable[Pod],
    ) -> ClusterRecords:
        """Records over plain collections (a snapshot)."""
        by_name = {(s.metadata.namespace, s.metadata.name): s for s in services}
        by_service: dict[tuple[str, str], list[EndpointSlice]] = {}
        for endpoint_slice in slices:
            name = endpoint_slice.metadata.labels.get(SERVICE_NAME_LABEL)
            if name:
                by_service.setdefault((endpoint_slice.metadata.namespace, name), []).append(
                    endpoint_slice
                )
        pod_list = list(pods)
        return cls(
            domain,
            lambda namespace, name: by_name.get((namespace, name)),
            lambda namespace, name: by_service.get((namespace, name), []),
            lambda namespace: [p for p in pod_list if p.metadata.namespace == namespace],
        )

    def lookup(self, name: str, qtype: str) -> Answer:
        labels = name.strip(".").lower().split(".")
        domain = self.domain.split(".")
        if labels[-len(domain) :] != domain:
            return Answer(exists=False, authoritative=False)
        labels = labels[: -len(domain)]
        if len(labels) >= 2 and labels[-1] == "pod":
            return self._pod(name, labels[:-1], qtype)
        if len(labels) < 3 or labels[-1] != "svc":
            return Answer(exists=len(labels) <= 2 and labels[-1:] in (["svc"], ["pod"], []))
        namespace, service_name = labels[-2], labels[-3]
        service = self.service(namespace, service_name)
        if service is None:
            return Answer(exists=False)
        rest = labels[:-3]
        fqdn = f"{service_name}.{namespace}.svc.{self.domain}."
        if not rest:
            return self._service(fqdn, service, qtype)
        if len(rest) == 2 and rest[0].startswith("_") and rest[1].startswith("_"):
            return self._srv(fqdn, service, rest[0][1:], rest[1][1:], qtype)
        if len(rest) == 1:
            return self._endpoint(fqdn, service, rest[0], qtype)
        return Answer(exists=False)

    def _ready_endpoints(self, service: Service) -> list[tuple[str, str | None, str | None]]:
        """(ip, hostname, node) of every ready endpoint, deduplicated by ip."""
        seen: dict[str, tuple[str, str | None, str | None]] = {}
        for endpoint_slice in self.slices(service.metadata.namespace, service.metadata.name):
            if endpoint_slice.address_type != "IPv4":
                continue
            for endpoint in endpoint_slice.endpoints:
                if endpoint.conditions.ready is False or not endpoint.addresses:
                    continue
                ip = endpoint.addresses[0]
                seen.setdefault(ip, (ip, endpoint.hostname, endpoint.node_name))
        return [seen[ip] for ip in sorted(seen)]

    def _service(self, fqdn: str, service: Service, qtype: str) -> Answer:
        spec = service.spec
        if spec.type == "ExternalName" and spec.external_name:
            target = spec.external_name.rstrip(".") + "."
            return Answer((Record(fqdn, "CNAME", target),))
        if qtype not in ("A", "ANY"):
            return Answer()
        if spec.cluster_ip == "None":
            ips = [ip for ip, _, _ in self._ready_endpoints(service)]
        elif spec.cluster_ip and ":" not in spec.cluster_ip:
            ips = [spec.cluster_ip]
        else:
            ips = []
        return Answer(tuple(Record(fqdn, "A", ip) for ip in ips))

    def _srv(self, fqdn: str, service: Service, port: str, protocol: str, qtype: str) -> Answer:
        match = [
            p
            for p in service.spec.ports
            if p.name and p.name.lower() == port and p.protocol.lower() == protocol
        ]
        if not match:
            return Answer(exists=False)
        owner = f"_{port}._{protocol}.{fqdn}"
        if qtype not in ("SRV", "ANY"):
            return Answer()
        service_port = match[0]
        if service.spec.cluster_ip != "None":
            return Answer((Record(owner, "SRV", f"0 100 {service_port.port} {fqdn}"),))
        records: list[Record] = []
        ready = {ip for ip, _, _ in self._ready_endpoints(service)}
        for endpoint_slice in self.slices(service.metadata.namespace, service.metadata.name):
            numbers = [
                p.port
                for p in endpoint_slice.ports
                if (p.name or "") == service_port.name and p.protocol == service_port.protocol
            ]
            if not numbers or numbers[0] is None:
                continue
            for endpoint in endpoint_slice.endpoints:
                if not endpoint.addresses or endpoint.addresses[0] not in ready:
                    continue
                label = endpoint.hostname or _dashed(endpoint.addresses[0])
                records.append(Record(owner, "SRV", f"0 100 {numbers[0]} {label}.{fqdn}"))
        return Answer(tuple(sorted(set(records), key=lambda r: r.data)))

    def _endpoint(self, fqdn: str, service: Service, label: str, qtype: str) -> Answer:
        if service.spec.cluster_ip != "None":
            return Answer(exists=False)
        ips = [
            ip
            for ip, hostname, _ in self._ready_endpoints(service)
            if (hostname or "").lower() == label or _dashed(ip) == label
        ]
        if not ips:
            return Answer(exists=False)
        if qtype not in ("A", "ANY"):
            return Answer()
        return Answer(tuple(Record(f"{label}.{fqdn}", "A", ip) for ip in ips))

    def _pod(self, name: str, labels: list[str], qtype: str) -> Answer:
        if len(labels) != 2:
            return Answer(exists=len(labels) == 1)
        dashed, namespace = labels
        ip = dashed.replace("-", ".")
        found = any(
            ip in {pod.status.pod_ip, *(p.ip for p in pod.status.pod_ips)}
            for pod in self.pods(namespace)
        )
        if not found:
            return Answer(exists=False)
        if qtype not in ("A", "ANY"):
            return Answer()
        return Answer((Record(name.rstrip(".").lower() + ".", "A", ip),))
