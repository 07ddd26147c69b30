"""Rollout invariants checked after every committed write (`store.observers`).

`RollingBounds` watches one Deployment: its active pods (not terminating, not
finished) never exceed replicas + maxSurge, and, once it has been available,
its available pods never drop below replicas - maxUnavailable. When the test
itself moves the goalposts (scales the Deployment, deletes pods), the bounds
are relaxed until the Deployment is complete again: the upper bound is the
largest of the window, the lower the smallest, less the pods the test deleted.

One overshoot is allowed because Kubernetes has it too: a pod a ReplicaSet
controller creates for a size its ReplicaSet no longer has. The Deployment
controller may scale a ReplicaSet up and, before the ReplicaSet controller
has seen that, down again (`cleanupUnhealthyReplicas` counts the pods not
created yet as unhealthy); the ReplicaSet controller, on its lagging cache,
still creates pods for the larger size, and the Deployment controller, which
bounds the surge by the ReplicaSets' sizes (`NewRSNewReplicas` sums
`spec.replicas`; ours also `status.replicas`, which cannot count a pod that
is not in any status yet), grows the new ReplicaSet at the same time. Such a
pod is recognised when it is created: its ReplicaSet then has more active pods
than its `spec.replicas`, but no more than the largest size it had in the
window. While the ReplicaSet keeps more pods than its size, those pods are
allowed over the upper bound (until its controller deletes the excess); a pod
created beyond every size its ReplicaSet had is still a violation. (The
simulation's oracles split the promise the same way: `deployment-within-surge`
bounds the ReplicaSets' sizes, `replicaset-within-replicas` each ReplicaSet's
pods by the largest size it asked for.)

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
    recent_sizes: dict[str, int] = field(default_factory=dict)
    """The largest spec.replicas of each ReplicaSet (by uid) in the window."""
    stale_created: dict[str, str] = field(default_factory=dict)
    """Pods created for a size their ReplicaSet had already left: name -> ReplicaSet uid."""

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
            rs.metadata.uid: rs
            for rs in self.store.objects(ReplicaSet)
            if (ref := rs.metadata.controller_ref()) is not None and ref.uid == d.metadata.uid
        }
        for uid, rs in owned.items():
            self.recent_sizes[uid] = max(self.recent_sizes.get(uid, 0), rs.spec.replicas)
        now = self.store.clock.now()
        min_ready = d.spec.min_ready_seconds
        active = available = 0
        active_of: dict[str, int] = {}
        stale_of: dict[str, int] = {}
        for pod in self.store.objects(Pod):
            ref = pod.metadata.controller_ref()
            if ref is None or ref.uid not in owned or not is_pod_active(pod):
                continue
            active += 1
            active_of[ref.uid] = active_of.get(ref.uid, 0) + 1
            if is_pod_available(pod, min_ready, now):
                available += 1
        self._note_stale_create(record, owned, active_of)
        for name, uid in self.stale_created.items():
            created = self.store.try_get(Pod, name, self.namespace)
            if created is not None and is_pod_active(created):
                stale_of[uid] = stale_of.get(uid, 0) + 1
        # Stale-created pods count over the bound only while their ReplicaSet
        # still has more pods than its size (see the module docstring).
        excess = sum(
            min(stale, active_of.get(uid, 0) - owned[uid].spec.replicas)
            for uid, stale in stale_of.items()
            if uid in owned and active_of.get(uid, 0) > owned[uid].spec.replicas
        )
        self.checks += 1
        self.max_active_seen = max(self.max_active_seen, active)
        where = f"revision {record.revision} ({record.verb} {record.kind} {record.name})"
        if active > self.upper + excess:
            self.violations.append(f"{where}: {active} pods > {self.upper + excess}")
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
            self.recent_sizes = {uid: rs.spec.replicas for uid, rs in owned.items()}
            self.stale_created = {}

    def _note_stale_create(
        self, record: WriteRecord, owned: dict[str, ReplicaSet], active_of: dict[str, int]
    ) -> None:
        """Remember a pod created for a size its ReplicaSet has already left."""
        if record.kind != "Pod" or record.verb != "create" or not isinstance(record.object, Pod):
            return
        ref = record.object.metadata.controller_ref()
        if ref is None or ref.uid not in owned:
            return
        pods = active_of.get(ref.uid, 0)
        if owned[ref.uid].spec.replicas < pods <= self.recent_sizes[ref.uid]:
            self.stale_created[record.name] = ref.uid


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
