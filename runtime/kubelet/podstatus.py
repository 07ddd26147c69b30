"""Building a pod's API status from the kubelet's records (pure functions).

Role: Kubernetes' generateAPIPodStatus in small: phase, conditions,
container statuses, IPs and start time from a `PodRecord`.

Contract:

* Phase (Kubernetes' getPhase): Pending while init containers have not all
  succeeded or an app container has not started yet; Running while any app
  container runs or will be restarted; Succeeded when every app container
  exited 0 and none will restart; Failed when they all stopped, one failed
  and restartPolicy Never keeps it that way (or an init container failed
  under Never, or admission rejected the pod).
* Conditions owned by the kubelet: PodReadyToStartContainers (sandbox up),
  Initialized, ContainersReady, Ready (ContainersReady plus every readiness
  gate's condition True); PodScheduled True when the pod arrived without one
  (created with spec.nodeName). Terminal pods are not ready, with reason
  PodCompleted. A condition keeps its lastTransitionTime while its status
  stays the same. Conditions owned by others (PodScheduled,
  DisruptionTarget, readiness gates) are kept as the API has them.
* Container states: waiting (ContainerCreating, PodInitializing,
  CrashLoopBackOff with a "back-off Ns restarting failed container" message,
  or a config error), running (startedAt), terminated (exit code, signal,
  reason, message, times); lastState is the previous instance's end;
  `started` is the startup probe's verdict (True once running without one);
  `ready` the readiness probe's (True once started without one).

Neighbours: `runtime.kubelet.podstate` (the records), `runtime.kubelet.kubelet`
(writes the result through `update_status`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from engine.api import core
from engine.api.base import copied
from engine.sharing import shared, shared_list
from runtime.kubelet.podstate import ContainerRecord, PodRecord
from runtime.runtimes import protocol as rt

__all__ = ["OWNED_CONDITIONS", "build_status", "compute_phase", "init_progress"]

OWNED_CONDITIONS = ("PodReadyToStartContainers", "Initialized", "ContainersReady", "Ready")


def _terminated_state(status: rt.ContainerStatus) -> core.ContainerStateTerminated:
    return shared(
        core.ContainerStateTerminated,
        exit_code=status.exit_code if status.exit_code is not None else 0,
        signal=status.signal,
        reason=status.reason,
        message=status.message,
        started_at=status.started_at,
        finished_at=status.finished_at,
        container_id=status.container_id,
    )


def _state_of(status: rt.ContainerStatus | None) -> core.ContainerState:
    if status is None:
        return shared(core.ContainerState)
    if status.state == "terminated":
        return shared(core.ContainerState, terminated=_terminated_state(status))
    if status.state == "running":
        running = shared(core.ContainerStateRunning, started_at=status.started_at)
        return shared(core.ContainerState, running=running)
    return _waiting(status.reason or "ContainerCreating")


def _waiting(reason: str, message: str | None = None) -> core.ContainerState:
    waiting = shared(core.ContainerStateWaiting, reason=reason, message=message)
    return shared(core.ContainerState, waiting=waiting)


def init_progress(record: PodRecord) -> tuple[bool, bool]:
    """(all init containers done, an init container failed for good)."""
    for container in record.init_records():
        if container.spec.is_sidecar:
            if not (container.running and container.started):
                return False, False
            continue
        status = container.status
        if status is None or status.state != "terminated":
            return False, False
        if status.exit_code != 0:
            return False, record.pod.spec.restart_policy == "Never"
    return True, False


def compute_phase(record: PodRecord) -> str:
    if record.terminal_phase is not None:
        return record.terminal_phase
    initialized, init_failed = init_progress(record)
    if init_failed:
        return "Failed"
    if not initialized:
        return "Pending"
    policy = record.pod.spec.restart_policy
    running = waiting = stopped = succeeded = 0
    for container in record.app_records():
        status = container.status
        if status is None or status.state == "waiting":
            if container.last_terminated is not None:
                stopped += 1  # between restarts
            else:
                waiting += 1
        elif status.state == "running":
            running += 1
        else:
            stopped += 1
            if status.exit_code == 0:
                succeeded += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if policy == "Always":
        return "Running"
    if policy == "OnFailure":
        return "Succeeded" if stopped == succeeded else "Running"
    return "Succeeded" if stopped == succeeded else "Failed"


def _container_status(
    container: ContainerRecord, pod: core.Pod, default_waiting: str
) -> core.ContainerStatus:
    status = container.status
    last = container.last_terminated
    if status is None:
        state = _waiting(container.waiting_reason or default_waiting, container.waiting_message)
    elif status.state == "terminated" and container.restart_at is not None:
        state = _waiting(
            "CrashLoopBackOff",
            f"back-off {container.backoff_delay:g}s restarting failed "
            f"container={container.name} pod={pod.metadata.name}_"
            f"{pod.metadata.namespace}({pod.metadata.uid})",
        )
        last = status
    elif status.state == "waiting" and container.waiting_reason is not None:
        state = _waiting(container.waiting_reason, container.waiting_message)
    else:
        state = _state_of(status)
    running = container.running
    # Shared: a rebuild of an unchanged container gives back the stored object.
    return shared(
        core.ContainerStatus,
        name=container.name,
        state=state,
        last_state=_state_of(last),
        ready=running and container.ready,
        restart_count=container.restart_count,
        image=container.spec.image or "",
        image_id=(container.spec.image or "") if status is not None else "",
        container_id=status.container_id if status is not None else None,
        started=running and container.started,
    )


def _condition(
    existing: dict[str, core.PodCondition],
    ctype: str,
    ok: bool,
    now: datetime,
    reason: str | None = None,
    message: str | None = None,
) -> core.PodCondition:
    status = "True" if ok else "False"
    old = existing.get(ctype)
    if old is not None and old.status == status and old.reason == reason:
        if old.message == message:
            return old
        transition = old.last_transition_time
    else:
        transition = now if old is None or old.status != status else old.last_transition_time
    return shared(
        core.PodCondition,
        type=ctype,
        status=status,
        reason=None if ok else reason,
        message=None if ok else message,
        last_transition_time=transition,
    )


def _names(containers: Iterable[ContainerRecord]) -> str:
    return "[" + " ".join(c.name for c in containers) + "]"


def build_status(record: PodRecord, host_ip: str, now: datetime) -> core.PodStatus:
    """The status the kubelet reports for `record`'s pod now."""
    pod = record.pod
    current = pod.status
    if record.admission is not None and not record.admission.admitted:
        return copied(
            current,
            {
                "phase": "Failed",
                "reason": record.admission.reason,
                "message": record.admission.message,
                "host_ip": host_ip,
                "host_ips": _host_ips(host_ip),
                "start_time": record.start_time or current.start_time,
            },
        )
    phase = compute_phase(record)
    terminal = phase in ("Succeeded", "Failed")
    initialized, _ = init_progress(record)
    existing = {c.type: c for c in current.conditions}
    incomplete = [c for c in record.init_records() if not _init_done(c)]
    app = record.app_records()
    unready = [c for c in app if not (c.running and c.ready)]
    conditions = [c for c in current.conditions if c.type not in OWNED_CONDITIONS]
    if "PodScheduled" not in existing:
        # A pod created with spec.nodeName never went through a binding.
        conditions.insert(0, _condition(existing, "PodScheduled", True, now))
    conditions.append(_condition(existing, "PodReadyToStartContainers", record.sandbox, now))
    conditions.append(
        _condition(
            existing,
            "Initialized",
            initialized or (terminal and not incomplete),
            now,
            "ContainersNotInitialized",
            f"containers with incomplete status: {_names(incomplete)}",
        )
    )
    if terminal:
        ready_reason, ready_message = "PodCompleted", None
        containers_ready = ready = False
    else:
        ready_reason = "ContainersNotReady"
        ready_message = f"containers with unready status: {_names(unready)}"
        containers_ready = not unready
        gates_ok = all(
            (existing.get(g.condition_type) is not None)
            and existing[g.condition_type].status == "True"
            for g in pod.spec.readiness_gates
        )
        ready = containers_ready and gates_ok
        if containers_ready and not gates_ok:
            ready_reason, ready_message = "ReadinessGatesNotReady", "readiness gates not ready"
    conditions.append(
        _condition(existing, "ContainersReady", containers_ready, now, ready_reason, ready_message)
    )
    conditions.append(_condition(existing, "Ready", ready, now, ready_reason, ready_message))
    init_waiting = "PodInitializing"
    app_waiting = "ContainerCreating" if initialized else "PodInitializing"
    ip = record.pod_ip
    # Every part is a shared value (`engine.sharing`): an unchanged part is the
    # very object the stored status holds, so the new revision shares it and
    # comparing the two statuses is mostly identity tests.
    return copied(
        current,
        {
            "phase": phase,
            "reason": None,
            "message": None,
            "conditions": shared_list(conditions),
            "host_ip": host_ip,
            "host_ips": _host_ips(host_ip),
            "pod_ip": ip,
            "pod_ips": shared_list([shared(core.PodIP, ip=ip)]) if ip else shared_list([]),
            "start_time": record.start_time or current.start_time,
            "init_container_statuses": shared_list(
                [_container_status(c, pod, init_waiting) for c in record.init_records()]
            ),
            "container_statuses": shared_list(
                [_container_status(c, pod, app_waiting) for c in app]
            ),
        },
    )


def _host_ips(host_ip: str) -> list[core.HostIP]:
    return shared_list([shared(core.HostIP, ip=host_ip)])


def _init_done(container: ContainerRecord) -> bool:
    if container.spec.is_sidecar:
        return container.running and container.started
    return container.terminated and container.status is not None and container.status.exit_code == 0
