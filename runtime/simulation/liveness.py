"""Liveness: what the cluster must eventually look like, and how it differs.

Anvil's eventually-stable-reconciliation (ESR) property, checked by
`Simulation.check_esr`: once faults stop and the desired state stops
changing, the cluster reaches the desired state within a virtual-time bound
and then stays there for a further window. This module says what "the
desired state" is: a registry of `DesiredCheck`s, functions of a
`DesiredContext` that yield a `Difference` per object that is not (yet) as
it should be, e.g. `ReplicaSet default/web: active pods is 4, want 3`.

The built-in checks (registry `DESIRED`):

* `nodes`: every node whose kubelet runs is Ready, without not-ready or
  unreachable taints;
* `replicasets`: as many active pods as spec.replicas, each running and
  ready (or unschedulable with no node that could take it), status counts
  matching the pods, the latest generation observed, no orphan left to adopt;
* `deployments`: the latest generation observed, the new ReplicaSet at
  spec.replicas and old ones at zero with no active pods (unless the rollout
  is stuck on pods no node can take), status matching the pods;
* `pods`: no pod still terminating on a running node, no bound pod on a
  running node that is not running and ready, no pending pod that some node
  could take;
* `jobs`: a Job that is not suspended has finished (unless its pods wait for
  a node none can be, or a CronJob owns it: `cronjobs` judges those), with
  no active pod left, nothing uncounted, no tracking finalizer left on its
  pods, and a Complete one has every completion (every index) counted;
  a suspended one has no active pod; status.active matches its pods;
* `cronjobs`: no Job runs past the CronJob's next start time, finished Jobs
  are within the history limits, and status.active names exactly its
  running Jobs;
* `garbage`: no object whose owners are all gone, none stuck deleting;
* `namespaces`: no namespace stuck terminating;
* `statefulsets`, `daemonsets`, `replicationcontrollers`,
  `poddisruptionbudgets`: see `runtime.simulation.oracles_apps`;
* `autoscalers`: an HPA under constant load settles on the formula's count,
  never outside [min, max]: see `runtime.simulation.oracles_autoscaling`.
* `endpointslices`: see `runtime.simulation.oracles_network`.

Users add checks for their own kinds: `DESIRED.register("name", fn)`.

Neighbours: `runtime.simulation.simulation` (runs ESR), `runtime.simulation.view`,
`runtime.kubelet.admission` and `controllers.scheduler.plugins.taint_toleration`
(whether a pod could fit a node).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controllers.common.pods import is_pod_active, is_pod_available, is_pod_ready
from controllers.cronjob import cronjob_converged
from controllers.deployment.revisions import find_new_replica_set
from controllers.job.indexes import format_indexes
from controllers.scheduler.plugins.taint_toleration import untolerated_taint
from engine.api.apps import Deployment, ReplicaSet
from engine.api.base import Resource
from engine.api.batch import CronJob, Job
from engine.api.core import Namespace, Node, Pod
from engine.podresources import pod_requests
from engine.selectors import from_label_selector
from runtime.kubelet.admission import node_affinity_matches
from runtime.simulation.view import ClusterView

__all__ = [
    "DESIRED",
    "DesiredCheck",
    "DesiredContext",
    "DesiredStateRegistry",
    "Difference",
    "could_fit",
]

_TERMINAL = ("Succeeded", "Failed")
_NODE_DOWN_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


@dataclass(frozen=True, slots=True)
class Difference:
    """One object not in its desired state: what is off, what it is, what it should be."""

    kind: str
    namespace: str
    name: str
    what: str
    have: Any
    want: Any

    def __str__(self) -> str:
        where = f"{self.namespace}/{self.name}" if self.namespace else self.name
        return f"{self.kind} {where}: {self.what} is {self.have!r}, want {self.want!r}"


@dataclass(frozen=True, slots=True)
class DesiredContext:
    """What desired-state checks look at."""

    view: ClusterView
    now: datetime
    node_up: Callable[[str], bool]
    """Whether a node's kubelet is running and reachable (faults over)."""
    controllers: frozenset[str] | None = None
    """The built-in controllers the simulation runs (None: unknown, all)."""

    @property
    def store(self) -> Any:
        return self.view.store

    def objects(self, kind: type[Any]) -> list[Any]:
        return sorted(self.view.store.objects(kind), key=lambda o: o.key)


DesiredCheck = Callable[[DesiredContext], Iterable[Difference]]


class DesiredStateRegistry:
    """Named desired-state checks, in registration order."""

    def __init__(self) -> None:
        self._checks: dict[str, DesiredCheck] = {}

    def register(self, name: str, check: DesiredCheck) -> None:
        if name in self._checks:
            raise ValueError(f"a desired-state check named {name!r} is already registered")
        self._checks[name] = check

    def names(self) -> list[str]:
        return list(self._checks)

    def copy(self) -> DesiredStateRegistry:
        """A registry with the same checks, to extend without touching this one."""
        other = DesiredStateRegistry()
        other._checks = dict(self._checks)
        return other

    def select(self, names: Iterable[str] | None = None) -> list[tuple[str, DesiredCheck]]:
        chosen = self.names() if names is None else list(names)
        unknown = [n for n in chosen if n not in self._checks]
        if unknown:
            raise ValueError(f"unknown desired-state check(s) {', '.join(unknown)}")
        return [(n, self._checks[n]) for n in chosen]


def _diff(obj: Resource, what: str, have: Any, want: Any) -> Difference:
    meta = obj.metadata
    return Difference(type(obj).kind_name, meta.namespace, meta.name, what, have, want)


# -- whether a pending pod could run somewhere ------------------------------------------------


def could_fit(pod: Pod, ctx: DesiredContext) -> bool:
    """Whether some running, Ready, schedulable node could take `pod` now. Pods
    with inter-pod (anti-)affinity, hard topology spread or host ports are
    beyond this check: they count as not fitting (the scheduler's word stands)."""
    spec = pod.spec
    affinity = spec.affinity
    if affinity is not None and (affinity.pod_affinity or affinity.pod_anti_affinity):
        return False
    if any(c.when_unsatisfiable == "DoNotSchedule" for c in spec.topology_spread_constraints):
        return False
    if any(p.host_port for c in spec.containers for p in c.ports):
        return False
    requests = pod_requests(spec)
    for node in ctx.objects(Node):
        if not ctx.node_up(node.metadata.name) or node.spec.unschedulable:
            continue
        if not _ready(node) or not node_affinity_matches(spec, node):
            continue
        if untolerated_taint(node, tuple(spec.tolerations)) is not None:
            continue
        if _has_room(node, requests, ctx.view):
            return True
    return False


def _has_room(node: Node, requests: dict[str, int], view: ClusterView) -> bool:
    allocatable = node.status.allocatable or node.status.capacity
    used: dict[str, int] = {}
    count = 0
    for other in view.pods_on(node.metadata.name):
        if other.status.phase in _TERMINAL:
            continue
        count += 1
        for name, value in pod_requests(other.spec).items():
            used[name] = used.get(name, 0) + value
    max_pods = allocatable.get("pods")
    if max_pods is not None and count + 1 > max_pods.value():
        return False
    for name, value in requests.items():
        quantity = allocatable.get(name)
        if value <= 0:
            continue
        if quantity is None:
            return False
        limit = quantity.milli_value() if name == "cpu" else quantity.value()
        if used.get(name, 0) + value > limit:
            return False
    return True


def _ready(node: Node) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)


def _unschedulable(pod: Pod) -> bool:
    return not pod.spec.node_name and any(
        c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable"
        for c in pod.status.conditions
    )


def _settled(pod: Pod, ctx: DesiredContext) -> bool:
    """Running and ready, or waiting for a node no node can be."""
    if pod.status.phase == "Running" and is_pod_ready(pod):
        return True
    return _unschedulable(pod) and not could_fit(pod, ctx)


# -- the built-in checks --------------------------------------------------------------------


def nodes(ctx: DesiredContext) -> Iterator[Difference]:
    for node in ctx.objects(Node):
        if not ctx.node_up(node.metadata.name):
            continue
        if not _ready(node):
            yield _diff(node, "Ready condition", "not True", "True")
        taints = sorted(t.key for t in node.spec.taints if t.key in _NODE_DOWN_TAINTS)
        if taints:
            yield _diff(node, "taints", taints, [])


def replicasets(ctx: DesiredContext) -> Iterator[Difference]:
    now = ctx.now
    for rs in ctx.objects(ReplicaSet):
        if rs.metadata.deletion_timestamp is not None:
            continue
        pods = [p for p in ctx.view.pods_of(rs.metadata.uid) if is_pod_active(p)]
        want = rs.spec.replicas
        if len(pods) != want:
            yield _diff(rs, "active pods", len(pods), want)
        status = rs.status
        if status.observed_generation < rs.metadata.generation:
            yield _diff(
                rs, "status.observedGeneration", status.observed_generation, rs.metadata.generation
            )
        if status.replicas != len(pods):
            yield _diff(rs, "status.replicas", status.replicas, len(pods))
        ready = sum(1 for p in pods if is_pod_ready(p))
        if status.ready_replicas != ready:
            yield _diff(rs, "status.readyReplicas", status.ready_replicas, ready)
        available = sum(1 for p in pods if is_pod_available(p, rs.spec.min_ready_seconds, now))
        if status.available_replicas != available:
            yield _diff(rs, "status.availableReplicas", status.available_replicas, available)
        unsettled = [p.metadata.name for p in pods if not _settled(p, ctx)]
        if unsettled:
            yield _diff(rs, "pods not running and ready", unsettled, [])
        selector = from_label_selector(rs.spec.selector)
        if rs.spec.selector.match_labels or rs.spec.selector.match_expressions:
            orphans = [
                p.metadata.name
                for p in ctx.store.objects(Pod)
                if p.metadata.namespace == rs.metadata.namespace
                and not p.metadata.owner_references
                and is_pod_active(p)
                and selector.matches(p.metadata.labels)
            ]
            if orphans:
                yield _diff(rs, "orphan pods matching its selector", sorted(orphans), [])


def deployments(ctx: DesiredContext) -> Iterator[Difference]:
    now = ctx.now
    for d in ctx.objects(Deployment):
        if d.metadata.deletion_timestamp is not None or d.spec.paused:
            continue
        if d.status.observed_generation < d.metadata.generation:
            yield _diff(
                d, "status.observedGeneration", d.status.observed_generation, d.metadata.generation
            )
        owned = [
            rs
            for uid in ctx.view.children_of(d.metadata.uid)
            if isinstance(rs := ctx.view.lookup(uid), ReplicaSet)
            and (ref := rs.metadata.controller_ref()) is not None
            and ref.uid == d.metadata.uid
        ]
        new_rs = find_new_replica_set(d, owned)
        pods_by_rs = {
            rs.metadata.uid: [p for p in ctx.view.pods_of(rs.metadata.uid) if is_pod_active(p)]
            for rs in owned
        }
        all_pods = [p for pods in pods_by_rs.values() for p in pods]
        stuck = any(_unschedulable(p) for p in all_pods)
        if not stuck:
            if new_rs is None:
                yield _diff(d, "ReplicaSet with the current template", None, "one")
            elif new_rs.spec.replicas != d.spec.replicas:
                yield _diff(
                    d,
                    f"replicas of its new ReplicaSet {new_rs.metadata.name}",
                    new_rs.spec.replicas,
                    d.spec.replicas,
                )
            for rs in owned:
                if rs is new_rs:
                    continue
                active = len(pods_by_rs[rs.metadata.uid])
                if rs.spec.replicas or active:
                    yield _diff(
                        d,
                        f"old ReplicaSet {rs.metadata.name} replicas/pods",
                        (rs.spec.replicas, active),
                        (0, 0),
                    )
        status = d.status
        if status.replicas != len(all_pods):
            yield _diff(d, "status.replicas", status.replicas, len(all_pods))
        updated = len(pods_by_rs.get(new_rs.metadata.uid, [])) if new_rs is not None else 0
        if status.updated_replicas != updated:
            yield _diff(d, "status.updatedReplicas", status.updated_replicas, updated)
        available = sum(1 for p in all_pods if is_pod_available(p, d.spec.min_ready_seconds, now))
        if status.available_replicas != available:
            yield _diff(d, "status.availableReplicas", status.available_replicas, available)


def pods(ctx: DesiredContext) -> Iterator[Difference]:
    for pod in ctx.objects(Pod):
        if pod.status.phase in _TERMINAL:
            continue
        node = pod.spec.node_name
        if pod.metadata.deletion_timestamp is not None:
            if node and ctx.node_up(node):
                yield _diff(pod, "deletion", "still terminating", "finished")
            continue
        if node:
            if ctx.node_up(node) and not (pod.status.phase == "Running" and is_pod_ready(pod)):
                yield _diff(
                    pod, "phase/ready", (pod.status.phase, is_pod_ready(pod)), ("Running", True)
                )
        elif not _unschedulable(pod):
            yield _diff(pod, "scheduling", "pending", "bound or unschedulable")
        elif could_fit(pod, ctx):
            yield _diff(pod, "scheduling", "unschedulable but a node has room", "bound")


_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"


def jobs(ctx: DesiredContext) -> Iterator[Difference]:
    for job in ctx.objects(Job):
        if job.metadata.deletion_timestamp is not None:
            continue
        pods = ctx.view.pods_of(job.metadata.uid)
        active = [p for p in pods if is_pod_active(p)]
        status = job.status
        if status.active != len(active):
            yield _diff(job, "status.active", status.active, len(active))
        if job.spec.suspend:
            if active:
                yield _diff(job, "active pods while suspended", len(active), 0)
            continue
        if not job.is_finished:
            ref = job.metadata.controller_ref()
            waiting = any(_unschedulable(p) and not could_fit(p, ctx) for p in active)
            if not waiting and (ref is None or ref.kind != "CronJob"):
                yield _diff(job, "Complete or Failed condition", None, "True")
            continue
        if active:
            yield _diff(job, "active pods when finished", len(active), 0)
        uncounted = status.uncounted_terminated_pods
        if uncounted is not None and (uncounted.succeeded or uncounted.failed):
            yield _diff(job, "uncountedTerminatedPods", uncounted, "empty")
        tracked = [p.metadata.name for p in pods if _TRACKING_FINALIZER in p.metadata.finalizers]
        if tracked:
            yield _diff(job, "pods with the tracking finalizer", tracked, [])
        complete = job.status.condition("Complete")
        completions = job.spec.completions
        if complete is None or complete.status != "True" or completions is None:
            continue
        if job.spec.completion_mode == "Indexed":
            want = format_indexes(range(completions))
            if job.spec.success_policy is None and status.completed_indexes != want:
                yield _diff(job, "status.completedIndexes", status.completed_indexes, want)
        elif status.succeeded != completions:
            yield _diff(job, "status.succeeded", status.succeeded, completions)


def cronjobs(ctx: DesiredContext) -> Iterator[Difference]:
    for cronjob in ctx.objects(CronJob):
        if cronjob.metadata.deletion_timestamp is not None:
            continue
        owned = [
            job
            for uid in ctx.view.children_of(cronjob.metadata.uid)
            if isinstance(job := ctx.view.lookup(uid), Job)
            and (ref := job.metadata.controller_ref()) is not None
            and ref.uid == cronjob.metadata.uid
        ]
        if not cronjob.spec.suspend and not cronjob_converged(cronjob, owned, ctx.now):
            yield _diff(cronjob, "Jobs running past the next start time", "some", "none")
        done = [j for j in owned if j.is_finished and j.metadata.deletion_timestamp is None]
        succeeded = sum(1 for j in done if j.status.condition("Complete") is not None)
        failed = len(done) - succeeded
        if succeeded > cronjob.spec.successful_jobs_history_limit:
            limit = cronjob.spec.successful_jobs_history_limit
            yield _diff(cronjob, "finished successful Jobs", succeeded, limit)
        if failed > cronjob.spec.failed_jobs_history_limit:
            yield _diff(
                cronjob, "finished failed Jobs", failed, cronjob.spec.failed_jobs_history_limit
            )
        running = sorted(
            j.metadata.name
            for j in owned
            if not j.is_finished and j.metadata.deletion_timestamp is None
        )
        listed = sorted(ref.name or "" for ref in cronjob.status.active)
        if listed != running:
            yield _diff(cronjob, "status.active", listed, running)


def garbage(ctx: DesiredContext) -> Iterator[Difference]:
    view = ctx.view
    for info in ctx.store.kinds():
        for obj in sorted(ctx.store.objects(info.model), key=lambda o: o.key):
            meta = obj.metadata
            refs = meta.owner_references
            if refs and not any(r.uid in view.by_uid for r in refs):
                yield _diff(obj, "owners", sorted(r.name for r in refs), "at least one existing")
            if (
                meta.deletion_timestamp is not None
                and meta.finalizers
                and not isinstance(obj, Pod | Namespace)
            ):
                yield _diff(obj, "finalizers while deleting", list(meta.finalizers), [])


def namespaces(ctx: DesiredContext) -> Iterator[Difference]:
    for ns in ctx.objects(Namespace):
        if ns.metadata.deletion_timestamp is not None:
            yield _diff(ns, "deletion", "still terminating", "finished")


DESIRED = DesiredStateRegistry()
"""The built-in desired-state checks (see the module docstring); extend it freely."""
DESIRED.register("nodes", nodes)
DESIRED.register("replicasets", replicasets)
DESIRED.register("deployments", deployments)
DESIRED.register("pods", pods)
DESIRED.register("jobs", jobs)
DESIRED.register("cronjobs", cronjobs)
DESIRED.register("garbage", garbage)
DESIRED.register("namespaces", namespaces)

# The apps workloads' and disruption budgets' checks live beside their invariants.
from runtime.simulation import oracles_apps  # noqa: E402

DESIRED.register("statefulsets", oracles_apps.statefulsets)
DESIRED.register("daemonsets", oracles_apps.daemonsets)
DESIRED.register("replicationcontrollers", oracles_apps.replicationcontrollers)
DESIRED.register("poddisruptionbudgets", oracles_apps.poddisruptionbudgets)

from runtime.simulation import oracles_autoscaling  # noqa: E402

DESIRED.register("autoscalers", oracles_autoscaling.autoscalers)
from runtime.simulation import oracles_network  # noqa: E402

DESIRED.register("endpointslices", oracles_network.endpointslices)
