"""A pod's effective resource requests, as Kubernetes' resource helper
(`PodRequests`) computes them for the scheduler and the kubelet alike.

App containers are summed; init containers count as a running maximum, each
beside the restartable (sidecar) init containers started before it, and
sidecars add to the total for the pod's whole life; pod-level cpu and memory,
when given, replace the containers' figures for those two; overhead is added.
cpu is in millicores, everything else in whole units (bytes for memory).

`nonzero=True` is the variant the scheduler scores with: a container that
names no cpu or memory request counts 100m cpu and 200Mi memory (an explicit
0 stays 0).

Neighbours: `controllers.scheduler.requests` (the scheduler's `Requests`),
`runtime.kubelet.admission` (the kubelet's admission check).
"""

from __future__ import annotations

from typing import Final

from engine.api.core import Container, PodSpec
from engine.quantity import Quantity, ResourceList

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "pod_requests",
    "resource_amount",
]

DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024
POD_LEVEL_RESOURCES: Final = ("cpu", "memory")


def resource_amount(name: str, quantity: Quantity) -> int:
    """A quantity of `name` as kubeloop counts it: cpu in millicores, the rest in units."""
    return quantity.milli_value() if name == "cpu" else quantity.value()


def _add(total: dict[str, int], requests: ResourceList) -> None:
    for name, quantity in requests.items():
        total[name] = total.get(name, 0) + resource_amount(name, quantity)


def _max_into(total: dict[str, int], other: dict[str, int]) -> None:
    for name, value in other.items():
        if value > total.get(name, 0):
            total[name] = value


def _container_requests(container: Container, nonzero: bool) -> dict[str, int]:
    requests = container.resources.requests
    out = {name: resource_amount(name, q) for name, q in requests.items()}
    if nonzero:
        # Kubernetes' NonMissingContainerRequests: only a missing entry gets
        # the default; an explicit 0 stays 0.
        if "cpu" not in requests:
            out["cpu"] = DEFAULT_MILLI_CPU_REQUEST
        if "memory" not in requests:
            out["memory"] = DEFAULT_MEMORY_REQUEST
    return out


def pod_requests(spec: PodSpec, *, nonzero: bool = False) -> dict[str, int]:
    """The pod's effective requests (see the module docstring)."""
    total: dict[str, int] = {}
    for container in spec.containers:
        for name, value in _container_requests(container, nonzero).items():
            total[name] = total.get(name, 0) + value
    sidecars: dict[str, int] = {}
    init_max: dict[str, int] = {}
    for container in spec.init_containers:
        own = _container_requests(container, nonzero)
        if container.restart_policy == "Always":
            # A sidecar runs for the pod's whole life: it adds to the total,
            # and every later init container runs beside all earlier sidecars.
            for name, value in own.items():
                total[name] = total.get(name, 0) + value
                sidecars[name] = sidecars.get(name, 0) + value
            effective = dict(sidecars)
        else:
            effective = dict(own)
            for name, value in sidecars.items():
                effective[name] = effective.get(name, 0) + value
        _max_into(init_max, effective)
    _max_into(total, init_max)
    if spec.resources is not None:
        for name in POD_LEVEL_RESOURCES:
            quantity = spec.resources.requests.get(name)
            if quantity is not None:
                total[name] = resource_amount(name, quantity)
    _add(total, spec.overhead)
    return total
