"""The container runtime protocol: what a kubelet needs from a runtime, and nothing more.

Role: the seam between `runtime.kubelet` (which owns Kubernetes semantics:
restart policy, CrashLoopBackOff, probe thresholds, pod phase and conditions)
and a runtime (which owns containers: starting, stopping, observing them).
Implemented by `runtime.runtimes.simulated.SimulatedRuntime`,
`runtime.runtimes.process.ProcessRuntime`, and by users. It is a slimmed CRI:
one sandbox per pod, containers addressed by `(pod_uid, container_name)`.

Contract (every implementation keeps all of it):

* **One runtime instance per node**, used by one kubelet, on one event loop.
  All time comes from the clock the runtime was constructed with; all
  randomness from its injected `random.Random`.
* **Calls are quick.** No method waits for a container to become running or to
  exit. `start_container` and `stop_container` *initiate*; the outcome is
  reported through the event listener (`set_event_listener`) and by
  `container_status`. (A kubelet drives thousands of containers from one task;
  a call that waited for a 30 s grace period would stall all of them.)
* **Events.** Whenever a container's state changes (waiting -> running,
  running -> terminated, or a start that failed) the runtime calls the
  listener with a `ContainerEvent` carrying the new `ContainerStatus`. The
  listener is a plain function, called on the loop (never from another
  thread); it must be quick and must not raise. Events for one container are
  delivered in order. A runtime may call it synchronously from within a method
  call (e.g. a failed start reported from `start_container`).
* **Sandbox.** `run_pod_sandbox` is called once before any container of the pod
  is created (calling it again for a live sandbox is a no-op).
  `stop_pod_sandbox` kills every container of the pod at once (no grace: the
  kubelet has already stopped them gracefully if it wanted to), drops the pod's
  state (statuses, logs, stats) and is idempotent; unknown pods are ignored.
* **Containers.** `create_container` creates (does not start) a container; if
  a container of that name already exists in the pod, it must be terminated,
  and it is replaced: its logs become the `previous=True` logs, and `attempt`
  (from the config) identifies the new instance. `start_container` starts the
  created container; a container that cannot start (command not found, bad
  working directory, ...) is reported as *terminated* with reason
  `"StartError"`, exit code 128 and a message, exactly like containerd - never
  as an exception. Exceptions (`ContainerRuntimeError`) are for misuse: an unknown pod
  or container, or starting a container twice.
* **Stopping.** `stop_container(pod_uid, name, grace_period)` delivers SIGTERM
  (or the simulated equivalent), and if the container has not exited after
  `grace_period` seconds, SIGKILL. `grace_period=0` kills at once. Stopping a
  terminated container is a no-op; a container still waiting to start never
  starts and is reported terminated as if it had been signalled; stopping one that is already
  stopping only moves the SIGKILL earlier if the new grace period ends sooner
  (a pod deleted again with a shorter grace period). Exit codes follow the shell
  convention: a container killed by signal N exits with 128+N (137 for
  SIGKILL, 143 for SIGTERM); reason is `"Completed"` for exit code 0, else
  `"Error"` (`"OOMKilled"` where the runtime knows).
* **Status.** `container_status` returns the latest `ContainerStatus` or None
  for an unknown container. `state` is `"waiting"` (created, or starting: the
  simulated runtime models start latency this way), `"running"` or
  `"terminated"`. Times are the runtime clock's `now()`.
* **Probes run in the runtime** (`run_probe`): the kubelet owns timing
  (initialDelaySeconds, periodSeconds, thresholds) and calls `run_probe` once
  per probe period; the runtime executes one attempt and returns a
  `ProbeResult`. The kubelet has already resolved named ports to numbers.
  `ProbeAction.host` None means "the pod's own address" (a process runtime
  uses 127.0.0.1; the simulated runtime ignores it). The runtime enforces
  `timeout_seconds`: an attempt that does not answer in time is a failure with
  message "timeout". exec probes: exit code 0 is success. httpGet: a status
  in 200..399 is success. tcpSocket: a connection that opens is success.
  Probing a container that is not running returns failure. This is the only
  method allowed to take a while (up to `timeout_seconds`); the kubelet runs
  each attempt in a short-lived task.
* **Logs.** `logs(pod_uid, name, tail=, follow=, previous=)` is an async
  iterator of lines (stdout and stderr interleaved in arrival order, without
  trailing newlines). `tail=N` starts N lines from the end; `follow=True` keeps
  yielding new lines until the container terminates (or the sandbox is
  stopped). `previous=True` reads the instance before the last restart.
  Unknown containers raise `ContainerRuntimeError`.
* **Stats.** `stats()` reports current usage of every running container of
  the node (CPU as a rate in millicores, memory working set in bytes,
  cumulative CPU seconds); the kubelet sums them for the node.
* **Inventory.** `list_pod_sandboxes()` returns the uids of every live
  sandbox, so a restarted kubelet can find and remove orphans.

Neighbours: `runtime.kubelet` (the only caller), `engine.clock`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, NamedTuple, Protocol, runtime_checkable

__all__ = [
    "START_ERROR_EXIT_CODE",
    "ContainerConfig",
    "ContainerEvent",
    "ContainerEventListener",
    "ContainerRuntime",
    "ContainerRuntimeError",
    "ContainerState",
    "ContainerStats",
    "ContainerStatus",
    "PodSandboxConfig",
    "PortMapping",
    "ProbeAction",
    "ProbeOutcome",
    "ProbeResult",
    "ProbeType",
    "SandboxAddresses",
]

ContainerState = Literal["waiting", "running", "terminated"]
ProbeType = Literal["startup", "liveness", "readiness"]
ProbeOutcome = Literal["success", "failure"]

START_ERROR_EXIT_CODE = 128
"""Exit code of a container whose process could not be started (containerd's)."""


class ContainerRuntimeError(Exception):
    """Misuse of a runtime: unknown pod or container, double start."""


@dataclass(frozen=True, slots=True)
class PodSandboxConfig:
    """The pod-level environment its containers share.

    `pod_ip` is assigned by the kubelet (from the node's podCIDR, or the node's
    address for hostNetwork pods). `annotations` carry per-pod runtime policy
    (the simulated runtime reads `sim.kubeloop.io/...` keys).
    """

    pod_uid: str
    name: str
    namespace: str
    hostname: str
    pod_ip: str
    host_network: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    run_to_completion: bool = False
    """The pod's restartPolicy is Never or OnFailure (a Job's pod)."""


@dataclass(frozen=True, slots=True)
class PortMapping:
    """A port a container declares (`ports[]`), resolved to plain values."""

    container_port: int
    name: str | None = None
    protocol: str = "TCP"
    host_port: int | None = None


@dataclass(frozen=True, slots=True)
class ProbeAction:
    """One probe attempt, resolved by the kubelet: exactly one handler's fields apply.

    * `exec`: `command` runs inside the container (process runtime: with the
      container's env and working directory).
    * `httpGet`: GET `scheme://host:port/path` with `headers`.
    * `tcpSocket`: open a TCP connection to `host:port`.
    * `grpc`: the gRPC health check on `port` (`grpc_service`).
    """

    handler: Literal["exec", "httpGet", "tcpSocket", "grpc"]
    command: tuple[str, ...] = ()
    host: str | None = None
    port: int | None = None
    path: str = "/"
    scheme: str = "HTTP"
    headers: tuple[tuple[str, str], ...] = ()
    grpc_service: str | None = None
    timeout_seconds: float = 1.0


@dataclass(frozen=True, slots=True)
class ContainerConfig:
    """What the runtime needs to create one container.

    `command` is the entrypoint (the container's `command`; empty means the
    image's default), `args` its arguments (`args`); the process runtime runs
    `command + args`, and fails the start if both are empty. `env` is fully
    resolved (valueFrom already looked up). `probes` lets a runtime know, ahead
    of time, which probes will be asked for (the simulated runtime keys
    outcome policies on them); the kubelet still calls `run_probe` for every
    attempt. `attempt` is the restart count this instance starts with.
    `cpu_millis`/`memory_bytes` are the container's requests (0 when unset)
    and `*_limit` its limits (None when unset).
    """

    name: str
    image: str = ""
    command: tuple[str, ...] = ()
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    ports: tuple[PortMapping, ...] = ()
    probes: Mapping[ProbeType, ProbeAction] = field(default_factory=dict)
    init: bool = False
    attempt: int = 0
    cpu_millis: int = 0
    memory_bytes: int = 0
    cpu_limit_millis: int | None = None
    memory_limit_bytes: int | None = None
    termination_message_path: str = "/dev/termination-log"


@dataclass(frozen=True, slots=True)
class ContainerStatus:
    """A container's state as the runtime sees it.

    `reason` for terminated: "Completed" (exit 0), "Error", "OOMKilled",
    "StartError"; for waiting: "ContainerCreating" (or None). `message` is the
    termination message (or the start error). `container_id` is
    `"<runtime>://<id>"` as Kubernetes shows it.
    """

    pod_uid: str
    name: str
    container_id: str
    state: ContainerState
    attempt: int = 0
    exit_code: int | None = None
    signal: int | None = None
    reason: str | None = None
    message: str | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ContainerEvent:
    """A container changed state; `status` is its new status."""

    status: ContainerStatus

    @property
    def pod_uid(self) -> str:
        return self.status.pod_uid

    @property
    def name(self) -> str:
        return self.status.name


ContainerEventListener = Callable[[ContainerEvent], None]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    outcome: ProbeOutcome
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "success"


class ContainerStats(NamedTuple):
    """Resource usage of one running container at `timestamp`.

    `cpu_millicores` is the current rate (1000 = one core busy);
    `cpu_usage_core_seconds` the cumulative CPU time since the container
    started; `memory_working_set_bytes` what metrics-server reports as memory.
    An immutable named tuple rather than a frozen dataclass: a metrics round
    makes one per container of the cluster, and a tuple is made four times
    faster.
    """

    pod_uid: str
    name: str
    timestamp: datetime
    cpu_millicores: float
    memory_working_set_bytes: int
    cpu_usage_core_seconds: float = 0.0


@runtime_checkable
class SandboxAddresses(Protocol):
    """A runtime that decides its sandboxes' addresses itself (the process
    runtime's pod networks); the kubelet reports `pod_ip(uid)` as the pod's IP
    instead of the one it assigned."""

    def pod_ip(self, pod_uid: str) -> str: ...


@runtime_checkable
class ContainerRuntime(Protocol):
    """What a kubelet needs from a container runtime (see the module docstring)."""

    @property
    def version(self) -> str:
        """`"<name>://<version>"`, shown as nodeInfo.containerRuntimeVersion."""
        ...

    def set_event_listener(self, listener: ContainerEventListener | None) -> None:
        """Receive every container state change (replaces any earlier listener)."""
        ...

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> None: ...

    async def stop_pod_sandbox(self, pod_uid: str) -> None: ...

    async def list_pod_sandboxes(self) -> Sequence[str]: ...

    async def create_container(self, pod_uid: str, config: ContainerConfig) -> ContainerStatus: ...

    async def start_container(self, pod_uid: str, name: str) -> None: ...

    async def stop_container(self, pod_uid: str, name: str, grace_period: float) -> None: ...

    async def container_status(self, pod_uid: str, name: str) -> ContainerStatus | None: ...

    async def run_probe(
        self, pod_uid: str, name: str, probe_type: ProbeType, action: ProbeAction
    ) -> ProbeResult: ...

    def logs(
        self,
        pod_uid: str,
        name: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        previous: bool = False,
    ) -> AsyncIterator[str]: ...

    async def stats(self) -> Sequence[ContainerStats]: ...
