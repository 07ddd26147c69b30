"""Printers of the workload kinds (kube-apiserver's printers.go): pods with
kubectl's READY/STATUS/RESTARTS rules, pod templates, ReplicationControllers,
ReplicaSets, Deployments, StatefulSets, DaemonSets, ControllerRevisions, Jobs,
CronJobs, HorizontalPodAutoscalers and PodDisruptionBudgets. Importing the
module registers them in `engine.printcells.PRINTERS`.

Neighbours: `engine.printers` (the Table), `engine.printcells` (helpers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from engine.printcells import (
    _AGE,
    _CONTAINERS,
    _IMAGES,
    _NAME,
    Column,
    Row,
    _age,
    _bool_ptr,
    _containers,
    _get,
    _int,
    _int_or_string,
    _items,
    _list,
    _map,
    _name,
    _printer,
    _quantity,
    _selector_string,
    _since,
    _str,
    _time,
    format_label_selector,
    format_labels,
    human_duration,
)


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
    conditions = _items(pod, "status", "conditions")
    for condition in conditions:
        if condition.get("type") == "PodScheduled" and condition.get("reason") == "SchedulingGated":
            reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in _items(spec, "initContainers")}
    total = len(_list(spec, "containers")) + sum(
        1 for c in init_specs.values() if _is_restartable(c)
    )
    ready = restarts = sidecar_restarts = 0
    last_restart: datetime | None = None
    last_sidecar_restart: datetime | None = None
    initializing = False
    init_statuses = _items(pod, "status", "initContainerStatuses")
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
            reason = f"Init:{i}/{len(_list(spec, 'initContainers'))}"
        initializing = True
        break
    if not initializing or _condition_true(conditions, "Initialized"):
        restarts, last_restart = sidecar_restarts, last_sidecar_restart
        has_running = False
        for container in reversed(_items(pod, "status", "containerStatuses")):
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
    ips = _items(pod, "status", "podIPs")
    ip = _str(ips[0].get("ip")) if ips and isinstance(ips[0], Mapping) else ""
    gates = _items(pod, "spec", "readinessGates")
    gates_text = "<none>"
    if gates:
        conditions = _items(pod, "status", "conditions")
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


def _replicas_row(obj: Mapping[str, Any], now: datetime, selector: str) -> Row:
    names, images = _containers(_map(obj, "spec", "template", "spec"))
    return [
        _name(obj),
        _int(_get(obj, "spec", "replicas")),
        _int(_get(obj, "status", "replicas")),
        _int(_get(obj, "status", "readyReplicas")),
        _age(obj, now),
        names,
        images,
        selector,
    ]


@_printer("", "ReplicationController", *_replicas_columns("core.v1.ReplicationController"))
def _replication_controller(obj: Mapping[str, Any], now: datetime) -> Row:
    # A ReplicationController's selector is a plain label map.
    return _replicas_row(obj, now, format_labels(_map(obj, "spec", "selector")))


@_printer("apps", "ReplicaSet", *_replicas_columns("apps.v1.ReplicaSet"))
def _replica_set(obj: Mapping[str, Any], now: datetime) -> Row:
    return _replicas_row(obj, now, format_label_selector(_get(obj, "spec", "selector")))


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
    for ref in _items(obj, "metadata", "ownerReferences"):
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
    conditions = _items(obj, "status", "conditions")

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
    specs = _items(obj, "spec", "metrics")
    statuses = _items(obj, "status", "currentMetrics")
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
