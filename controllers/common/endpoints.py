"""What Services' endpoints are made of: which pods a Service selects, which
of them belong in its endpoints, and the port each serves (Kubernetes'
`endpointutil` and `podutil.FindPort`).

- `selects(service, pod)`: the Service has a (non-empty) selector, the pod is
  in its namespace and carries every selected label.
- `should_be_in_endpoints(pod, include_terminating)`: not terminal
  (Succeeded/Failed), has an IP, and (unless `include_terminating`) is not
  being deleted. The EndpointSlice controller includes terminating pods (with
  `terminating: true`); the legacy Endpoints controller only when the Service
  publishes not-ready addresses.
- `find_port(pod, target_port, protocol)`: a number is itself; a name is the
  container port of that name and protocol in the pod (regular and sidecar
  containers), or None when the pod has none — then that pod does not serve
  that Service port.
- `should_set_hostname(pod, service)`: a pod with `hostname` whose `subdomain`
  is the Service's name (StatefulSet pods behind their headless Service).
- `slice_service(slice, managed_by)`: the Service a slice belongs to (its
  `kubernetes.io/service-name` label), if that manager made it;
  `service_slices(slices, namespace, name, managed_by)`: a Service's slices.

Neighbours: the endpointslice, endpoints and mirroring controllers, and the
traffic router (`controllers.common.routing`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from engine.api import Pod, Service
from engine.api.discovery import EndpointSlice

__all__ = [
    "LABEL_MANAGED_BY",
    "LABEL_SERVICE_NAME",
    "find_port",
    "selects",
    "service_slices",
    "should_be_in_endpoints",
    "should_set_hostname",
    "slice_service",
]

LABEL_SERVICE_NAME: Final = "kubernetes.io/service-name"
LABEL_MANAGED_BY: Final = "endpointslice.kubernetes.io/managed-by"
_TERMINAL: Final = frozenset({"Succeeded", "Failed"})


def selects(service: Service, pod: Pod) -> bool:
    selector = service.spec.selector
    if not selector or pod.metadata.namespace != service.metadata.namespace:
        return False
    labels = pod.metadata.labels
    return all(labels.get(key) == value for key, value in selector.items())


def should_be_in_endpoints(pod: Pod, include_terminating: bool) -> bool:
    if pod.status.phase in _TERMINAL:
        return False
    if not pod.status.pod_ip and not pod.status.pod_ips:
        return False
    return include_terminating or pod.metadata.deletion_timestamp is None


def find_port(pod: Pod, target_port: int | str | None, protocol: str) -> int | None:
    if isinstance(target_port, int):
        return target_port
    if target_port is None or target_port == "":
        return None
    if target_port.isdigit():
        return int(target_port)
    sidecars = [c for c in pod.spec.init_containers if c.restart_policy == "Always"]
    for container in (*pod.spec.containers, *sidecars):
        for port in container.ports:
            if port.name == target_port and port.protocol == protocol:
                return port.container_port
    return None


def should_set_hostname(pod: Pod, service: Service) -> bool:
    return (
        bool(pod.spec.hostname)
        and pod.spec.subdomain == service.metadata.name
        and pod.metadata.namespace == service.metadata.namespace
    )


def slice_service(slice_: EndpointSlice, managed_by: str | None = None) -> str | None:
    """The name of the Service `slice_` belongs to, if `managed_by` (when
    given) manages it; None otherwise."""
    labels = slice_.metadata.labels
    name = labels.get(LABEL_SERVICE_NAME)
    if not name or (managed_by is not None and labels.get(LABEL_MANAGED_BY) != managed_by):
        return None
    return name


def service_slices(
    slices: Iterable[EndpointSlice], namespace: str, name: str, managed_by: str | None = None
) -> list[EndpointSlice]:
    """The slices of Service `namespace/name` (those `managed_by` manages, when given)."""
    return [
        s
        for s in slices
        if s.metadata.namespace == namespace and slice_service(s, managed_by) == name
    ]
