"""Safety invariants: properties that must hold after every committed write.

An `Invariant` has a `name` and `observe(record, view) -> str | None`: given
the write just committed and the shared `ClusterView` (already updated), it
returns a message if the cluster is now in a state that must never happen.
Invariants may keep state (fresh instances per simulation come from the
registry's factories). They never raise inside the store: the
`SafetyMonitor` records `Violation`s and the harness fails the run with the
first one.

The built-in registry, `SAFETY`:

* `resource-versions-increase`: each write's revision is above the last and
  stamps the object's resourceVersion;
* `no-node-overcommit`: the requests of the non-terminal pods bound to a node
  (terminating ones included: they still hold their resources) fit its
  allocatable, pod count included;
* `pod-bound-once`: a pod's spec.nodeName, once set, never changes;
* `bound-pod-node-exists`: a pod written while bound names an existing node,
  unless it is being deleted;
* `owner-references-acyclic`: following ownerReferences by uid never leads
  back to where it started;
* `replicaset-within-replicas`: when a ReplicaSet's pod is created, the
  ReplicaSet's active pods do not exceed the largest spec.replicas it has had;
* `deployment-within-surge`: when a ReplicaSet of a Deployment grows, the
  Deployment's ReplicaSets together ask for no more than replicas + maxSurge
  pods, the largest such bound since the Deployment was last complete
  (scaling moves the goalposts until then);
* `job-within-parallelism`: when a Job's pod is created, the Job's active
  pods do not exceed the largest spec.parallelism it has had;
* `job-within-completions`: a Job's status never counts more successes than
  completions, and an Indexed Job's succeeded equals its completed indexes
  (no index counted twice), all within range;
* `cronjob-forbid-one-at-a-time`: when a Job of a Forbid CronJob is created,
  no other Job of that CronJob is still running;
* `statefulset-one-pod-per-identity`, `statefulset-ordered-ready`,
  `daemonset-one-pod-per-node`, `eviction-within-budget`: see
  `runtime.simulation.oracles_apps`;
* `service-availability` (only Services that opt in): see
  `runtime.simulation.oracles_network`.

Users add their own: `SAFETY.register("name", factory)` or, for a stateless
check, `@SAFETY.invariant("name")` on a function `(record, view) -> str | None`.

Neighbours: `runtime.simulation.view`, `runtime.simulation.simulation` (runs the
monitor), `runtime.kubelet.admission` (effective pod requests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol

from controllers.common.pods import is_pod_active
from controllers.deployment.conditions import deployment_complete
from controllers.deployment.replicas import max_surge
from controllers.job.indexes import parse_indexes
from engine.api.apps import Deployment, ReplicaSet
from engine.api.batch import CronJob, Job
from engine.api.core import Node, Pod
from engine.podresources import pod_requests
from engine.store import WriteRecord
from runtime.simulation.view import ClusterView

__all__ = [
    "SAFETY",
    "Invariant",
    "InvariantRegistry",
    "SafetyMonitor",
    "Violation",
]

_TERMINAL = ("Succeeded", "Failed")


@dataclass(frozen=True, slots=True)
class Violation:
    """One broken property: which oracle, at which revision and virtual time, what."""

    oracle: str
    message: str
    revision: int = 0
    time: float = 0.0

    def __str__(self) -> str:
        return f"{self.oracle} (revision {self.revision}, t={self.time:g}s): {self.message}"


class Invariant(Protocol):
    @property
    def name(self) -> str: ...

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None: ...


InvariantFactory = Callable[[], Invariant]


@dataclass(frozen=True, slots=True)
class _FunctionInvariant:
    name: str
    fn: Callable[[WriteRecord, ClusterView], str | None]

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        return self.fn(record, view)


class InvariantRegistry:
    """Named invariant factories, in registration order."""

    def __init__(self) -> None:
        self._factories: dict[str, InvariantFactory] = {}

    def register(self, name: str, factory: InvariantFactory) -> None:
        if name in self._factories:
            raise ValueError(f"an invariant named {name!r} is already registered")
        self._factories[name] = factory

    def invariant(
        self, name: str
    ) -> Callable[
        [Callable[[WriteRecord, ClusterView], str | None]],
        Callable[[WriteRecord, ClusterView], str | None],
    ]:
        """Register a stateless check function under `name`."""

        def decorate(
            fn: Callable[[WriteRecord, ClusterView], str | None],
        ) -> Callable[[WriteRecord, ClusterView], str | None]:
            self.register(name, lambda: _FunctionInvariant(name, fn))
            return fn

        return decorate

    def names(self) -> list[str]:
        return list(self._factories)

    def copy(self) -> InvariantRegistry:
        """A registry with the same entries, to extend without touching this one."""
        other = InvariantRegistry()
        other._factories = dict(self._factories)
        return other

    def create(self, names: Iterable[str] | None = None) -> list[Invariant]:
        """Fresh instances of the named invariants (all by default)."""
        chosen = self.names() if names is None else list(names)
        unknown = [n for n in chosen if n not in self._factories]
        if unknown:
            raise ValueError(
                f"unknown invariant(s) {', '.join(unknown)}; registered: {', '.join(self.names())}"
            )
        return [self._factories[n]() for n in chosen]


class SafetyMonitor:
    """Store observer: updates the view, then runs every invariant on the write."""

    def __init__(self, view: ClusterView, invariants: list[Invariant], now: Callable[[], float]):
        self.view = view
        self.invariants = invariants
        self._now = now
        self.violations: list[Violation] = []
        self.checks = 0

    def __call__(self, record: WriteRecord) -> None:
        self.view(record)
        self.checks += 1
        for invariant in self.invariants:
            message = invariant.observe(record, self.view)
            if message is not None:
                self.violations.append(
                    Violation(f"safety:{invariant.name}", message, record.revision, self._now())
                )


# -- the built-in invariants --------------------------------------------------------------


class ResourceVersionsIncrease:
    name = "resource-versions-increase"

    def __init__(self) -> None:
        self.last = 0

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        revision = record.revision
        last, self.last = self.last, max(self.last, revision)
        if revision <= last:
            return f"revision {revision} written after revision {last}"
        stamped = record.object.metadata.resource_version
        if stamped != str(revision):
            return (
                f"{record.kind} {record.namespace}/{record.name} written at revision "
                f"{revision} carries resourceVersion {stamped!r}"
            )
        return None


class NoNodeOvercommit:
    name = "no-node-overcommit"

    def __init__(self) -> None:
        self._requests: dict[str, dict[str, int]] = {}

    def _pod_requests(self, pod: Pod) -> dict[str, int]:
        uid = pod.metadata.uid
        found = self._requests.get(uid)
        if found is None:
            found = pod_requests(pod.spec)
            self._requests[uid] = found
        return found

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        obj = record.object
        if isinstance(obj, Pod):
            if record.removed:
                self._requests.pop(obj.metadata.uid, None)
                return None
            node_name = obj.spec.node_name
            if not node_name or obj.status.phase in _TERMINAL:
                return None
            previous = record.previous
            if (
                isinstance(previous, Pod)
                and previous.spec.node_name == node_name
                and previous.status.phase not in _TERMINAL
            ):
                return None  # nothing new on this node
        elif isinstance(obj, Node) and not record.removed:
            node_name = obj.metadata.name
        else:
            return None
        node = view.store.try_get(Node, node_name)
        if node is None:
            return None
        return self._check(node, view)

    def _check(self, node: Node, view: ClusterView) -> str | None:
        allocatable = node.status.allocatable or node.status.capacity
        if not allocatable:
            return None
        used: dict[str, int] = {}
        count = 0
        for pod in view.pods_on(node.metadata.name):
            if pod.status.phase in _TERMINAL:
                continue
            count += 1
            for name, value in self._pod_requests(pod).items():
                used[name] = used.get(name, 0) + value
        max_pods = allocatable.get("pods")
        if max_pods is not None and count > max_pods.value():
            return f"node {node.metadata.name} has {count} pods bound, allocatable {max_pods}"
        for name, value in sorted(used.items()):
            quantity = allocatable.get(name)
            if quantity is None or value <= 0:
                continue
            limit = quantity.milli_value() if name == "cpu" else quantity.value()
            if value > limit:
                unit = "m" if name == "cpu" else ""
                return (
                    f"node {node.metadata.name} is overcommitted: {name} requests "
                    f"{value}{unit} > allocatable {quantity}"
                )
        return None


def _pod_bound_once(record: WriteRecord, view: ClusterView) -> str | None:
    obj, previous = record.object, record.previous
    if not isinstance(obj, Pod) or not isinstance(previous, Pod):
        return None
    before, after = previous.spec.node_name, obj.spec.node_name
    if before and after != before:
        return f"pod {record.namespace}/{record.name} moved from node {before!r} to {after!r}"
    return None


def _bound_pod_node_exists(record: WriteRecord, view: ClusterView) -> str | None:
    obj = record.object
    if not isinstance(obj, Pod) or record.removed or not obj.spec.node_name:
        return None
    if obj.metadata.deletion_timestamp is not None:
        return None
    if view.store.try_get(Node, obj.spec.node_name) is None:
        return (
            f"pod {record.namespace}/{record.name} is bound to node {obj.spec.node_name!r}, "
            f"which does not exist, and is not being deleted"
        )
    return None


def _owner_references_acyclic(record: WriteRecord, view: ClusterView) -> str | None:
    obj = record.object
    if record.removed or not obj.metadata.owner_references:
        return None
    start = obj.metadata.uid
    seen: set[str] = set()
    stack = list(view.owners.get(start, ()))
    while stack:
        uid = stack.pop()
        if uid == start:
            where = f"{record.namespace}/{record.name}"
            return f"{record.kind} {where} owns itself through ownerReferences"
        if uid in seen:
            continue
        seen.add(uid)
        stack.extend(view.owners.get(uid, ()))
    return None


class ReplicaSetWithinReplicas:
    name = "replicaset-within-replicas"

    def __init__(self) -> None:
        self._most: dict[str, int] = {}

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        obj = record.object
        if isinstance(obj, ReplicaSet):
            uid = obj.metadata.uid
            if record.removed:
                self._most.pop(uid, None)
            else:
                self._most[uid] = max(self._most.get(uid, 0), obj.spec.replicas)
            return None
        if not isinstance(obj, Pod) or record.type != "ADDED":
            return None
        ref = obj.metadata.controller_ref()
        if ref is None or ref.kind != "ReplicaSet" or ref.uid not in self._most:
            return None
        active = sum(1 for p in view.pods_of(ref.uid) if is_pod_active(p))
        most = self._most[ref.uid]
        if active > most:
            return (
                f"replicaset {record.namespace}/{ref.name} has {active} active pods after "
                f"creating {record.name}; it never asked for more than {most}"
            )
        return None


class DeploymentWithinSurge:
    """The Deployment controller sizes ReplicaSets so that together they never
    ask for more than replicas + maxSurge pods (Kubernetes states the bound on
    ReplicaSet sizes: pods of a ReplicaSet being scaled down linger while its
    controller catches up, and are its ReplicaSet's business)."""

    name = "deployment-within-surge"

    def __init__(self) -> None:
        self._upper: dict[str, int] = {}

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        obj = record.object
        if isinstance(obj, Deployment):
            uid = obj.metadata.uid
            if record.removed:
                self._upper.pop(uid, None)
                return None
            bound = obj.spec.replicas + max_surge(obj)
            complete = deployment_complete(obj, obj.status)
            self._upper[uid] = bound if complete else max(self._upper.get(uid, 0), bound)
            return None
        if not isinstance(obj, ReplicaSet) or record.removed:
            return None
        ref = obj.metadata.controller_ref()
        if ref is None or ref.kind != "Deployment" or ref.uid not in self._upper:
            return None
        previous = record.previous
        if isinstance(previous, ReplicaSet) and previous.spec.replicas >= obj.spec.replicas:
            return None  # only growth can break the bound
        total = 0
        for uid in view.children_of(ref.uid):
            sibling = view.lookup(uid)
            if isinstance(sibling, ReplicaSet) and sibling.metadata.deletion_timestamp is None:
                total += sibling.spec.replicas
        upper = self._upper[ref.uid]
        if total > upper:
            return (
                f"deployment {record.namespace}/{ref.name}: its ReplicaSets ask for {total} "
                f"pods after {record.name} grew to {obj.spec.replicas}; replicas + maxSurge "
                f"allows {upper}"
            )
        return None


class JobWithinParallelism:
    name = "job-within-parallelism"

    def __init__(self) -> None:
        self._most: dict[str, int] = {}

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        obj = record.object
        if isinstance(obj, Job):
            uid = obj.metadata.uid
            if record.removed:
                self._most.pop(uid, None)
            else:
                wanted = obj.spec.parallelism if obj.spec.parallelism is not None else 1
                self._most[uid] = max(self._most.get(uid, 0), wanted)
            return None
        if not isinstance(obj, Pod) or record.type != "ADDED":
            return None
        ref = obj.metadata.controller_ref()
        if ref is None or ref.kind != "Job" or ref.uid not in self._most:
            return None
        active = sum(1 for p in view.pods_of(ref.uid) if is_pod_active(p))
        most = self._most[ref.uid]
        if active > most:
            return (
                f"job {record.namespace}/{ref.name} has {active} active pods after creating "
                f"{record.name}; its parallelism was never above {most}"
            )
        return None


def _job_within_completions(record: WriteRecord, view: ClusterView) -> str | None:
    obj = record.object
    if not isinstance(obj, Job) or record.removed:
        return None
    status, spec = obj.status, obj.spec
    where = f"job {record.namespace}/{record.name}"
    completions = spec.completions
    if completions is not None and status.succeeded > completions:
        return f"{where} counts {status.succeeded} successes of {completions} completions"
    if spec.completion_mode == "Indexed":
        indexes = parse_indexes(status.completed_indexes)
        if status.succeeded != len(indexes):
            return (
                f"{where} counts {status.succeeded} successes but completed indexes "
                f"{status.completed_indexes!r}"
            )
        if completions is not None and any(i >= completions for i in indexes):
            return f"{where} completed index out of range: {status.completed_indexes!r}"
    return None


def _cronjob_forbid_one_at_a_time(record: WriteRecord, view: ClusterView) -> str | None:
    obj = record.object
    if not isinstance(obj, Job) or record.type != "ADDED":
        return None
    ref = obj.metadata.controller_ref()
    if ref is None or ref.kind != "CronJob":
        return None
    owner = view.lookup(ref.uid)
    if not isinstance(owner, CronJob) or owner.spec.concurrency_policy != "Forbid":
        return None
    for uid in view.children_of(ref.uid):
        sibling = view.lookup(uid)
        if (
            isinstance(sibling, Job)
            and uid != obj.metadata.uid
            and sibling.metadata.deletion_timestamp is None
            and not sibling.is_finished
        ):
            return (
                f"cronjob {record.namespace}/{ref.name} (Forbid) created {record.name} while "
                f"{sibling.metadata.name} still runs"
            )
    return None


SAFETY = InvariantRegistry()
"""The built-in safety invariants (see the module docstring); extend it freely."""
SAFETY.register(ResourceVersionsIncrease.name, ResourceVersionsIncrease)
SAFETY.register(NoNodeOvercommit.name, NoNodeOvercommit)
SAFETY.invariant("pod-bound-once")(_pod_bound_once)
SAFETY.invariant("bound-pod-node-exists")(_bound_pod_node_exists)
SAFETY.invariant("owner-references-acyclic")(_owner_references_acyclic)
SAFETY.register(ReplicaSetWithinReplicas.name, ReplicaSetWithinReplicas)
SAFETY.register(DeploymentWithinSurge.name, DeploymentWithinSurge)
SAFETY.register(JobWithinParallelism.name, JobWithinParallelism)
SAFETY.invariant("job-within-completions")(_job_within_completions)
SAFETY.invariant("cronjob-forbid-one-at-a-time")(_cronjob_forbid_one_at_a_time)

# The apps controllers' and disruption budgets' invariants live beside their oracles.
from runtime.simulation.oracles_apps import (  # noqa: E402
    DaemonSetOnePodPerNode,
    EvictionWithinBudget,
    StatefulSetOrderedReady,
    statefulset_one_pod_per_identity,
)

SAFETY.invariant("statefulset-one-pod-per-identity")(statefulset_one_pod_per_identity)
SAFETY.register(StatefulSetOrderedReady.name, StatefulSetOrderedReady)
SAFETY.register(DaemonSetOnePodPerNode.name, DaemonSetOnePodPerNode)
SAFETY.register(EvictionWithinBudget.name, EvictionWithinBudget)

from runtime.simulation.oracles_network import ServiceAvailability  # noqa: E402

SAFETY.register(ServiceAvailability.name, ServiceAvailability)
