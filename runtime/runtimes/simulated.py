"""`SimulatedRuntime`: a `ContainerRuntime` whose containers are timers.

Role: the runtime for scale and fuzzing. Each container follows a
`ContainerBehavior` (`runtime.runtimes.behavior`): it starts after a sampled
latency, runs, may exit or crash at a sampled time, answers probes from a
timeline, reports CPU and memory from a profile, and reacts to SIGTERM as
configured. Nothing runs: state changes are `clock.call_later` timers (at
most two per container: the next transition and a pending SIGKILL), never a
task, so thousands of nodes with tens of thousands of containers fit in one
process. Statistics are computed on demand from the profile.

Contract: everything in `runtime.runtimes.protocol`. Decisions specific to
the simulation:

* Deterministic: every sample comes from the injected `random.Random`, in
  the order calls are made; time only from the injected clock.
* A container "exits" by itself with `exit_code` after `exit_after`; with
  probability `crash_probability` an instance instead crashes with
  `crash_exit_code` after `crash_after` (whichever comes first).
* SIGTERM: the container exits 0 `shutdown_after` seconds later, or is
  killed (137, signal 9) when the grace period ends first; with
  `shutdown_after` None it ignores SIGTERM and is killed at the end of the
  grace period. A grace period of 0 kills at once.
* A malformed `sim.kubeloop.io/` annotation fails the start (StartError, exit
  code 128) with a message naming it, like a bad command would.
* Logs are synthetic lines about the container's life (and its probes'
  failures), kept per instance (the last 1000 lines), plus the previous
  instance's for `previous=True`.
* Usage: the `cpu` and `memory` timelines (or half the requests), plus
  `cpu-per-request` millicores for each request per second the pod receives.
  The rate comes from `request_rate(pod_uid)`, a plain callable injected at
  construction (default: no traffic); simulated Service traffic provides
  it. The load part of the cumulative CPU seconds is integrated between
  `stats()` calls at the rate last seen.
* `kill_node()` (a fault control for the simulation harness) drops every
  sandbox at once without events, as a machine that lost power would.

Neighbours: `runtime.runtimes.protocol` (the contract), `runtime.kubelet`
(the caller), `runtime.runtimes.behavior` (policies).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import random
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import replace

from engine.clock import Clock, TimerHandle
from runtime.runtimes.behavior import (
    BehaviorError,
    ContainerBehavior,
    Distribution,
    SimulationPolicy,
    resolve_behavior,
)
from runtime.runtimes.protocol import (
    START_ERROR_EXIT_CODE,
    ContainerConfig,
    ContainerEvent,
    ContainerEventListener,
    ContainerRuntimeError,
    ContainerStats,
    ContainerStatus,
    PodSandboxConfig,
    ProbeAction,
    ProbeResult,
    ProbeType,
)

__all__ = ["RequestRate", "SimulatedRuntime", "no_traffic"]

RequestRate = Callable[[str], float]
"""Requests per second a pod receives now, by pod uid (load-driven CPU)."""


def no_traffic(pod_uid: str) -> float:
    """The default request-rate source: no pod receives requests."""
    return 0.0


SIGKILL_EXIT_CODE = 137
LOG_LINES = 1000
DEFAULT_CPU_MILLIS = 5.0
DEFAULT_MEMORY_BYTES = 16 * 1024 * 1024


class _Container:
    """One instance of a container (a restart replaces it)."""

    __slots__ = (
        "_lines",
        "behavior",
        "changed",
        "config",
        "exit_timer",
        "kill_deadline",
        "kill_timer",
        "lines_written",
        "load_cpu_seconds",
        "load_sampled_at",
        "running_since",
        "status",
    )

    def __init__(
        self, config: ContainerConfig, behavior: ContainerBehavior, status: ContainerStatus
    ) -> None:
        self.config = config
        self.behavior = behavior
        self.status = status
        self.running_since: float | None = None
        self.load_cpu_seconds = 0.0
        self.load_sampled_at: float | None = None
        self.exit_timer: TimerHandle | None = None
        self.kill_timer: TimerHandle | None = None
        self.kill_deadline: float | None = None
        # A list, trimmed in halves, not a deque(maxlen=...): most containers
        # write one line, and an empty deque costs some 600 bytes per container.
        self._lines: list[str] = []
        self.lines_written = 0
        self.changed: asyncio.Event | None = None  # only while someone follows the logs

    @property
    def logs(self) -> list[str]:
        """The last `LOG_LINES` lines, oldest first."""
        lines = self._lines
        return lines[-LOG_LINES:] if len(lines) > LOG_LINES else lines

    def log(self, line: str) -> None:
        lines = self._lines
        lines.append(line)
        if len(lines) >= 2 * LOG_LINES:
            del lines[:LOG_LINES]
        self.lines_written += 1
        self.notify()

    def cancel_timers(self) -> None:
        if self.exit_timer is not None:
            self.exit_timer.cancel()
            self.exit_timer = None
        if self.kill_timer is not None:
            self.kill_timer.cancel()
            self.kill_timer = None

    def notify(self) -> None:
        if self.changed is not None:
            self.changed.set()


class _Sandbox:
    __slots__ = ("config", "containers", "previous")

    def __init__(self, config: PodSandboxConfig) -> None:
        self.config = config
        self.containers: dict[str, _Container] = {}
        self.previous: dict[str, _Container] = {}


class SimulatedRuntime:
    """A container runtime made of timers (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        policy: SimulationPolicy | None = None,
        request_rate: RequestRate | None = None,
    ) -> None:
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.policy = policy or SimulationPolicy()
        self.request_rate: RequestRate = request_rate or no_traffic
        # Containers of run-to-completion pods exit by default; an explicit
        # `exit-after: never` (image or annotation) still overrides it.
        defaults = self.policy.defaults
        if defaults.exit_after is None:
            defaults = replace(defaults, exit_after=self.policy.completes_after)
        self._completion_policy = replace(self.policy, defaults=defaults)
        self._sandboxes: dict[str, _Sandbox] = {}
        self._listener: ContainerEventListener | None = None

    @property
    def version(self) -> str:
        return "simulated://0.1.0"

    def set_event_listener(self, listener: ContainerEventListener | None) -> None:
        self._listener = listener

    # -- sandboxes ---------------------------------------------------------------------

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> None:
        if config.pod_uid not in self._sandboxes:
            self._sandboxes[config.pod_uid] = _Sandbox(config)

    async def stop_pod_sandbox(self, pod_uid: str) -> None:
        sandbox = self._sandboxes.pop(pod_uid, None)
        if sandbox is None:
            return
        for container in sandbox.containers.values():
            container.cancel_timers()
            if container.status.state != "terminated":
                self._terminate(container, SIGKILL_EXIT_CODE, "Error", signal=9, emit=False)

    async def list_pod_sandboxes(self) -> Sequence[str]:
        return list(self._sandboxes)

    def kill_node(self) -> None:
        """Drop every sandbox at once, without events (power loss)."""
        for sandbox in self._sandboxes.values():
            for container in sandbox.containers.values():
                container.cancel_timers()
                container.notify()
        self._sandboxes.clear()

    # -- containers --------------------------------------------------------------------

    async def create_container(self, pod_uid: str, config: ContainerConfig) -> ContainerStatus:
        sandbox = self._sandbox(pod_uid)
        old = sandbox.containers.get(config.name)
        if old is not None:
            if old.status.state != "terminated":
                raise ContainerRuntimeError(
                    f"container {config.name!r} of pod {pod_uid} is still {old.status.state}"
                )
            sandbox.previous[config.name] = old
        digest = hashlib.sha256(f"{pod_uid}/{config.name}/{config.attempt}".encode()).hexdigest()
        status = ContainerStatus(
            pod_uid=pod_uid,
            name=config.name,
            container_id=f"simulated://{digest}",
            state="waiting",
            attempt=config.attempt,
            reason="ContainerCreating",
            created_at=self.clock.now(),
        )
        policy = self.policy
        if sandbox.config.run_to_completion and not config.init:
            policy = self._completion_policy
        try:
            behavior = resolve_behavior(
                policy, config.image, config.name, sandbox.config.annotations
            )
        except BehaviorError as error:
            behavior = replace(policy.defaults, start_error=str(error))
        if config.init and behavior.exit_after is None:
            behavior = replace(behavior, exit_after=_IMMEDIATELY)
        sandbox.containers[config.name] = _Container(config, behavior, status)
        return status

    async def start_container(self, pod_uid: str, name: str) -> None:
        container = self._container(pod_uid, name)
        if container.exit_timer is not None or container.status.started_at is not None:
            raise ContainerRuntimeError(f"container {name!r} of pod {pod_uid} was already started")
        if container.status.state == "terminated":
            raise ContainerRuntimeError(f"container {name!r} of pod {pod_uid} has terminated")
        behavior = container.behavior
        if behavior.start_error is not None:
            container.log(f"failed to start: {behavior.start_error}")
            self._terminate(
                container, START_ERROR_EXIT_CODE, "StartError", message=behavior.start_error
            )
            return
        latency = behavior.start_latency.sample(self.rng)
        container.exit_timer = self.clock.call_later(latency, lambda: self._run(container))

    def _run(self, container: _Container) -> None:
        container.exit_timer = None
        now = self.clock.now()
        container.running_since = self.clock.monotonic()
        container.status = replace(container.status, state="running", reason=None, started_at=now)
        config = container.config
        container.log(f"started {config.image or config.name} (attempt {config.attempt})")
        behavior = container.behavior
        exit_at: tuple[float, int] | None = None
        if behavior.exit_after is not None:
            exit_at = (behavior.exit_after.sample(self.rng), behavior.exit_code)
        if behavior.crash_probability > 0 and self.rng.random() < behavior.crash_probability:
            crash_at = behavior.crash_after.sample(self.rng)
            if exit_at is None or crash_at < exit_at[0]:
                exit_at = (crash_at, behavior.crash_exit_code)
        if exit_at is not None:
            delay, code = exit_at
            container.exit_timer = self.clock.call_later(
                delay, lambda: self._exit_by_itself(container, code)
            )
        self._emit(container)

    def _exit_by_itself(self, container: _Container, code: int) -> None:
        container.exit_timer = None
        container.log(f"exiting with code {code}")
        self._terminate(container, code, "Completed" if code == 0 else "Error")

    async def stop_container(self, pod_uid: str, name: str, grace_period: float) -> None:
        container = self._container(pod_uid, name)
        if container.status.state == "terminated":
            return
        grace = max(0.0, grace_period)
        now = self.clock.monotonic()
        if container.kill_deadline is not None and now + grace >= container.kill_deadline:
            return
        if grace == 0:
            container.log("killed")
            self._terminate(container, SIGKILL_EXIT_CODE, "Error", signal=9)
            return
        first_signal = container.kill_deadline is None
        container.kill_deadline = now + grace
        if container.kill_timer is not None:
            container.kill_timer.cancel()
        container.kill_timer = self.clock.call_later(grace, lambda: self._kill(container))
        if not first_signal:
            return
        container.log("received SIGTERM")
        shutdown = container.behavior.shutdown_after
        if container.status.state == "waiting" or shutdown == 0:
            self._terminate(container, 0, "Completed")
        elif shutdown is not None and shutdown < grace:
            if container.exit_timer is not None:
                container.exit_timer.cancel()
            container.exit_timer = self.clock.call_later(
                shutdown, lambda: self._exit_by_itself(container, 0)
            )

    def _kill(self, container: _Container) -> None:
        container.kill_timer = None
        if container.status.state != "terminated":
            container.log("killed after the grace period")
            self._terminate(container, SIGKILL_EXIT_CODE, "Error", signal=9)

    def _terminate(
        self,
        container: _Container,
        exit_code: int,
        reason: str,
        *,
        signal: int | None = None,
        message: str | None = None,
        emit: bool = True,
    ) -> None:
        container.cancel_timers()
        container.status = replace(
            container.status,
            state="terminated",
            exit_code=exit_code,
            signal=signal,
            reason=reason,
            message=message,
            finished_at=self.clock.now(),
        )
        container.running_since = None
        if emit:
            self._emit(container)
        container.notify()

    def _emit(self, container: _Container) -> None:
        container.notify()
        if self._listener is not None:
            self._listener(ContainerEvent(container.status))

    async def container_status(self, pod_uid: str, name: str) -> ContainerStatus | None:
        sandbox = self._sandboxes.get(pod_uid)
        if sandbox is None:
            return None
        container = sandbox.containers.get(name)
        return container.status if container is not None else None

    # -- probes, logs, stats -----------------------------------------------------------

    async def run_probe(
        self, pod_uid: str, name: str, probe_type: ProbeType, action: ProbeAction
    ) -> ProbeResult:
        container = self._container(pod_uid, name)
        if container.running_since is None:
            return ProbeResult("failure", "container is not running")
        elapsed = self.clock.monotonic() - container.running_since
        behavior = container.behavior
        if probe_type == "startup":
            ok = behavior.startup_probe.at(elapsed)
        elif probe_type == "liveness":
            ok = behavior.liveness_probe.at(elapsed)
        elif behavior.readiness_probe is not None:
            ok = behavior.readiness_probe.at(elapsed)
        else:
            ok = elapsed >= behavior.ready_after
        if ok:
            return ProbeResult("success")
        message = f"simulated {probe_type} probe failure ({action.handler})"
        container.log(message)
        return ProbeResult("failure", message)

    async def logs(
        self,
        pod_uid: str,
        name: str,
        *,
        tail: int | None = None,
        follow: bool = False,
        previous: bool = False,
    ) -> AsyncIterator[str]:
        sandbox = self._sandboxes.get(pod_uid)
        if sandbox is None:
            raise ContainerRuntimeError(f"no sandbox for pod {pod_uid}")
        container = (sandbox.previous if previous else sandbox.containers).get(name)
        if container is None:
            raise ContainerRuntimeError(
                f"no {'previous ' if previous else ''}container {name!r} in pod {pod_uid}"
            )
        lines = list(container.logs)
        if tail is not None:
            lines = lines[-tail:] if tail > 0 else []
        for line in lines:
            yield line
        if not follow or previous:
            return
        seen = container.lines_written
        while container.status.state != "terminated" and self._sandboxes.get(pod_uid) is sandbox:
            if container.changed is None:
                container.changed = asyncio.Event()
            await container.changed.wait()
            container.changed.clear()
            fresh = min(container.lines_written - seen, len(container.logs))
            seen = container.lines_written
            if fresh:
                for line in list(container.logs)[-fresh:]:
                    yield line
        fresh = min(container.lines_written - seen, len(container.logs))
        if fresh:
            for line in list(container.logs)[-fresh:]:
                yield line

    async def stats(self) -> Sequence[ContainerStats]:
        now = self.clock.now()
        now_mono = self.clock.monotonic()
        result: list[ContainerStats] = []
        for sandbox in self._sandboxes.values():
            for container in sandbox.containers.values():
                if container.running_since is None:
                    continue
                elapsed = now_mono - container.running_since
                cpu, cpu_seconds, memory = _usage(container, elapsed)
                per_request = container.behavior.cpu_per_request
                if per_request:
                    load = per_request * self.request_rate(container.status.pod_uid)
                    since = container.load_sampled_at
                    if since is None:
                        since = container.running_since
                    container.load_cpu_seconds += load / 1000.0 * max(0.0, now_mono - since)
                    container.load_sampled_at = now_mono
                    cpu += load
                    cpu_seconds += container.load_cpu_seconds
                status = container.status
                # ContainerStats(pod_uid, name, timestamp, cpu, memory, cpu seconds),
                # made without the named tuple's Python-level __new__ (a metrics
                # round makes one per container of the cluster).
                result.append(
                    _new_stats((status.pod_uid, status.name, now, cpu, memory, cpu_seconds))
                )
        return result

    # -- helpers -----------------------------------------------------------------------

    def _sandbox(self, pod_uid: str) -> _Sandbox:
        sandbox = self._sandboxes.get(pod_uid)
        if sandbox is None:
            raise ContainerRuntimeError(f"no sandbox for pod {pod_uid}")
        return sandbox

    def _container(self, pod_uid: str, name: str) -> _Container:
        container = self._sandbox(pod_uid).containers.get(name)
        if container is None:
            raise ContainerRuntimeError(f"no container {name!r} in pod {pod_uid}")
        return container


_IMMEDIATELY = Distribution.constant(0.0)
_new_stats = functools.partial(tuple.__new__, ContainerStats)


def _usage(container: _Container, elapsed: float) -> tuple[float, float, int]:
    """(cpu millicores now, cumulative cpu seconds, memory bytes now)."""
    behavior = container.behavior
    config = container.config
    if behavior.cpu is not None:
        cpu = behavior.cpu.at(elapsed)
        cpu_seconds = behavior.cpu.integral(elapsed, lambda millis: millis / 1000.0)
    else:
        cpu = config.cpu_millis / 2 if config.cpu_millis else DEFAULT_CPU_MILLIS
        cpu_seconds = cpu / 1000.0 * elapsed
    if behavior.memory is not None:
        memory = behavior.memory.at(elapsed)
    else:
        memory = config.memory_bytes // 2 if config.memory_bytes else DEFAULT_MEMORY_BYTES
    return cpu, cpu_seconds, memory
