"""Workloads as a user sees them: which kinds are workloads, which controller
drives each, how many of their pods are scheduled, running and ready, and
what keeps them from being done.

`WORKLOAD_CONTROLLERS` is the catalogue: each workload kind and the
kube-controller-manager controller that drives it. A kind is *driven* in a
cluster when that controller runs there (`ClusterConfig.controllers`); a
kind whose controller kubeloop does not have, or whose controller the
cluster's config leaves out, is not,
and each of its objects is a problem: nothing will ever make its pods, so it
is never counted as converged. Registering a built-in controller under the
name given here (so that it is in `ALL_CONTROLLERS` and runs by default)
flips its kind to driven, with nothing else to change.

A pod is *stuck* when it cannot start without a change from outside the
cluster (`stuck_reason`): the scheduler found no node for it (`Unschedulable`,
with the scheduler's message such as "0/3 nodes are available: 3 Insufficient
cpu."), or holds it back by its scheduling gates (`SchedulingGated`, naming
the gates someone else must remove); a container waits in CrashLoopBackOff
(with its last exit), or waits on something that is missing or wrong
(CreateContainerConfigError for a missing ConfigMap or Secret,
ImagePullBackOff, ErrImagePull, InvalidImageName, CreateContainerError,
RunContainerError), or cannot mount a volume (its sandbox is not made and the
kubelet's latest `FailedMount` event says why: a ConfigMap, Secret or claim
that does not exist, a claim not Bound); or a pod that no controller replaces
has Failed; or the pod names a scheduler (`spec.schedulerName`) that does not
run in the cluster, which no other scheduler will place. A Deployment whose
rollout passed its progress deadline (Progressing=False,
ProgressDeadlineExceeded, where `kubectl rollout status` gives up) is a
problem too, as is a ReplicaSet, ReplicationController or Deployment whose
ReplicaFailure condition says its pods cannot be created (admission refused
them: "exceeded quota", a LimitRange bound, PodSecurity, a ServiceAccount or
PriorityClass that does not exist). A DaemonSet, StatefulSet or Job has no
such condition: as `kubectl describe` shows it, its controller's latest
FailedCreate event says why while it is short of pods and no pod was created
since (`FailedCreate`, with the event's message).
`workload_rows` folds pods into the workloads that own them (a Deployment's
pods through its ReplicaSets) and `problems` lists, per workload, what is
wrong, each stuck reason once with its pod count.

Neighbours: `runtime.cluster.cluster` (`Cluster.workloads()`,
`Cluster.problems()`, `unconverged()`), `runtime.progress` and
`runtime.summary` (show them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from engine.api.apps import DaemonSet, Deployment, ReplicaSet, StatefulSet
from engine.api.base import Resource
from engine.api.batch import CronJob, Job
from engine.api.core import Event, Pod, ReplicationController
from engine.registry import REGISTRY
from engine.store import Store

__all__ = [
    "STUCK_WAITING_REASONS",
    "WORKLOAD_CONTROLLERS",
    "Problem",
    "WorkloadRow",
    "problems",
    "stuck_reason",
    "undriven_reason",
    "workload_rows",
]

WORKLOAD_CONTROLLERS: dict[type[Resource], str] = {
    Deployment: "deployment",
    ReplicaSet: "replicaset",
    ReplicationController: "replicationcontroller",
    StatefulSet: "statefulset",
    DaemonSet: "daemonset",
    Job: "job",
    CronJob: "cronjob",
}
"""Each workload kind and the controller (kube-controller-manager's name) that drives it."""

STUCK_WAITING_REASONS = frozenset(
    {
        "CrashLoopBackOff",
        "CreateContainerConfigError",
        "CreateContainerError",
        "ErrImagePull",
        "ImagePullBackOff",
        "InvalidImageName",
        "RunContainerError",
    }
)
"""Container waiting reasons that do not clear by waiting (kubectl shows them as
the pod's status)."""

_STANDALONE = "(standalone)"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def undriven_reason(
    kind: type[Resource], running: Collection[str], known: Collection[str]
) -> str | None:
    """Why nothing drives `kind` in a cluster running `running` of the `known`
    controllers, or None when its controller runs."""
    controller = WORKLOAD_CONTROLLERS[kind]
    if controller in running:
        return None
    name = REGISTRY.info(kind).kind
    if controller in known:
        return f"the {controller} controller does not run in this cluster (left out of its config)"
    return f"no controller for {name} in kubeloop yet"


def _waits_for_volumes(pod: Pod) -> bool:
    """Scheduled and Pending with no sandbox yet: what a failed mount looks like."""
    if not pod.spec.node_name or pod.status.phase != "Pending" or not pod.spec.volumes:
        return False
    for c in pod.status.conditions:
        if c.type == "PodReadyToStartContainers":
            return c.status != "True"
    return False


def _failed_mounts(store: Store) -> dict[str, str]:
    """The latest FailedMount message per pod uid."""
    latest: dict[str, tuple[datetime, str]] = {}
    for event in store.objects(Event):
        uid = event.involved_object.uid
        if event.reason != "FailedMount" or not uid:
            continue
        when = event.last_timestamp or event.first_timestamp or _EPOCH
        if uid not in latest or latest[uid][0] <= when:
            latest[uid] = (when, event.message or "")
    return {uid: message for uid, (_, message) in latest.items()}


def stuck_reason(
    pod: Pod, failed_mount: str | None = None, schedulers: Collection[str] | None = None
) -> str | None:
    """Why `pod` cannot start without a change from outside (see the module
    docstring), or None. `failed_mount` is the kubelet's latest FailedMount
    message about the pod, if any; `schedulers`, when known, the scheduler
    names (profiles) that run in the cluster."""
    if pod.metadata.deletion_timestamp is not None or pod.status.phase == "Succeeded":
        return None
    if pod.status.phase == "Failed":
        if pod.metadata.controller_ref() is not None:
            return None  # its controller replaces it
        why = pod.status.reason or _last_exit(pod) or "its containers failed"
        return f"Failed: {why}"
    if not pod.spec.node_name:
        wanted = pod.spec.scheduler_name or DEFAULT_SCHEDULER
        if schedulers and wanted not in schedulers:
            running = ", ".join(sorted(schedulers))
            return f'no scheduler named "{wanted}" runs in this cluster (only {running})'
        for c in pod.status.conditions:
            if c.type == "PodScheduled" and c.status == "False" and c.reason == "Unschedulable":
                return f"Unschedulable: {c.message or 'no node fits'}"
            gated = c.reason == "SchedulingGated" and pod.spec.scheduling_gates
            if c.type == "PodScheduled" and c.status == "False" and gated:
                gates = ", ".join(g.name for g in pod.spec.scheduling_gates)
                return f"SchedulingGated: waiting for its scheduling gates {gates} to be removed"
        return None
    if failed_mount is not None and _waits_for_volumes(pod):
        return f"FailedMount: {failed_mount}"
    for status in (*pod.status.init_container_statuses, *pod.status.container_statuses):
        waiting = status.state.waiting
        if waiting is None or waiting.reason not in STUCK_WAITING_REASONS:
            continue
        if waiting.reason == "CrashLoopBackOff":
            # The back-off message changes with every restart: give the last exit instead.
            last = status.last_state.terminated
            detail = (
                f" (last exit: {last.reason or 'Error'}, exit code {last.exit_code})"
                if last is not None
                else ""
            )
        else:
            detail = f": {waiting.message}" if waiting.message else ""
        return f"container {status.name}: {waiting.reason}{detail}"
    return None


def _stalled(deployment: Deployment) -> str | None:
    """kubectl rollout status's failure: the Progressing condition turned
    False with ProgressDeadlineExceeded."""
    for c in deployment.status.conditions:
        if c.type == "Progressing" and c.status == "False" and c.reason == _DEADLINE:
            return f"{_DEADLINE}: {c.message}" if c.message else _DEADLINE
    return None


_DEADLINE = "ProgressDeadlineExceeded"
DEFAULT_SCHEDULER = "default-scheduler"


def _replica_failure(obj: Resource) -> str | None:
    """The ReplicaFailure condition a ReplicaSet, ReplicationController or
    Deployment carries while its pods cannot be created or deleted (admission
    refused them: a quota, a LimitRange, PodSecurity), as `kubectl describe`
    shows it."""
    if not isinstance(obj, (Deployment, ReplicaSet, ReplicationController)):
        return None
    for c in obj.status.conditions:
        if c.type == "ReplicaFailure" and c.status == "True":
            return f"ReplicaFailure: {c.reason}: {c.message}" if c.message else "ReplicaFailure"
    return None


_CREATE_EVENTS = frozenset({"FailedCreate", "SuccessfulCreate"})


def _failed_creates(store: Store) -> dict[str, str]:
    """Per involved object uid, the message of its latest FailedCreate event,
    for objects whose latest create event (the latest write: a repeat folds
    into the same Event, with a newer resourceVersion) is a failure."""
    latest: dict[str, tuple[int, str, str]] = {}
    for event in store.objects(Event):
        uid = event.involved_object.uid
        if event.reason not in _CREATE_EVENTS or not uid:
            continue
        written = int(event.metadata.resource_version or 0)
        if uid not in latest or latest[uid][0] < written:
            latest[uid] = (written, event.reason or "", event.message or "")
    return {uid: msg for uid, (_, why, msg) in latest.items() if why == "FailedCreate"}


def _short_of_pods(obj: Resource) -> bool:
    """A DaemonSet, StatefulSet or running Job with fewer pods than it wants."""
    if isinstance(obj, DaemonSet):
        return obj.status.current_number_scheduled < obj.status.desired_number_scheduled
    if isinstance(obj, StatefulSet):
        want = 1 if obj.spec.replicas is None else obj.spec.replicas
        return obj.status.replicas < want
    if isinstance(obj, Job):
        if obj.is_finished or obj.spec.suspend:
            return False
        want = 1 if obj.spec.parallelism is None else obj.spec.parallelism
        if obj.spec.completions is not None:
            want = min(want, obj.spec.completions - obj.status.succeeded)
        return obj.status.active < want
    return False


def _last_exit(pod: Pod) -> str | None:
    for status in pod.status.container_statuses:
        done = status.state.terminated
        if done is not None and done.exit_code != 0:
            return f"container {status.name} exited {done.exit_code} ({done.reason or 'Error'})"
    return None


@dataclass
class WorkloadRow:
    """One workload: its pods by state and what is wrong with it."""

    kind: str
    namespace: str
    name: str
    desired: int | None
    scheduled: int = 0
    running: int = 0
    ready: int = 0
    undriven: str | None = None
    stalled: str | None = None  # a rollout past its progress deadline
    failing: str | None = None  # its controller cannot create or delete pods
    stuck: Counter[str] = field(default_factory=Counter)

    @property
    def label(self) -> str:
        return f"{self.kind} {self.namespace}/{self.name}"

    def problem_lines(self) -> list[str]:
        lines = [line for line in (self.undriven, self.stalled, self.failing) if line]
        lines += [f"{n} pod(s) {reason}" for reason, n in sorted(self.stuck.items())]
        return lines


@dataclass(frozen=True, slots=True)
class Problem:
    """Something that keeps a workload (or a standalone pod) from ever being done."""

    kind: str
    namespace: str
    name: str
    reason: str
    pods: int = 0  # how many of its pods are stuck this way; 0 for the workload itself

    def __str__(self) -> str:
        where = f"{self.kind} {self.namespace}/{self.name}"
        count = f"{self.pods} pod(s) " if self.pods else ""
        return f"{where}: {count}{self.reason}"

    def to_json(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "namespace": self.namespace,
            "name": self.name,
            "reason": self.reason,
            "pods": self.pods,
        }


def workload_rows(
    store: Store,
    running: Collection[str],
    known: Collection[str],
    schedulers: Collection[str] | None = None,
) -> list[WorkloadRow]:
    """Every workload in `store`, sorted, with its pods folded in (see the
    module docstring); pods no workload owns are one row per namespace
    ("Pods NAMESPACE/(standalone)"), except stuck ones, which get a row each."""
    rows: dict[tuple[str, str, str], WorkloadRow] = {}
    folded: dict[str, tuple[str, str, str]] = {}  # ReplicaSet uid -> its Deployment's row
    by_uid: dict[str, tuple[str, str, str]] = {}
    creates: dict[str, str] | None = None  # read only when some workload is short of pods
    for kind in WORKLOAD_CONTROLLERS:
        reason = undriven_reason(kind, running, known)
        kind_name = REGISTRY.info(kind).kind
        for obj in store.objects(kind):
            meta = obj.metadata
            key = (kind_name, meta.namespace, meta.name)
            ref = meta.controller_ref()
            if kind is ReplicaSet and ref is not None and ref.kind == "Deployment":
                folded[meta.uid] = ("Deployment", meta.namespace, ref.name)
                continue
            replicas = getattr(getattr(obj, "spec", None), "replicas", None)
            if isinstance(obj, Job):
                replicas = obj.spec.completions
            elif isinstance(obj, DaemonSet):  # one pod per eligible node
                replicas = obj.status.desired_number_scheduled
            rows[key] = WorkloadRow(
                kind_name,
                meta.namespace,
                meta.name,
                replicas,
                undriven=reason,
                stalled=_stalled(obj) if isinstance(obj, Deployment) else None,
                failing=_replica_failure(obj),
            )
            if _short_of_pods(obj):
                if creates is None:
                    creates = _failed_creates(store)
                if meta.uid in creates:
                    rows[key].failing = f"FailedCreate: {creates[meta.uid]}"
            by_uid[meta.uid] = key
    mounts: dict[str, str] | None = None  # read only when some pod may wait on a mount
    for pod in store.objects(Pod):
        failed_mount = None
        if _waits_for_volumes(pod):
            if mounts is None:
                mounts = _failed_mounts(store)
            failed_mount = mounts.get(pod.metadata.uid)
        reason = stuck_reason(pod, failed_mount, schedulers)
        key = _owner_key(pod, folded, by_uid)
        if key[2] == _STANDALONE and reason is not None:
            key = ("Pod", pod.metadata.namespace, pod.metadata.name)  # name the stuck pod
        if key not in rows:
            rows[key] = WorkloadRow(*key, desired=None)
        row = rows[key]
        row.scheduled += bool(pod.spec.node_name)
        row.running += pod.status.phase == "Running"
        row.ready += any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
        if reason is not None:
            row.stuck[reason] += 1
    return sorted(rows.values(), key=lambda r: (r.namespace, r.kind, r.name))


def _owner_key(
    pod: Pod,
    folded: dict[str, tuple[str, str, str]],
    by_uid: dict[str, tuple[str, str, str]],
) -> tuple[str, str, str]:
    namespace = pod.metadata.namespace
    ref = pod.metadata.controller_ref()
    if ref is None:
        return ("Pods", namespace, _STANDALONE)
    if ref.uid in folded:
        return folded[ref.uid]
    return by_uid.get(ref.uid, (ref.kind, namespace, ref.name))


def problems(rows: Iterable[WorkloadRow]) -> list[Problem]:
    """What is wrong, per workload: its not being driven, and each reason its
    pods are stuck (with how many)."""
    out: list[Problem] = []
    for row in rows:
        out.extend(
            Problem(row.kind, row.namespace, row.name, line)
            for line in (row.undriven, row.stalled, row.failing)
            if line
        )
        out.extend(
            Problem(row.kind, row.namespace, row.name, reason, n)
            for reason, n in sorted(row.stuck.items())
        )
    return out
