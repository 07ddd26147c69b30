"""Server-side printing: the `meta.k8s.io/v1` Table an apiserver answers to
`Accept: application/json;as=Table;g=meta.k8s.io;v=v1` (what `kubectl get` asks for).

Contract: `table(objects, group=, version=, kind=, include_object=, crd_columns=, now=)`
turns JSON objects (camelCase dicts, as served) into a Table: the column
definitions kube-apiserver's printers give that kind (name, type, format,
description, priority) and one row per object with its cells and its
`object` (a PartialObjectMetadata for `includeObject=Metadata`, the default;
the whole object for `Object`; null for `None`). As kube-apiserver does, every
column is always filled, wide ones (priority 1) included; kubectl shows those
with `-o wide` only.

The columns and cell rules follow `pkg/printers/internalversion/printers.go`
of Kubernetes 1.34 for the kinds people list (pods with kubectl's STATUS
rules: Completed, CrashLoopBackOff, Init:0/1, Terminating, SchedulingGated
...; workloads, services, endpoints and slices, nodes, namespaces, config,
events, storage, ingresses, HPAs, PDBs, RBAC bindings, leases...). A built-in
kind without a printer there gets kube-apiserver's default table, NAME and
CREATED AT (RFC 3339), as `kubectl get clusterroles` shows. Custom resources
get NAME plus their version's `additionalPrinterColumns` (evaluated with
jsonpath-ng, see `engine.jsonpath`), or NAME and AGE when the CRD has none.
Ages follow apimachinery's `duration.HumanDuration` (`human_duration`).

Pure functions of their inputs: time comes in as `now`.

Neighbours: `engine.jsonpath` (the CRD columns), `engine.schema.builtin` (the
column descriptions are the published field descriptions).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from engine.jsonpath import JSONPathError, compile_jsonpath, print_value
from engine.quantity import parse_quantity
from engine.schema.builtin import definitions

__all__ = ["INCLUDE_OBJECT", "format_label_selector", "human_duration", "table"]

INCLUDE_OBJECT: Final = ("None", "Metadata", "Object")

Row = list[Any]
Printer = Callable[[Mapping[str, Any], datetime], Row]

# -- durations and timestamps ----------------------------------------------


def _trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // b
    return q if a >= 0 else -q


def human_duration(d: timedelta) -> str:
    """apimachinery's `duration.HumanDuration`: "45s", "5m3s", "3h", "2d5h", "3y"."""
    ns = d // timedelta(microseconds=1) * 1000
    seconds = _trunc_div(ns, 10**9)
    if seconds < -1:
        return "<invalid>"
    if seconds < 0:
        return "0s"
    if seconds < 60 * 2:
        return f"{seconds}s"
    minutes = seconds // 60
    if minutes < 10:
        s = seconds % 60
        return f"{minutes}m" if s == 0 else f"{minutes}m{s}s"
    if minutes < 60 * 3:
        return f"{minutes}m"
    hours = minutes // 60
    if hours < 8:
        m = minutes % 60
        return f"{hours}h" if m == 0 else f"{hours}h{m}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        h = hours % 24
        return f"{hours // 24}d" if h == 0 else f"{hours // 24}d{h}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        dy = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if dy == 0 else f"{hours // 24 // 365}y{dy}d"
    return f"{hours // 24 // 365}y"


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _since(value: Any, now: datetime) -> str:
    """translateTimestampSince: "<unknown>" for a missing time."""
    moment = _time(value)
    if moment is None:
        return "<unknown>"
    return human_duration(now - moment)


# -- small formatters kubectl's printers share -------------------------------


def _get(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _map(obj: Mapping[str, Any], *path: str) -> Mapping[str, Any]:
    value = _get(obj, *path)
    return value if isinstance(value, Mapping) else {}


def _list(obj: Mapping[str, Any], *path: str) -> list[Any]:
    value = _get(obj, *path)
    return value if isinstance(value, list) else []


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _name(obj: Mapping[str, Any]) -> str:
    return _str(_get(obj, "metadata", "name"))


def _age(obj: Mapping[str, Any], now: datetime) -> str:
    return _since(_get(obj, "metadata", "creationTimestamp"), now)


def format_labels(labels: Mapping[str, Any] | None) -> str:
    """labels.FormatLabels: sorted `k=v` pairs, "<none>" when empty."""
    if not labels:
        return "<none>"
    return ",".join(f"{k}={labels[k]}" for k in sorted(labels))


def _selector_string(selector: Mapping[str, Any] | None) -> str:
    """metav1.LabelSelectorAsSelector(...).String() ("" selects everything)."""
    if not selector:
        return ""
    parts: list[tuple[str, str]] = []
    for key, value in (selector.get("matchLabels") or {}).items():
        parts.append((key, f"{key}={value}"))
    for expression in selector.get("matchExpressions") or ():
        key, op = _str(expression.get("key")), expression.get("operator")
        values = sorted(set(expression.get("values") or ()))
        if op == "In":
            parts.append((key, f"{key} in ({','.join(values)})"))
        elif op == "NotIn":
            parts.append((key, f"{key} notin ({','.join(values)})"))
        elif op == "Exists":
            parts.append((key, key))
        elif op == "DoesNotExist":
            parts.append((key, "!" + key))
    return ",".join(text for _, text in sorted(parts, key=lambda p: p[0]))


def format_label_selector(selector: Mapping[str, Any] | None) -> str:
    """metav1.FormatLabelSelector: the selector's string, "<none>" when empty."""
    return _selector_string(selector) or "<none>"


def _containers(template_spec: Mapping[str, Any]) -> tuple[str, str]:
    containers = [c for c in template_spec.get("containers") or () if isinstance(c, Mapping)]
    return (
        ",".join(_str(c.get("name")) for c in containers),
        ",".join(_str(c.get("image")) for c in containers),
    )


def _bool_ptr(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return "<unset>"


def _quantity(value: Any) -> str:
    if value is None:
        return "0"
    try:
        return str(parse_quantity(str(value)))
    except ValueError:
        return str(value)


def _int_or_string(value: Any) -> str:
    return str(value)


def _access_modes(modes: Sequence[Any]) -> str:
    """helper.GetAccessModesAsString: RWO, ROX, RWX, RWOP in that order."""
    present = set(modes)
    short = (
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    )
    return ",".join(abbr for mode, abbr in short if mode in present)


def _with_more(items: list[str], count: int, limit: int, empty: str) -> str:
    text = ",".join(items)
    if count > limit:
        return f"{text} + {count - limit} more..."
    return text or empty


def _load_balancer(status: Mapping[str, Any]) -> str:
    found = set()
    for ingress in status.get("ingress") or ():
        if ingress.get("ip"):
            found.add(ingress["ip"])
        elif ingress.get("hostname"):
            found.add(ingress["hostname"])
    return ",".join(sorted(found))


# -- descriptions: the published field docs, as SwaggerDoc() gives them ----


@functools.cache
def _doc(reference: str) -> str:
    """`reference` is "<definition suffix>.<field>", e.g. "core.v1.PodSpec.nodeName"."""
    definition, _, field = reference.rpartition(".")
    prefix = "io.k8s.apimachinery.pkg.apis." if definition.startswith("meta.") else "io.k8s.api."
    schema = definitions().get(prefix + definition, {})
    return _str(_get(schema, "properties", field, "description"))


Column = tuple[str, str, str, int]  # name, type, description (or @reference), priority
_NAME: Final[Column] = ("Name", "string", "@meta.v1.ObjectMeta.name", 0)
_AGE: Final[Column] = ("Age", "string", "@meta.v1.ObjectMeta.creationTimestamp", 0)
_CONTAINERS: Final[Column] = ("Containers", "string", "Names of each container in the template.", 1)
_IMAGES: Final[Column] = (
    "Images",
    "string",
    "Images referenced by each container in the template.",
    1,
)


def _definition(column: Column) -> dict[str, Any]:
    name, type_, description, priority = column
    if description.startswith("@"):
        description = _doc(description[1:])
    return {
        "name": name,
        "type": type_,
        "format": "name" if column is _NAME or (name == "Name" and type_ == "string") else "",
        "description": description,
        "priority": priority,
    }


# -- the printers, by (group, kind) ------------------------------------------

_PRINTERS: dict[tuple[str, str], tuple[tuple[Column, ...], Printer]] = {}


def _printer(group: str, kind: str, *columns: Column) -> Callable[[Printer], Printer]:
    def register(fn: Printer) -> Printer:
        _PRINTERS[(group, kind)] = (columns, fn)
        return fn

    return register


def _is_restartable(container: Mapping[str, Any] | None) -> bool:
    return bool(container) and _get(container or {}, "restartPolicy") == "Always"


def _condition_true(conditions: Sequence[Any], type_: str) -> bool:
    return any(
        isinstance(c, Mapping) and c.get("type") == type_ and c.get("status") == "True"
        for c in conditions
    )


def _later(current: datetime | None, candidate: Any) -> datetime | None:
    moment = _time(candidate)
    if moment is None:
        return current
    return moment if current is None or current < moment else current


def pod_status(pod: Mapping[str, Any], now: datetime) -> tuple[str, str, str]:
    """kubectl's READY, STATUS and RESTARTS of a pod (printPod of Kubernetes 1.34)."""
    spec, status = _map(pod, "spec"), _map(pod, "status")
    phase = _str(status.get("phase"))
    reason = _str(status.get("reason")) or phase
    conditions = _list(pod, "status", "conditions")
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or ()}
    total = len(spec.get("containers") or ()) + sum(
        1 for c in init_specs.values() if _is_restartable(c)
    )
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    initializing = False
    init_statuses = _list(pod, "status", "initContainerStatuses")
    for i, container in enumerate(init_statuses):
        restarts += _int(container.get("restartCount"))
        finished = _get(container, "lastState", "terminated", "finishedAt")
        last_restart = _later(last_restart, finished)
        restartable = _is_restartable(init_specs.get(container.get("name")))
        if restartable:
            sidecar_restarts += _int(container.get("restartCount"))
            last_sidecar_restart = _later(last_sidecar_restart, finished)
        terminated = _get(container, "state", "terminated")
        waiting = _get(container, "state", "waiting")
        if isinstance(terminated, Mapping) and _int(terminated.get("exitCode")) == 0:
            continue
        if restartable and container.get("started") is True:
            if container.get("ready"):
                ready += 1
            continue
        if isinstance(terminated, Mapping):
            if not terminated.get("reason"):
                signal = _int(terminated.get("signal"))
                reason = (
                    f"Init:Signal:{signal}"
                    if signal
                    else f"Init:ExitCode:{_int(terminated.get('exitCode'))}"
                )
            else:
                reason = "Init:" + _str(terminated.get("reason"))
        elif (
            isinstance(waiting, Mapping)
            and waiting.get("reason")
            and waiting.get("reason") != "PodInitializing"
        ):
            reason = "Init:" + _str(waiting.get("reason"))
        else:
            reason = f"Init:{i}/{len(spec.get('initContainers') or ())}"
        initializing = True
        break
    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed(_list(pod, "status", "containerStatuses")):
            restarts += _int(container.get("restartCount"))
            last_restart = _later(
                last_restart, _get(container, "lastState", "terminated", "finishedAt")
            )
            state = _map(container, "state")
            waiting, terminated = state.get("waiting"), state.get("terminated")
            if isinstance(waiting, Mapping) and waiting.get("reason"):
                reason = _str(waiting["reason"])
            elif isinstance(terminated, Mapping) and terminated.get("reason"):
                reason = _str(terminated["reason"])
            elif isinstance(terminated, Mapping):
                signal = _int(terminated.get("signal"))
                reason = (
                    f"Signal:{signal}" if signal else f"ExitCode:{_int(terminated.get('exitCode'))}"
                )
            elif container.get("ready") and isinstance(state.get("running"), Mapping):
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(conditions, "Ready") else "NotReady"
    deleting = _get(pod, "metadata", "deletionTimestamp") is not None
    if deleting and status.get("reason") == "NodeLost":
        reason = "Unknown"
    elif deleting and phase not in ("Succeeded", "Failed"):
        reason = "Terminating"
    restarts_text = str(restarts)
    if restarts and last_restart is not None:
        restarts_text = f"{restarts} ({human_duration(now - last_restart)} ago)"
    return f"{ready}/{total}", reason, restarts_text


@_printer(
    "",
    "Pod",
    _NAME,
    ("Ready", "string", "The aggregate readiness state of this pod for accepting traffic.", 0),
    ("Status", "string", "The aggregate status of the containers in this pod.", 0),
    (
        "Restarts",
        "string",
        "The number of times the containers in this pod have been restarted "
        "and when the last container in this pod has restarted.",
        0,
    ),
    _AGE,
    ("IP", "string", "@core.v1.PodStatus.podIP", 1),
    ("Node", "string", "@core.v1.PodSpec.nodeName", 1),
    ("Nominated Node", "string", "@core.v1.PodStatus.nominatedNodeName", 1),
    ("Readiness Gates", "string", "@core.v1.PodSpec.readinessGates", 1),
)
def _pod(pod: Mapping[str, Any], now: datetime) -> Row:
    ready, reason, restarts = pod_status(pod, now)
    ips = _list(pod, "status", "podIPs")
    ip = _str(ips[0].get("ip")) if ips and isinstance(ips[0], Mapping) else ""
    gates = _list(pod, "spec", "readinessGates")
    gates_text = "<none>"
    if gates:
        conditions = _list(pod, "status", "conditions")
        true = 0
        for gate in gates:
            for condition in conditions:
                if condition.get("type") == gate.get("conditionType"):
                    true += condition.get("status") == "True"
                    break
        gates_text = f"{true}/{len(gates)}"
    return [
        _name(pod),
        ready,
        reason,
        restarts,
        _age(pod, now),
        ip or "<none>",
        _str(_get(pod, "spec", "nodeName")) or "<none>",
        _str(_get(pod, "status", "nominatedNodeName")) or "<none>",
        gates_text,
    ]


@_printer(
    "",
    "PodTemplate",
    _NAME,
    ("Containers", "string", "Names of each container in the template.", 0),
    ("Images", "string", "Images referenced by each container in the template.", 0),
    ("Pod Labels", "string", "The labels for the pod template.", 0),
)
def _pod_template(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(_map(obj, "template", "spec"))
    return [_name(obj), names, images, format_labels(_map(obj, "template", "metadata", "labels"))]


def _replicas_columns(owner: str) -> tuple[Column, ...]:
    return (
        _NAME,
        ("Desired", "integer", f"@{owner}Spec.replicas", 0),
        ("Current", "integer", f"@{owner}Status.replicas", 0),
        ("Ready", "integer", f"@{owner}Status.readyReplicas", 0),
        _AGE,
        _CONTAINERS,
        _IMAGES,
        ("Selector", "string", f"@{owner}Spec.selector", 1),
    )


@_printer("", "ReplicationController", *_replicas_columns("core.v1.ReplicationController"))
def _replication_controller(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(_map(obj, "spec", "template", "spec"))
    return [
        _name(obj),
        _int(_get(obj, "spec", "replicas")),
        _int(_get(obj, "status", "replicas")),
        _int(_get(obj, "status", "readyReplicas")),
        _age(obj, now),
        names,
        images,
        format_labels(_map(obj, "spec", "selector")),
    ]


@_printer("apps", "ReplicaSet", *_replicas_columns("apps.v1.ReplicaSet"))
def _replica_set(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(_map(obj, "spec", "template", "spec"))
    return [
        _name(obj),
        _int(_get(obj, "spec", "replicas")),
        _int(_get(obj, "status", "replicas")),
        _int(_get(obj, "status", "readyReplicas")),
        _age(obj, now),
        names,
        images,
        format_label_selector(_get(obj, "spec", "selector")),
    ]


@_printer(
    "apps",
    "Deployment",
    _NAME,
    ("Ready", "string", "Number of the pod with ready state", 0),
    ("Up-to-date", "string", "@apps.v1.DeploymentStatus.updatedReplicas", 0),
    ("Available", "string", "@apps.v1.DeploymentStatus.availableReplicas", 0),
    _AGE,
    _CONTAINERS,
    _IMAGES,
    ("Selector", "string", "@apps.v1.DeploymentSpec.selector", 1),
)
def _deployment(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(_map(obj, "spec", "template", "spec"))
    desired = _get(obj, "spec", "replicas")
    return [
        _name(obj),
        f"{_int(_get(obj, 'status', 'readyReplicas'))}/{_int(desired)}",
        _int(_get(obj, "status", "updatedReplicas")),
        _int(_get(obj, "status", "availableReplicas")),
        _age(obj, now),
        names,
        images,
        _selector_string(_get(obj, "spec", "selector")),
    ]


@_printer(
    "apps",
    "StatefulSet",
    _NAME,
    ("Ready", "string", "Number of the pod with ready state", 0),
    _AGE,
    _CONTAINERS,
    _IMAGES,
)
def _stateful_set(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(_map(obj, "spec", "template", "spec"))
    ready = _int(_get(obj, "status", "readyReplicas"))
    return [
        _name(obj),
        f"{ready}/{_int(_get(obj, 'spec', 'replicas'))}",
        _age(obj, now),
        names,
        images,
    ]


@_printer(
    "apps",
    "DaemonSet",
    _NAME,
    ("Desired", "integer", "@apps.v1.DaemonSetStatus.desiredNumberScheduled", 0),
    ("Current", "integer", "@apps.v1.DaemonSetStatus.currentNumberScheduled", 0),
    ("Ready", "integer", "@apps.v1.DaemonSetStatus.numberReady", 0),
    ("Up-to-date", "integer", "@apps.v1.DaemonSetStatus.updatedNumberScheduled", 0),
    ("Available", "integer", "@apps.v1.DaemonSetStatus.numberAvailable", 0),
    ("Node Selector", "string", "@core.v1.PodSpec.nodeSelector", 0),
    _AGE,
    _CONTAINERS,
    _IMAGES,
    ("Selector", "string", "@apps.v1.DaemonSetSpec.selector", 1),
)
def _daemon_set(obj: Mapping[str, Any], now: datetime) -> Row:
    names, images = _containers(_map(obj, "spec", "template", "spec"))
    status = _map(obj, "status")
    return [
        _name(obj),
        _int(status.get("desiredNumberScheduled")),
        _int(status.get("currentNumberScheduled")),
        _int(status.get("numberReady")),
        _int(status.get("updatedNumberScheduled")),
        _int(status.get("numberAvailable")),
        format_labels(_map(obj, "spec", "template", "spec", "nodeSelector")),
        _age(obj, now),
        names,
        images,
        format_label_selector(_get(obj, "spec", "selector")),
    ]


@_printer(
    "apps",
    "ControllerRevision",
    _NAME,
    ("Controller", "string", "Controller of the object", 0),
    ("Revision", "string", "@apps.v1.ControllerRevision.revision", 0),
    _AGE,
)
def _controller_revision(obj: Mapping[str, Any], now: datetime) -> Row:
    controller = "<none>"
    for ref in _list(obj, "metadata", "ownerReferences"):
        if ref.get("controller") is True:
            group = _str(ref.get("apiVersion")).rpartition("/")[0]
            kind = _str(ref.get("kind")).lower() + (f".{group}" if group else "")
            controller = f"{kind}/{_str(ref.get('name'))}"
            break
    return [_name(obj), controller, _int(_get(obj, "revision")), _age(obj, now)]


@_printer(
    "batch",
    "Job",
    _NAME,
    ("Status", "string", "Status of the job.", 0),
    ("Completions", "string", "@batch.v1.JobStatus.succeeded", 0),
    ("Duration", "string", "Time required to complete the job.", 0),
    _AGE,
    _CONTAINERS,
    _IMAGES,
    ("Selector", "string", "@batch.v1.JobSpec.selector", 1),
)
def _job(obj: Mapping[str, Any], now: datetime) -> Row:
    spec, status = _map(obj, "spec"), _map(obj, "status")
    succeeded = _int(status.get("succeeded"))
    if spec.get("completions") is not None:
        completions = f"{succeeded}/{_int(spec.get('completions'))}"
    elif _int(spec.get("parallelism")) > 1:
        completions = f"{succeeded}/1 of {_int(spec.get('parallelism'))}"
    else:
        completions = f"{succeeded}/1"
    start, end = _time(status.get("startTime")), _time(status.get("completionTime"))
    duration = ""
    if start is not None:
        duration = human_duration((end or now) - start)
    conditions = _list(obj, "status", "conditions")

    def has(type_: str) -> bool:
        for condition in conditions:
            if condition.get("type") == type_:
                return bool(condition.get("status") == "True")
        return False

    if has("Complete"):
        state = "Complete"
    elif has("Failed"):
        state = "Failed"
    elif _get(obj, "metadata", "deletionTimestamp") is not None:
        state = "Terminating"
    elif has("Suspended"):
        state = "Suspended"
    elif has("FailureTarget"):
        state = "FailureTarget"
    else:
        state = "Running"
    names, images = _containers(_map(obj, "spec", "template", "spec"))
    return [
        _name(obj),
        state,
        completions,
        duration,
        _age(obj, now),
        names,
        images,
        format_label_selector(_get(obj, "spec", "selector")),
    ]


@_printer(
    "batch",
    "CronJob",
    _NAME,
    ("Schedule", "string", "@batch.v1.CronJobSpec.schedule", 0),
    ("Timezone", "string", "@batch.v1.CronJobSpec.timeZone", 0),
    ("Suspend", "boolean", "@batch.v1.CronJobSpec.suspend", 0),
    ("Active", "integer", "@batch.v1.CronJobStatus.active", 0),
    ("Last Schedule", "string", "@batch.v1.CronJobStatus.lastScheduleTime", 0),
    _AGE,
    _CONTAINERS,
    _IMAGES,
    ("Selector", "string", "@batch.v1.JobSpec.selector", 1),
)
def _cron_job(obj: Mapping[str, Any], now: datetime) -> Row:
    last = _get(obj, "status", "lastScheduleTime")
    job_spec = _map(obj, "spec", "jobTemplate", "spec")
    names, images = _containers(_map(job_spec, "template", "spec"))
    return [
        _name(obj),
        _str(_get(obj, "spec", "schedule")),
        _str(_get(obj, "spec", "timeZone")) or "<none>",
        _bool_ptr(_get(obj, "spec", "suspend")),
        len(_list(obj, "status", "active")),
        "<none>" if last is None else _since(last, now),
        _age(obj, now),
        names,
        images,
        format_label_selector(job_spec.get("selector")),
    ]


def _service_external_ip(obj: Mapping[str, Any]) -> str:
    spec = _map(obj, "spec")
    external = [str(ip) for ip in spec.get("externalIPs") or ()]
    kind = spec.get("type") or "ClusterIP"
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) if external else "<none>"
    if kind == "LoadBalancer":
        lb = _load_balancer(_map(obj, "status", "loadBalancer"))
        results = ([*lb.split(",")] if lb else []) + external
        if external:
            return ",".join(results)
        return lb or "<pending>"
    if kind == "ExternalName":
        return _str(spec.get("externalName"))
    return "<unknown>"


@_printer(
    "",
    "Service",
    _NAME,
    ("Type", "string", "@core.v1.ServiceSpec.type", 0),
    ("Cluster-IP", "string", "@core.v1.ServiceSpec.clusterIP", 0),
    ("External-IP", "string", "@core.v1.ServiceSpec.externalIPs", 0),
    ("Port(s)", "string", "@core.v1.ServiceSpec.ports", 0),
    _AGE,
    ("Selector", "string", "@core.v1.ServiceSpec.selector", 1),
)
def _service(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = _map(obj, "spec")
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    ports = []
    for port in spec.get("ports") or ():
        protocol = port.get("protocol") or "TCP"
        if _int(port.get("nodePort")) > 0:
            ports.append(f"{_int(port.get('port'))}:{port['nodePort']}/{protocol}")
        else:
            ports.append(f"{_int(port.get('port'))}/{protocol}")
    return [
        _name(obj),
        _str(spec.get("type")) or "ClusterIP",
        cluster_ips[0] if cluster_ips else "<none>",
        _service_external_ip(obj),
        ",".join(ports) or "<none>",
        _age(obj, now),
        format_labels(spec.get("selector")),
    ]


def _join_host_port(host: str, port: int) -> str:
    try:
        if ipaddress.ip_address(host).version == 6:
            return f"[{host}]:{port}"
    except ValueError:
        pass
    return f"{host}:{port}"


@_printer("", "Endpoints", _NAME, ("Endpoints", "string", "@core.v1.Endpoints.subsets", 0), _AGE)
def _endpoints(obj: Mapping[str, Any], now: datetime) -> Row:
    subsets = _list(obj, "subsets")
    if not subsets:
        return [_name(obj), "<none>", _age(obj, now)]
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addresses = [_str(a.get("ip")) for a in subset.get("addresses") or ()]
        ports = subset.get("ports") or ()
        if not ports:
            for ip in addresses:
                if len(shown) < 3:
                    shown.append(ip)
                count += 1
        for port in ports:
            for ip in addresses:
                if len(shown) < 3:
                    shown.append(_join_host_port(ip, _int(port.get("port"))))
                count += 1
    return [_name(obj), _with_more(shown, count, 3, ""), _age(obj, now)]


@_printer(
    "discovery.k8s.io",
    "EndpointSlice",
    _NAME,
    ("AddressType", "string", "@discovery.v1.EndpointSlice.addressType", 0),
    ("Ports", "string", "@discovery.v1.EndpointSlice.ports", 0),
    ("Endpoints", "string", "@discovery.v1.EndpointSlice.endpoints", 0),
    _AGE,
)
def _endpoint_slice(obj: Mapping[str, Any], now: datetime) -> Row:
    ports = _list(obj, "ports")
    port_list = []
    for port in ports[:3]:
        if port.get("port") is not None:
            port_list.append(str(port["port"]))
        elif port.get("name") is not None:
            port_list.append(_str(port["name"]))
        else:
            port_list.append("*")
    addresses = [a for e in _list(obj, "endpoints") for a in e.get("addresses") or ()]
    return [
        _name(obj),
        _str(obj.get("addressType")),
        _with_more(port_list, len(ports), 3, "<unset>"),
        _with_more([str(a) for a in addresses[:3]], len(addresses), 3, "<unset>"),
        _age(obj, now),
    ]


def _node_roles(labels: Mapping[str, Any]) -> list[str]:
    roles = set()
    for key, value in labels.items():
        if key.startswith("node-role.kubernetes.io/"):
            role = key.removeprefix("node-role.kubernetes.io/")
            if role:
                roles.add(role)
        elif key == "kubernetes.io/role" and value:
            roles.add(str(value))
    return sorted(roles)


@_printer(
    "",
    "Node",
    _NAME,
    ("Status", "string", "The status of the node", 0),
    ("Roles", "string", "The roles of the node", 0),
    _AGE,
    ("Version", "string", "@core.v1.NodeSystemInfo.kubeletVersion", 0),
    ("Internal-IP", "string", "@core.v1.NodeStatus.addresses", 1),
    ("External-IP", "string", "@core.v1.NodeStatus.addresses", 1),
    ("OS-Image", "string", "@core.v1.NodeSystemInfo.osImage", 1),
    ("Kernel-Version", "string", "@core.v1.NodeSystemInfo.kernelVersion", 1),
    ("Container-Runtime", "string", "@core.v1.NodeSystemInfo.containerRuntimeVersion", 1),
)
def _node(obj: Mapping[str, Any], now: datetime) -> Row:
    status: list[str] = []
    for condition in _list(obj, "status", "conditions"):
        if condition.get("type") == "Ready":
            status = ["Ready" if condition.get("status") == "True" else "NotReady"]
    if not status:
        status = ["Unknown"]
    if _get(obj, "spec", "unschedulable") is True:
        status.append("SchedulingDisabled")
    info = _map(obj, "status", "nodeInfo")

    def address(kind: str) -> str:
        for entry in _list(obj, "status", "addresses"):
            if entry.get("type") == kind:
                return _str(entry.get("address"))
        return "<none>"

    return [
        _name(obj),
        ",".join(status),
        ",".join(_node_roles(_map(obj, "metadata", "labels"))) or "<none>",
        _age(obj, now),
        _str(info.get("kubeletVersion")),
        address("InternalIP"),
        address("ExternalIP"),
        _str(info.get("osImage")) or "<unknown>",
        _str(info.get("kernelVersion")) or "<unknown>",
        _str(info.get("containerRuntimeVersion")) or "<unknown>",
    ]


_EVENT_COLUMNS: Final[tuple[Column, ...]] = (
    ("Last Seen", "string", "@core.v1.Event.lastTimestamp", 0),
    ("Type", "string", "@core.v1.Event.type", 0),
    ("Reason", "string", "@core.v1.Event.reason", 0),
    ("Object", "string", "@core.v1.Event.involvedObject", 0),
    ("Subobject", "string", "@core.v1.ObjectReference.fieldPath", 1),
    ("Source", "string", "@core.v1.Event.source", 1),
    ("Message", "string", "@core.v1.Event.message", 0),
    ("First Seen", "string", "@core.v1.Event.firstTimestamp", 1),
    ("Count", "string", "@core.v1.Event.count", 1),
    ("Name", "string", "@meta.v1.ObjectMeta.name", 1),
)


def _event_row(
    obj: Mapping[str, Any], now: datetime, involved: Mapping[str, Any], message: str, source: str
) -> Row:
    first = obj.get("firstTimestamp") or obj.get("deprecatedFirstTimestamp")
    first_text = _since(first, now) if first else _since(obj.get("eventTime"), now)
    last = obj.get("lastTimestamp") or obj.get("deprecatedLastTimestamp")
    last_text = _since(last, now) if last else first_text
    count = _int(obj.get("count") or obj.get("deprecatedCount"))
    series = obj.get("series")
    if isinstance(series, Mapping):
        last_text = _since(series.get("lastObservedTime"), now)
        count = _int(series.get("count"))
    elif count == 0:
        count = 1
    kind = _str(involved.get("kind")).lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [
        last_text,
        _str(obj.get("type")),
        _str(obj.get("reason")),
        target,
        _str(involved.get("fieldPath")),
        source,
        message.strip(),
        first_text,
        count,
        _name(obj),
    ]


def _source(component: str, instance: str) -> str:
    return f"{component}, {instance}" if instance else component


@_printer("", "Event", *_EVENT_COLUMNS)
def _event(obj: Mapping[str, Any], now: datetime) -> Row:
    source = _source(
        _str(_get(obj, "source", "component")) or _str(obj.get("reportingComponent")),
        _str(_get(obj, "source", "host")) or _str(obj.get("reportingInstance")),
    )
    return _event_row(obj, now, _map(obj, "involvedObject"), _str(obj.get("message")), source)


@_printer("events.k8s.io", "Event", *_EVENT_COLUMNS)
def _events_v1_event(obj: Mapping[str, Any], now: datetime) -> Row:
    source = _source(
        _str(_get(obj, "deprecatedSource", "component")) or _str(obj.get("reportingController")),
        _str(_get(obj, "deprecatedSource", "host")) or _str(obj.get("reportingInstance")),
    )
    return _event_row(obj, now, _map(obj, "regarding"), _str(obj.get("note")), source)


@_printer("", "Namespace", _NAME, ("Status", "string", "The status of the namespace", 0), _AGE)
def _namespace(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), _str(_get(obj, "status", "phase")), _age(obj, now)]


@_printer(
    "",
    "Secret",
    _NAME,
    ("Type", "string", "@core.v1.Secret.type", 0),
    ("Data", "string", "@core.v1.Secret.data", 0),
    _AGE,
)
def _secret(obj: Mapping[str, Any], now: datetime) -> Row:
    data = set(_map(obj, "data")) | set(_map(obj, "stringData"))
    return [_name(obj), _str(obj.get("type")) or "Opaque", len(data), _age(obj, now)]


@_printer("", "ConfigMap", _NAME, ("Data", "string", "@core.v1.ConfigMap.data", 0), _AGE)
def _config_map(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), len(_map(obj, "data")) + len(_map(obj, "binaryData")), _age(obj, now)]


@_printer(
    "", "ServiceAccount", _NAME, ("Secrets", "string", "@core.v1.ServiceAccount.secrets", 0), _AGE
)
def _service_account(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), len(_list(obj, "secrets")), _age(obj, now)]


@_printer(
    "",
    "PersistentVolume",
    _NAME,
    ("Capacity", "string", "@core.v1.PersistentVolumeSpec.capacity", 0),
    ("Access Modes", "string", "@core.v1.PersistentVolumeSpec.accessModes", 0),
    ("Reclaim Policy", "string", "@core.v1.PersistentVolumeSpec.persistentVolumeReclaimPolicy", 0),
    ("Status", "string", "@core.v1.PersistentVolumeStatus.phase", 0),
    ("Claim", "string", "@core.v1.PersistentVolumeSpec.claimRef", 0),
    ("StorageClass", "string", "StorageClass of the pv", 0),
    ("VolumeAttributesClass", "string", "VolumeAttributesClass of the pv", 0),
    ("Reason", "string", "@core.v1.PersistentVolumeStatus.reason", 0),
    _AGE,
    ("VolumeMode", "string", "@core.v1.PersistentVolumeSpec.volumeMode", 1),
)
def _persistent_volume(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = _map(obj, "spec")
    claim = spec.get("claimRef")
    claim_text = f"{_str(claim.get('namespace'))}/{_str(claim.get('name'))}" if claim else ""
    phase = _str(_get(obj, "status", "phase"))
    if _get(obj, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    storage_class = _str(
        _get(obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
    ) or _str(spec.get("storageClassName"))
    return [
        _name(obj),
        _quantity(_get(spec, "capacity", "storage")),
        _access_modes(spec.get("accessModes") or ()),
        _str(spec.get("persistentVolumeReclaimPolicy")),
        phase,
        claim_text,
        storage_class,
        _str(spec.get("volumeAttributesClassName")) or "<unset>",
        _str(_get(obj, "status", "reason")),
        _age(obj, now),
        _str(spec.get("volumeMode")) or "<unset>",
    ]


@_printer(
    "",
    "PersistentVolumeClaim",
    _NAME,
    ("Status", "string", "@core.v1.PersistentVolumeClaimStatus.phase", 0),
    ("Volume", "string", "@core.v1.PersistentVolumeClaimSpec.volumeName", 0),
    ("Capacity", "string", "@core.v1.PersistentVolumeClaimStatus.capacity", 0),
    ("Access Modes", "string", "@core.v1.PersistentVolumeClaimStatus.accessModes", 0),
    ("StorageClass", "string", "StorageClass of the pvc", 0),
    ("VolumeAttributesClass", "string", "VolumeAttributesClass of the pvc", 0),
    _AGE,
    ("VolumeMode", "string", "@core.v1.PersistentVolumeClaimSpec.volumeMode", 1),
)
def _persistent_volume_claim(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = _map(obj, "spec")
    phase = _str(_get(obj, "status", "phase"))
    if _get(obj, "metadata", "deletionTimestamp") is not None:
        phase = "Terminating"
    capacity = access = ""
    if spec.get("volumeName"):
        access = _access_modes(_list(obj, "status", "accessModes"))
        capacity = _quantity(_get(obj, "status", "capacity", "storage"))
    storage_class = _str(
        _get(obj, "metadata", "annotations", "volume.beta.kubernetes.io/storage-class")
    ) or _str(spec.get("storageClassName"))
    return [
        _name(obj),
        phase,
        _str(spec.get("volumeName")),
        capacity,
        access,
        storage_class,
        _str(spec.get("volumeAttributesClassName")) or "<unset>",
        _age(obj, now),
        _str(spec.get("volumeMode")) or "<unset>",
    ]


@_printer(
    "storage.k8s.io",
    "StorageClass",
    _NAME,
    ("Provisioner", "string", "@storage.v1.StorageClass.provisioner", 0),
    ("ReclaimPolicy", "string", "@storage.v1.StorageClass.reclaimPolicy", 0),
    ("VolumeBindingMode", "string", "@storage.v1.StorageClass.volumeBindingMode", 0),
    ("AllowVolumeExpansion", "string", "@storage.v1.StorageClass.allowVolumeExpansion", 0),
    _AGE,
)
def _storage_class(obj: Mapping[str, Any], now: datetime) -> Row:
    annotations = _map(obj, "metadata", "annotations")
    default = any(
        annotations.get(key) == "true"
        for key in (
            "storageclass.kubernetes.io/is-default-class",
            "storageclass.beta.kubernetes.io/is-default-class",
        )
    )
    return [
        _name(obj) + (" (default)" if default else ""),
        _str(obj.get("provisioner")),
        _str(obj.get("reclaimPolicy")) or "Delete",
        _str(obj.get("volumeBindingMode")) or "Immediate",
        obj.get("allowVolumeExpansion") is True,
        _age(obj, now),
    ]


@_printer(
    "networking.k8s.io",
    "Ingress",
    _NAME,
    (
        "Class",
        "string",
        "The name of the IngressClass resource that should be used for additional configuration",
        0,
    ),
    (
        "Hosts",
        "string",
        "Hosts that incoming requests are matched against before the ingress rule",
        0,
    ),
    ("Address", "string", "Address is a list containing ingress points for the load-balancer", 0),
    ("Ports", "string", "Ports of TLS configurations that open", 0),
    _AGE,
)
def _ingress(obj: Mapping[str, Any], now: datetime) -> Row:
    rules = _list(obj, "spec", "rules")
    hosts = [_str(r.get("host")) for r in rules[:3] if r.get("host")]
    hosts_text = ",".join(hosts) or "*"
    if len(rules) > 3 and hosts:
        hosts_text = f"{hosts_text} + {len(rules) - 3} more..."
    return [
        _name(obj),
        _str(_get(obj, "spec", "ingressClassName")) or "<none>",
        hosts_text,
        _load_balancer(_map(obj, "status", "loadBalancer")),
        "80, 443" if _list(obj, "spec", "tls") else "80",
        _age(obj, now),
    ]


@_printer(
    "networking.k8s.io",
    "IngressClass",
    _NAME,
    ("Controller", "string", "Controller that is responsible for handling this class", 0),
    ("Parameters", "string", "A reference to a resource with additional parameters", 0),
    _AGE,
)
def _ingress_class(obj: Mapping[str, Any], now: datetime) -> Row:
    params = _map(obj, "spec", "parameters")
    text = "<none>"
    if params:
        group = _str(params.get("apiGroup"))
        kind = _str(params.get("kind")) + (f".{group}" if group else "")
        text = f"{kind}/{_str(params.get('name'))}"
    return [_name(obj), _str(_get(obj, "spec", "controller")), text, _age(obj, now)]


@_printer(
    "networking.k8s.io",
    "NetworkPolicy",
    _NAME,
    ("Pod-Selector", "string", "@networking.v1.NetworkPolicySpec.podSelector", 0),
    _AGE,
)
def _network_policy(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), format_label_selector(_map(obj, "spec", "podSelector")), _age(obj, now)]


def _metric_value(value: Mapping[str, Any], key: str) -> str:
    raw = value.get(key)
    return "<unknown>" if raw is None else _quantity(raw)


def _hpa_metrics(obj: Mapping[str, Any]) -> str:
    spec = _map(obj, "spec")
    if "targetCPUUtilizationPercentage" in spec or "metrics" not in spec:
        # autoscaling/v1: one cpu utilization target.
        current = _get(obj, "status", "currentCPUUtilizationPercentage")
        target = spec.get("targetCPUUtilizationPercentage")
        return "cpu: {}/{}".format(
            "<unknown>" if current is None else f"{current}%",
            "<auto>" if target is None else f"{target}%",
        )
    specs = _list(obj, "spec", "metrics")
    statuses = _list(obj, "status", "currentMetrics")
    if not specs:
        return "<none>"
    shown: list[str] = []
    for i, metric in enumerate(specs):
        status = statuses[i] if i < len(statuses) and isinstance(statuses[i], Mapping) else {}
        kind = metric.get("type")
        key = {
            "Resource": "resource",
            "ContainerResource": "containerResource",
            "Pods": "pods",
            "Object": "object",
            "External": "external",
        }.get(_str(kind))
        if key is None:
            shown.append("<unknown type>")
            continue
        source = _map(metric, key)
        target = _map(source, "target")
        current = _map(status, key, "current") if status.get(key) else {}
        if kind in ("Resource", "ContainerResource"):
            label = _str(source.get("name"))
            if target.get("averageValue") is not None:
                now_text = _metric_value(current, "averageValue") if current else "<unknown>"
                shown.append(f"{label}: {now_text}/{_quantity(target['averageValue'])}")
            else:
                utilization = current.get("averageUtilization") if current else None
                now_text = "<unknown>" if utilization is None else f"{utilization}%"
                goal = target.get("averageUtilization")
                shown.append(f"{label}: {now_text}/{'<auto>' if goal is None else f'{goal}%'}")
        elif kind == "Pods":
            now_text = _metric_value(current, "averageValue") if current else "<unknown>"
            shown.append(f"{now_text}/{_quantity(target.get('averageValue'))}")
        elif target.get("type") == "AverageValue":
            now_text = _metric_value(current, "averageValue") if current else "<unknown>"
            shown.append(f"{now_text}/{_quantity(target.get('averageValue'))} (avg)")
        else:
            now_text = _metric_value(current, "value") if current else "<unknown>"
            shown.append(f"{now_text}/{_quantity(target.get('value'))}")
    text = ", ".join(shown[:2])
    if len(shown) > 2:
        text = f"{text} + {len(shown) - 2} more..."
    return text


@_printer(
    "autoscaling",
    "HorizontalPodAutoscaler",
    _NAME,
    ("Reference", "string", "@autoscaling.v2.HorizontalPodAutoscalerSpec.scaleTargetRef", 0),
    ("Targets", "string", "@autoscaling.v2.HorizontalPodAutoscalerSpec.metrics", 0),
    ("MinPods", "string", "@autoscaling.v2.HorizontalPodAutoscalerSpec.minReplicas", 0),
    ("MaxPods", "string", "@autoscaling.v2.HorizontalPodAutoscalerSpec.maxReplicas", 0),
    ("Replicas", "string", "@autoscaling.v2.HorizontalPodAutoscalerStatus.currentReplicas", 0),
    _AGE,
)
def _hpa(obj: Mapping[str, Any], now: datetime) -> Row:
    ref = _map(obj, "spec", "scaleTargetRef")
    minimum = _get(obj, "spec", "minReplicas")
    return [
        _name(obj),
        f"{_str(ref.get('kind'))}/{_str(ref.get('name'))}",
        _hpa_metrics(obj),
        "<unset>" if minimum is None else str(minimum),
        _int(_get(obj, "spec", "maxReplicas")),
        _int(_get(obj, "status", "currentReplicas")),
        _age(obj, now),
    ]


@_printer(
    "policy",
    "PodDisruptionBudget",
    _NAME,
    ("Min Available", "string", "The minimum number of pods that must be available.", 0),
    ("Max Unavailable", "string", "The maximum number of pods that may be unavailable.", 0),
    (
        "Allowed Disruptions",
        "integer",
        "Calculated number of pods that may be disrupted at this time.",
        0,
    ),
    _AGE,
)
def _pdb(obj: Mapping[str, Any], now: datetime) -> Row:
    spec = _map(obj, "spec")
    return [
        _name(obj),
        "N/A" if spec.get("minAvailable") is None else _int_or_string(spec["minAvailable"]),
        "N/A" if spec.get("maxUnavailable") is None else _int_or_string(spec["maxUnavailable"]),
        _int(_get(obj, "status", "disruptionsAllowed")),
        _age(obj, now),
    ]


def _binding_columns(what: str) -> tuple[Column, ...]:
    return (
        _NAME,
        ("Role", "string", f"@rbac.v1.{what}.roleRef", 0),
        _AGE,
        ("Users", "string", f"Users in the {what[0].lower() + what[1:]}", 1),
        ("Groups", "string", f"Groups in the {what[0].lower() + what[1:]}", 1),
        ("ServiceAccounts", "string", f"ServiceAccounts in the {what[0].lower() + what[1:]}", 1),
    )


def _binding(obj: Mapping[str, Any], now: datetime) -> Row:
    ref = _map(obj, "roleRef")
    users, groups, accounts = [], [], []
    for subject in _list(obj, "subjects"):
        kind, name = subject.get("kind"), _str(subject.get("name"))
        if kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
        elif kind == "ServiceAccount":
            accounts.append(f"{_str(subject.get('namespace'))}:{name}")
    return [
        _name(obj),
        f"{_str(ref.get('kind'))}/{_str(ref.get('name'))}",
        _age(obj, now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(accounts),
    ]


_PRINTERS[("rbac.authorization.k8s.io", "RoleBinding")] = (
    _binding_columns("RoleBinding"),
    _binding,
)
_PRINTERS[("rbac.authorization.k8s.io", "ClusterRoleBinding")] = (
    _binding_columns("ClusterRoleBinding"),
    _binding,
)


@_printer(
    "coordination.k8s.io",
    "Lease",
    _NAME,
    ("Holder", "string", "@coordination.v1.LeaseSpec.holderIdentity", 0),
    _AGE,
)
def _lease(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), _str(_get(obj, "spec", "holderIdentity")), _age(obj, now)]


@_printer(
    "",
    "ResourceQuota",
    _NAME,
    _AGE,
    (
        "Request",
        "string",
        "Request represents a minimum amount of cpu/memory that a container may consume.",
        0,
    ),
    (
        "Limit",
        "string",
        "Limits control the maximum amount of cpu/memory that a container may use "
        "independent of contention on the node.",
        0,
    ),
)
def _resource_quota(obj: Mapping[str, Any], now: datetime) -> Row:
    hard, used = _map(obj, "status", "hard"), _map(obj, "status", "used")
    requests: list[str] = []
    limits: list[str] = []
    for resource in sorted(hard):
        text = f"{resource}: {_quantity(used.get(resource))}/{_quantity(hard[resource])}"
        pieces = resource.split(".")
        (limits if len(pieces) > 1 and pieces[0] == "limits" else requests).append(text)
    return [_name(obj), _age(obj, now), ", ".join(requests), ", ".join(limits)]


@_printer(
    "scheduling.k8s.io",
    "PriorityClass",
    _NAME,
    ("Value", "integer", "@scheduling.v1.PriorityClass.value", 0),
    ("Global-Default", "boolean", "@scheduling.v1.PriorityClass.globalDefault", 0),
    ("PreemptionPolicy", "string", "@scheduling.v1.PriorityClass.preemptionPolicy", 0),
    _AGE,
)
def _priority_class(obj: Mapping[str, Any], now: datetime) -> Row:
    return [
        _name(obj),
        _int(obj.get("value")),
        obj.get("globalDefault") is True,
        _str(obj.get("preemptionPolicy")) or "PreemptLowerPriority",
        _age(obj, now),
    ]


@_printer(
    "node.k8s.io",
    "RuntimeClass",
    _NAME,
    ("Handler", "string", "@node.v1.RuntimeClass.handler", 0),
    _AGE,
)
def _runtime_class(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), _str(obj.get("handler")), _age(obj, now)]


def _webhooks(obj: Mapping[str, Any], now: datetime) -> Row:
    return [_name(obj), len(_list(obj, "webhooks")), _age(obj, now)]


_WEBHOOK_COLUMNS: Final[tuple[Column, ...]] = (
    _NAME,
    (
        "Webhooks",
        "integer",
        "Webhooks indicates the number of webhooks registered in this configuration",
        0,
    ),
    _AGE,
)
for _kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"):
    _PRINTERS[("admissionregistration.k8s.io", _kind)] = (_WEBHOOK_COLUMNS, _webhooks)


@_printer(
    "certificates.k8s.io",
    "CertificateSigningRequest",
    _NAME,
    _AGE,
    ("SignerName", "string", "@certificates.v1.CertificateSigningRequestSpec.signerName", 0),
    ("Requestor", "string", "@certificates.v1.CertificateSigningRequestSpec.request", 0),
    (
        "RequestedDuration",
        "string",
        "@certificates.v1.CertificateSigningRequestSpec.expirationSeconds",
        0,
    ),
    ("Condition", "string", "@certificates.v1.CertificateSigningRequestStatus.conditions", 0),
)
def _csr(obj: Mapping[str, Any], now: datetime) -> Row:
    types = {c.get("type") for c in _list(obj, "status", "conditions")}
    state = "Denied" if "Denied" in types else "Failed" if "Failed" in types else None
    if state is None:
        state = "Approved" if "Approved" in types else "Pending"
    if _get(obj, "status", "certificate"):
        state += ",Issued"
    seconds = _get(obj, "spec", "expirationSeconds")
    requested = "<none>" if seconds is None else human_duration(timedelta(seconds=_int(seconds)))
    return [
        _name(obj),
        _age(obj, now),
        _str(_get(obj, "spec", "signerName")),
        _str(_get(obj, "spec", "username")),
        requested,
        state,
    ]


# -- the default tables --------------------------------------------------------

_DEFAULT_COLUMNS: Final[tuple[Column, ...]] = (
    _NAME,
    ("Created At", "date", "@meta.v1.ObjectMeta.creationTimestamp", 0),
)


def _default(obj: Mapping[str, Any], now: datetime) -> Row:
    """rest.DefaultTableConvertor: the name and the creation time as RFC 3339."""
    created = _time(_get(obj, "metadata", "creationTimestamp"))
    stamp = created.strftime("%Y-%m-%dT%H:%M:%SZ") if created else "0001-01-01T00:00:00Z"
    return [_name(obj), stamp]


_CRD_AGE: Final = {
    "name": "Age",
    "type": "date",
    "jsonPath": ".metadata.creationTimestamp",
}


def _crd_cell(type_: str, value: Any, now: datetime) -> Any:
    """apiextensions' cellForJSONValue, and the jsonpath printing of string columns."""
    if value is None:
        return None
    if type_ == "string":
        return print_value(value)
    if type_ == "integer":
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        return int(value) if isinstance(value, float) else None
    if type_ == "number":
        if isinstance(value, bool):
            return None
        return float(value) if isinstance(value, int | float) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        if not isinstance(value, str):
            return None
        moment = _time(value)
        return "<invalid>" if moment is None else human_duration(now - moment)
    return None


def _crd_table(
    crd_columns: Sequence[Mapping[str, Any]],
) -> tuple[list[dict[str, Any]], Callable[[Mapping[str, Any], datetime], Row]]:
    columns = list(crd_columns) or [_CRD_AGE]
    definitions_ = [_definition(_NAME)]
    paths = []
    for column in columns:
        json_path = _str(column.get("jsonPath"))
        try:
            paths.append(compile_jsonpath(json_path))
        except JSONPathError as error:
            raise ValueError(f"additionalPrinterColumns {column.get('name')!r}: {error}") from error
        definitions_.append(
            {
                "name": _str(column.get("name")),
                "type": _str(column.get("type")),
                "format": _str(column.get("format")),
                "description": _str(column.get("description"))
                or f"Custom resource definition column (in JSONPath format): {json_path}",
                "priority": _int(column.get("priority")),
            }
        )

    def row(obj: Mapping[str, Any], now: datetime) -> Row:
        cells: Row = [_name(obj)]
        for column, path in zip(columns, paths, strict=True):
            found = path(obj)
            cells.append(_crd_cell(_str(column.get("type")), found[0], now) if found else None)
        return cells

    return definitions_, row


def _row_object(obj: Mapping[str, Any], include_object: str) -> Any:
    if include_object == "None":
        return None
    if include_object == "Object":
        return obj
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": dict(obj.get("metadata") or {}),
    }


_POD_CONDITIONS: Final = {
    "Succeeded": [
        {
            "type": "Completed",
            "status": "True",
            "reason": "Succeeded",
            "message": "The pod has completed successfully.",
        }
    ],
    "Failed": [
        {"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}
    ],
}


def table(
    objects: Sequence[Mapping[str, Any]],
    *,
    group: str,
    version: str,
    kind: str,
    include_object: str = "Metadata",
    crd_columns: Sequence[Mapping[str, Any]] | None = None,
    now: datetime,
    resource_version: str = "",
    continue_token: str = "",
) -> dict[str, Any]:
    """The `meta.k8s.io/v1` Table of `objects` (all of one kind) as kube-apiserver
    prints them. `crd_columns` (a CRD version's `additionalPrinterColumns`, maybe
    empty) marks a custom kind; None a built-in one. `include_object` is the
    request's `includeObject`: None, Metadata (default) or Object. ValueError
    for an unknown `include_object` or a column whose JSONPath does not parse."""
    if include_object not in INCLUDE_OBJECT:
        raise ValueError(
            f"includeObject {include_object!r} is not supported: use None, Metadata or Object"
        )
    del version  # every served version of a kind prints alike, as in Kubernetes
    if crd_columns is not None:
        column_definitions, printer = _crd_table(crd_columns)
    else:
        columns, printer = _PRINTERS.get((group, kind), (_DEFAULT_COLUMNS, _default))
        column_definitions = [_definition(c) for c in columns]
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": printer(obj, now)}
        if group == "" and kind == "Pod" and crd_columns is None:
            conditions = _POD_CONDITIONS.get(_str(_get(obj, "status", "phase")))
            if conditions:
                row["conditions"] = conditions
        row["object"] = _row_object(obj, include_object)
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": column_definitions,
        "rows": rows,
    }
