"""Rollout invariants checked after every committed write (`store.observers`).

`RollingBounds` watches one Deployment: its active pods (not terminating, not
finished) never exceed replicas + maxSurge, and, once it has been available,
its available pods never drop below replicas - maxUnavailable. When the test
itself moves the goalposts (scales the Deployment, deletes pods), the bounds
are relaxed until the Deployment is complete again: the upper bound is the
largest of the window, the lower the smallest, less the pods the test deleted.

`NoOverlap` checks the Recreate promise: no pod of an old template exists
(running or terminating) while a pod of the new template exists.

Violations are recorded, never raised inside the store (that would fail the
writer, not the test); tests assert `violations == []`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controllers.common import is_pod_active, is_pod_available
from controllers.deployment.conditions import deployment_complete
from controllers.deployment.replicas import max_surge, max_unavailable
from engine.api import Deployment, Pod, ReplicaSet
from engine.store import Store, WriteRecord


@dataclass
class RollingBounds:
    store: Store
    name: str
    namespace: str = "default"
    violations: list[str] = field(default_factory=list)
    checks: int = 0
    upper: int | None = None
    lower: int | None = None
    armed: bool = False
    disruptions: int = 0
    max_active_seen: int = 0

    def __post_init__(self) -> None:
        self._widen()  # the bounds of the spec as it is now
        self.store.observers.append(self.observe)

    # -- what the test does to the Deployment --------------------------------------

    def disrupted(self, pods: int = 1) -> None:
        """The test deleted pods itself: they may be missing until complete."""
        self.disruptions += pods

    # -- observation ------------------------------------------------------------------

    def _deployment(self) -> Deployment | None:
        return self.store.try_get(Deployment, self.name, self.namespace)

    def _widen(self) -> None:
        d = self._deployment()
        if d is None:
            return
        up = d.spec.replicas + max_surge(d)
        low = d.spec.replicas - max_unavailable(d)
        self.upper = up if self.upper is None else max(self.upper, up)
        self.lower = low if self.lower is None else min(self.lower, low)

    def observe(self, record: WriteRecord) -> None:
        d = self._deployment()
        if d is None:
            return
        self._widen()  # a spec change (scaling) widens the bounds until settled
        assert self.upper is not None and self.lower is not None
        owned = {
            rs.metadata.uid
            for rs in self.store.objects(ReplicaSet)
            if (ref := rs.metadata.controller_ref()) is not None and ref.uid == d.metadata.uid
        }
        now = self.store.clock.now()
        min_ready = d.spec.min_ready_seconds
        active = available = 0
        for pod in self.store.objects(Pod):
            ref = pod.metadata.controller_ref()
            if ref is None or ref.uid not in owned or not is_pod_active(pod):
                continue
            active += 1
            if is_pod_available(pod, min_ready, now):
                available += 1
        self.checks += 1
        self.max_active_seen = max(self.max_active_seen, active)
        where = f"revision {record.revision} ({record.verb} {record.kind} {record.name})"
        if active > self.upper:
            self.violations.append(f"{where}: {active} pods > {self.upper}")
        floor = self.lower - self.disruptions
        if available >= floor:
            self.armed = True
        elif self.armed:
            self.violations.append(f"{where}: {available} available < {floor}")
        if deployment_complete(d, d.status) and active == d.spec.replicas == available:
            # Settled: the goalposts are the current spec again.
            self.upper = d.spec.replicas + max_surge(d)
            self.lower = d.spec.replicas - max_unavailable(d)
            self.disruptions = 0


@dataclass
class NoOverlap:
    """Recreate: old-template and new-template pods never exist together."""

    store: Store
    name: str
    namespace: str = "default"
    violations: list[str] = field(default_factory=list)
    checks: int = 0

    def __post_init__(self) -> None:
        self.store.observers.append(self.observe)

    def observe(self, record: WriteRecord) -> None:
        d = self.store.try_get(Deployment, self.name, self.namespace)
        if d is None:
            return
        owned = {}
        for rs in self.store.objects(ReplicaSet):
            ref = rs.metadata.controller_ref()
            if ref is not None and ref.uid == d.metadata.uid:
                owned[rs.metadata.uid] = rs
        templates = set()
        for pod in self.store.objects(Pod):
            ref = pod.metadata.controller_ref()
            if ref is None or ref.uid not in owned or pod.status.phase in ("Succeeded", "Failed"):
                continue
            templates.add(pod.metadata.labels.get("pod-template-hash"))
        self.checks += 1
        if len(templates) > 1:
            self.violations.append(
                f"revision {record.revision}: pods of templates {sorted(map(str, templates))}"
            )
