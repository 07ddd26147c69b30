"""A pod's resource request in the scheduler's shape (`Requests`), from
`engine.podresources.pod_requests` (Kubernetes' PodRequests) and its
"non-zero" variant, used for scoring.

Neighbours: `engine.podresources` (the computation), `controllers.scheduler.podinfo`
(reads pods into Requests), the node table and `plugins.node_resources_fit`
(compare and account them).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api.core import PodSpec
from engine.podresources import DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, pod_requests

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "Requests",
    "compute_requests",
]


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


def compute_requests(spec: PodSpec) -> Requests:
    """Kubernetes' PodRequests for the Fit filter, plus the non-zero variant."""
    plain = pod_requests(spec)
    nonzero = pod_requests(spec, nonzero=True)
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
