"""A pod's resource request as Kubernetes' PodRequests computes it: app
containers summed, init containers as a running maximum with restartable
(sidecar) init containers added to everything after them, pod-level cpu and
memory when given, plus overhead. The "non-zero" variant, used for scoring,
counts 100m cpu and 200Mi memory for a container that names no request.

Neighbours: `controllers.scheduler.podinfo` (reads pods into Requests), the
node table and `plugins.node_resources_fit` (compare and account them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from engine.api.core import Container, PodSpec
from engine.quantity import Quantity, ResourceList

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "Requests",
    "compute_requests",
]

DEFAULT_MILLI_CPU_REQUEST: Final = 100
DEFAULT_MEMORY_REQUEST: Final = 200 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Requests:
    """A pod's resource request. cpu in millicores, the rest in whole units;
    `nonzero_*` use the scoring defaults for containers that request nothing."""

    cpu: int = 0
    memory: int = 0
    ephemeral_storage: int = 0
    scalars: tuple[tuple[str, int], ...] = ()
    nonzero_cpu: int = 0
    nonzero_memory: int = 0

    @property
    def is_zero(self) -> bool:
        """True when nothing but the pod slot is requested (Fit's early exit)."""
        return (
            self.cpu == 0
            and self.memory == 0
            and self.ephemeral_storage == 0
            and all(v == 0 for _, v in self.scalars)
        )

    def get(self, resource: str) -> int:
        if resource == "cpu":
            return self.cpu
        if resource == "memory":
            return self.memory
        if resource == "ephemeral-storage":
            return self.ephemeral_storage
        for name, value in self.scalars:
            if name == resource:
                return value
        return 0

    def items(self) -> list[tuple[str, int]]:
        """Every requested resource with a non-zero amount (pods excluded)."""
        out = []
        if self.cpu:
            out.append(("cpu", self.cpu))
        if self.memory:
            out.append(("memory", self.memory))
        if self.ephemeral_storage:
            out.append(("ephemeral-storage", self.ephemeral_storage))
        out.extend((n, v) for n, v in self.scalars if v)
        return out


def _amount(name: str, quantity: Quantity) -> int:
    return quantity.milli_value() if name == "cpu" else quantity.value()


def _add(total: dict[str, int], requests: ResourceList) -> None:
    for name, quantity in requests.items():
        total[name] = total.get(name, 0) + _amount(name, quantity)


def _max_into(total: dict[str, int], other: dict[str, int]) -> None:
    for name, value in other.items():
        if value > total.get(name, 0):
            total[name] = value


def _container_requests(container: Container, nonzero: bool) -> dict[str, int]:
    requests = container.resources.requests
    out = {name: _amount(name, q) for name, q in requests.items()}
    if nonzero:
        # Kubernetes' NonMissingContainerRequests: only a missing entry gets
        # the default; an explicit 0 stays 0.
        if "cpu" not in requests:
            out["cpu"] = DEFAULT_MILLI_CPU_REQUEST
        if "memory" not in requests:
            out["memory"] = DEFAULT_MEMORY_REQUEST
    return out


def _pod_requests(spec: PodSpec, nonzero: bool) -> dict[str, int]:
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
        for name in ("cpu", "memory"):
            quantity = spec.resources.requests.get(name)
            if quantity is not None:
                total[name] = _amount(name, quantity)
    _add(total, spec.overhead)
    return total


def compute_requests(spec: PodSpec) -> Requests:
    """Kubernetes' PodRequests for the Fit filter, plus the non-zero variant."""
    plain = _pod_requests(spec, nonzero=False)
    nonzero = _pod_requests(spec, nonzero=True)
    scalars = tuple(
        sorted(
            (name, value)
            for name, value in plain.items()
            if name not in ("cpu", "memory", "ephemeral-storage", "pods")
        )
    )
    return Requests(
        cpu=plain.get("cpu", 0),
        memory=plain.get("memory", 0),
        ephemeral_storage=plain.get("ephemeral-storage", 0),
        scalars=scalars,
        nonzero_cpu=nonzero.get("cpu", 0),
        nonzero_memory=nonzero.get("memory", 0),
    )
