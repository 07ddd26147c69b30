"""The EndpointSlice reconciler: from a Service, its pods and its current
slices, the slices to create, update and delete (Kubernetes' staging
`endpointslice` reconciler), as a pure function.

- Desired endpoints: every selected pod that `should_be_in_endpoints`
  (terminating pods included), with `ready = publishNotReadyAddresses or
  (serving and not terminating)`, `serving` = the pod's Ready condition,
  `terminating` = marked for deletion; `targetRef`, `nodeName`, `zone` (the
  node's topology.kubernetes.io/zone label) and `hostname` (pods whose
  subdomain is the Service). A pod on a Node that is not (yet) known is left
  out and the Service retried, as Kubernetes does.
- Pods are grouped by their resolved ports (a named `targetPort` resolves
  per pod, so pods may serve different numbers): one group of slices per port
  set.
- Churn is kept low as Kubernetes keeps it: an existing slice keeps the
  endpoints still desired (updated in place), drops the others, and is written
  only if it changed; a slice left empty is deleted. New endpoints first fill
  slices already being updated, then the single fullest unchanged slice that
  can take all of them, then new slices of at most `max_endpoints`. A slice
  to create and one to delete become one update of the deleted slice. With no
  endpoint at all, one empty placeholder slice is kept.

Neighbours: `controllers.endpointslice.controller` (reads caches, writes the
plan), `controllers.common.endpoints` (pod facts).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from controllers.common.endpoints import (
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    find_port,
    should_be_in_endpoints,
    should_set_hostname,
)
from controllers.common.ownership import new_controller_ref
from controllers.common.pods import is_pod_ready
from engine.api import Pod, Service
from engine.api.base import ObjectMeta, OwnerReference
from engine.api.core import ObjectReference
from engine.api.discovery import Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort

__all__ = [
    "CONTROLLER_NAME",
    "DEFAULT_MAX_ENDPOINTS_PER_SLICE",
    "LABEL_HEADLESS",
    "EndpointCache",
    "Plan",
    "desired_endpoints",
    "plan",
    "pod_endpoint",
    "slice_labels",
]

CONTROLLER_NAME = "endpointslice-controller.k8s.io"
DEFAULT_MAX_ENDPOINTS_PER_SLICE = 100
LABEL_HEADLESS = "service.kubernetes.io/headless"

PortKey = tuple[tuple[str, str, int, str], ...]


@dataclass(slots=True)
class Plan:
    create: list[EndpointSlice] = field(default_factory=list)
    update: list[EndpointSlice] = field(default_factory=list)
    delete: list[EndpointSlice] = field(default_factory=list)
    missing_nodes: bool = False
    """Some pod's node is not known yet: retry the Service later."""

    def __len__(self) -> int:
        return len(self.create) + len(self.update) + len(self.delete)


def slice_labels(service: Service) -> dict[str, str]:
    """The Service's labels, plus the service-name and managed-by labels (and the
    headless label for a headless Service)."""
    labels = {
        k: v
        for k, v in service.metadata.labels.items()
        if k not in (LABEL_SERVICE_NAME, LABEL_MANAGED_BY, LABEL_HEADLESS)
    }
    labels[LABEL_SERVICE_NAME] = service.metadata.name
    labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
    if service.spec.cluster_ip == "None":
        labels[LABEL_HEADLESS] = ""
    return labels


def _ports(service: Service, pod: Pod) -> list[EndpointSlicePort]:
    ports = []
    for port in service.spec.ports:
        number = find_port(pod, port.target_port, port.protocol)
        if number is None:
            continue  # this pod does not serve this Service port
        ports.append(
            EndpointSlicePort.model_construct(
                name=port.name or "",
                protocol=port.protocol,
                port=number,
                app_protocol=port.app_protocol,
            )
        )
    return ports


def _port_key(ports: Iterable[EndpointSlicePort]) -> PortKey:
    return tuple(sorted((p.name, p.protocol, p.port or 0, p.app_protocol or "") for p in ports))


def pod_endpoint(pod: Pod, service: Service, zone: str | None) -> Endpoint:
    serving = is_pod_ready(pod)
    terminating = pod.metadata.deletion_timestamp is not None
    ready = bool(service.spec.publish_not_ready_addresses) or (serving and not terminating)
    meta = pod.metadata
    addresses = [p.ip for p in pod.status.pod_ips] or [pod.status.pod_ip or ""]
    return Endpoint.model_construct(
        addresses=addresses[:1],
        conditions=EndpointConditions.model_construct(
            ready=ready, serving=serving, terminating=terminating
        ),
        hostname=pod.spec.hostname if should_set_hostname(pod, service) else None,
        target_ref=ObjectReference.model_construct(
            kind="Pod", namespace=meta.namespace, name=meta.name, uid=meta.uid
        ),
        deprecated_topology={},
        node_name=pod.spec.node_name or None,
        zone=zone,
        hints=None,
    )


EndpointCache = dict[
    str, tuple[Pod, Service, "str | None", PortKey, list[EndpointSlicePort], Endpoint]
]
"""Per pod uid, the endpoint last made from that (shared, immutable) pod
object for that Service object: a reconcile that finds the same objects
reuses it, so an unchanged endpoint costs a lookup and compares by identity."""


def desired_endpoints(
    service: Service,
    pods: Iterable[Pod],
    zones: Mapping[str, str | None],
    cache: EndpointCache | None = None,
) -> tuple[dict[PortKey, tuple[list[EndpointSlicePort], dict[str, Endpoint]]], bool]:
    """Endpoints by port set, each keyed by pod uid; and whether a pod's node
    was unknown (`zones` maps every known node to its zone or None). With
    `cache` (filled here), endpoints of unchanged pods are reused."""
    groups: dict[PortKey, tuple[list[EndpointSlicePort], dict[str, Endpoint]]] = {}
    missing = False
    previous = dict(cache) if cache is not None else {}
    if cache is not None:
        cache.clear()  # keeps only the pods of this reconcile
    for pod in pods:
        if not should_be_in_endpoints(pod, include_terminating=True):
            continue
        node = pod.spec.node_name
        if node and node not in zones:
            missing = True
            continue
        zone = zones.get(node) if node else None
        uid = pod.metadata.uid
        entry = previous.get(uid)
        if entry is None or entry[0] is not pod or entry[1] is not service or entry[2] != zone:
            ports = _ports(service, pod)
            entry = (pod, service, zone, _port_key(ports), ports, pod_endpoint(pod, service, zone))
        if cache is not None:
            cache[uid] = entry
        key = entry[3]
        group = groups.get(key)
        if group is None:
            group = groups[key] = (entry[4], {})
        group[1][uid] = entry[5]
    return groups, missing


def _endpoint_uid(endpoint: Endpoint) -> str:
    ref = endpoint.target_ref
    return (ref.uid or "") if ref is not None else ""


def plan(
    service: Service,
    pods: Iterable[Pod],
    zones: Mapping[str, str | None],
    existing: Iterable[EndpointSlice],
    *,
    max_endpoints: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    cache: EndpointCache | None = None,
) -> Plan:
    """What to write so that the Service's slices list exactly its endpoints
    (`cache`: see `desired_endpoints`)."""
    groups, missing = desired_endpoints(service, pods, zones, cache)
    labels = slice_labels(service)
    owner = new_controller_ref(service)
    result = Plan(missing_nodes=missing)
    by_key: dict[PortKey, list[EndpointSlice]] = {}
    for slice_ in existing:
        by_key.setdefault(_port_key(slice_.ports), []).append(slice_)
    for key, slices in by_key.items():
        if key not in groups:
            result.delete.extend(slices)
    for key, (ports, wanted) in groups.items():
        _plan_group(
            result, service, labels, owner, ports, wanted, by_key.get(key, []), max_endpoints
        )
    _reuse_deleted(result)
    if not groups and not result.create and not result.update:
        # Kubernetes keeps one empty placeholder slice for a Service without endpoints.
        placeholders = [s for s in existing if not s.endpoints and not s.ports]
        if placeholders:
            keep = placeholders[0]
            result.delete = [s for s in result.delete if s is not keep]
            if _stale_meta(keep, labels, owner):
                result.update.append(_with(keep, keep.endpoints, keep.ports, labels, owner))
        else:
            result.create.append(_new_slice(service, labels, owner, [], []))
            _reuse_deleted(result)
    return result


def _plan_group(
    result: Plan,
    service: Service,
    labels: dict[str, str],
    owner: OwnerReference,
    ports: list[EndpointSlicePort],
    wanted: dict[str, Endpoint],
    slices: list[EndpointSlice],
    max_endpoints: int,
) -> None:
    remaining = dict(wanted)
    to_update: list[tuple[EndpointSlice, list[Endpoint]]] = []
    unchanged: list[EndpointSlice] = []
    for slice_ in slices:
        kept: list[Endpoint] = []
        changed = False
        for endpoint in slice_.endpoints:
            uid = _endpoint_uid(endpoint)
            desired = remaining.pop(uid, None)
            if desired is None:
                changed = True  # no longer desired (or a duplicate)
                continue
            if desired is not endpoint and desired != endpoint:
                changed = True
            kept.append(desired)
        if len(kept) > max_endpoints:
            for endpoint in kept[max_endpoints:]:
                remaining[_endpoint_uid(endpoint)] = endpoint
            kept = kept[:max_endpoints]
            changed = True
        if not kept:
            result.delete.append(slice_)
        elif changed or _stale_meta(slice_, labels, owner) or slice_.ports != ports:
            to_update.append((slice_, kept))
        else:
            unchanged.append(slice_)
    # New endpoints fill the slices being written anyway, fullest first.
    queue = list(remaining.values())
    to_update.sort(key=lambda item: -len(item[1]))
    for _, kept in to_update:
        while queue and len(kept) < max_endpoints:
            kept.append(queue.pop(0))
    # Then one unchanged slice that can take them all (the fullest that fits).
    if queue:
        unchanged.sort(key=lambda s: -len(s.endpoints))
        for slice_ in unchanged:
            if len(slice_.endpoints) + len(queue) <= max_endpoints:
                to_update.append((slice_, [*slice_.endpoints, *queue]))
                queue = []
                break
    while queue:
        chunk, queue = queue[:max_endpoints], queue[max_endpoints:]
        result.create.append(_new_slice(service, labels, owner, ports, chunk))
    for slice_, kept in to_update:
        result.update.append(_with(slice_, kept, ports, labels, owner))


def _stale_meta(slice_: EndpointSlice, labels: dict[str, str], owner: OwnerReference) -> bool:
    return slice_.metadata.labels != labels or slice_.metadata.owner_references != [owner]


def _with(
    slice_: EndpointSlice,
    endpoints: list[Endpoint],
    ports: list[EndpointSlicePort],
    labels: dict[str, str],
    owner: OwnerReference,
) -> EndpointSlice:
    meta = slice_.metadata.model_copy(update={"labels": labels, "owner_references": [owner]})
    return slice_.model_copy(
        update={"metadata": meta, "endpoints": list(endpoints), "ports": list(ports)}
    )


def _new_slice(
    service: Service,
    labels: dict[str, str],
    owner: OwnerReference,
    ports: list[EndpointSlicePort],
    endpoints: list[Endpoint],
) -> EndpointSlice:
    return EndpointSlice(
        metadata=ObjectMeta(
            generate_name=f"{service.metadata.name[:57]}-",
            namespace=service.metadata.namespace,
            labels=labels,
            owner_references=[owner],
        ),
        address_type="IPv4",
        endpoints=list(endpoints),
        ports=list(ports),
    )


def _reuse_deleted(result: Plan) -> None:
    """A slice to create and one to delete: update the deleted one instead."""
    while result.create and result.delete:
        new = result.create.pop()
        old = result.delete.pop()
        meta = old.metadata.model_copy(
            update={
                "labels": new.metadata.labels,
                "owner_references": new.metadata.owner_references,
            }
        )
        result.update.append(
            old.model_copy(
                update={"metadata": meta, "endpoints": new.endpoints, "ports": new.ports}
            )
        )
