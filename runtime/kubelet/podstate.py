"""What the kubelet remembers about each pod and container it runs.

Role: plain mutable records, owned by one kubelet and touched only from its
event loop: `PodRecord` per pod uid, `ContainerRecord` per container name.
They hold what the API cannot tell the kubelet (runtime state, restart
bookkeeping, probe results) and what the kubelet has decided (admission,
terminal phase, termination in progress).

Invariants:
* `ContainerRecord.status` is the runtime's status of the current instance
  (None before the first one is created); `attempt` is that instance's
  number, which is also the container's restartCount.
* `last_terminated` is the final status of the instance before the current
  one (Kubernetes' lastState), or the current one's while a restart is
  pending.
* `restart_at` is set exactly while a restart waits out its CrashLoopBackOff.

Neighbours: `runtime.kubelet.kubelet` (mutates), `runtime.kubelet.podstatus`
(reads, to build the API status).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from engine.api import core
from engine.clock import TimerHandle
from runtime.kubelet.admission import AdmitResult
from runtime.runtimes import protocol as rt

__all__ = ["ContainerRecord", "PodRecord"]


@dataclass(slots=True)
class ContainerRecord:
    spec: core.Container
    init: bool
    status: rt.ContainerStatus | None = None
    attempt: int = -1
    last_terminated: rt.ContainerStatus | None = None
    restart_at: float | None = None
    backoff_delay: float = 0.0
    backoff_timer: TimerHandle | None = None
    waiting_reason: str | None = None
    waiting_message: str | None = None
    started: bool = False
    ready: bool = False
    kill_grace: float | None = None  # the kubelet decided to stop it (probe failure)
    stop_deadline: float | None = None  # monotonic time its SIGKILL is due, once stopping
    restored_restarts: int = 0  # restartCount the API showed when this kubelet took over

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def state(self) -> rt.ContainerState | None:
        return self.status.state if self.status is not None else None

    @property
    def restart_count(self) -> int:
        return max(0, self.attempt) + self.restored_restarts

    @property
    def running(self) -> bool:
        return self.status is not None and self.status.state == "running"

    @property
    def terminated(self) -> bool:
        return self.status is not None and self.status.state == "terminated"

    def cancel_backoff(self) -> None:
        if self.backoff_timer is not None:
            self.backoff_timer.cancel()
            self.backoff_timer = None
        self.restart_at = None


@dataclass(slots=True)
class PodRecord:
    uid: str
    pod: core.Pod
    deleted: bool = False  # gone from the API
    admission: AdmitResult | None = None
    sandbox: bool = False
    pod_ip: str | None = None
    start_time: datetime | None = None
    containers: dict[str, ContainerRecord] = field(default_factory=dict)
    terminal_phase: str | None = None  # Succeeded / Failed once decided
    finished: bool = False  # terminal or terminated: containers stopped, sandbox removed
    last_written: core.PodStatus | None = None
    requests: dict[str, int] = field(default_factory=dict)  # effective, once admitted
    volumes_ready: bool = False  # every volume could be set up (runtime.kubelet.volumes)
    mount_failures: int = 0  # failed set-up attempts so far (their back-off)
    mount_retry_at: float | None = None  # monotonic time of the next attempt

    @property
    def key(self) -> tuple[str, str]:
        return (self.pod.metadata.namespace, self.pod.metadata.name)

    @property
    def terminating(self) -> bool:
        return self.deleted or self.pod.metadata.deletion_timestamp is not None

    def init_records(self) -> list[ContainerRecord]:
        return [self.containers[c.name] for c in self.pod.spec.init_containers]

    def app_records(self) -> list[ContainerRecord]:
        return [self.containers[c.name] for c in self.pod.spec.containers]

    @classmethod
    def for_pod(cls, pod: core.Pod) -> PodRecord:
        record = cls(pod.metadata.uid, pod)
        for container in pod.spec.init_containers:
            record.containers[container.name] = ContainerRecord(container, init=True)
        for container in pod.spec.containers:
            record.containers[container.name] = ContainerRecord(container, init=False)
        return record
