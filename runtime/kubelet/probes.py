"""The kubelet's prober: when to probe, and what the results mean.

Role: one `ProbeWorker` per (container instance, probe type) keeps
Kubernetes' probe semantics; the `Prober` schedules them on the clock and
runs attempts through `ContainerRuntime.run_probe`.

Contract (Kubernetes' defaults and rules):

* Defaults: periodSeconds 10, timeoutSeconds 1, failureThreshold 3,
  successThreshold 1, initialDelaySeconds 0 (from the Probe model).
* The first attempt runs `initialDelaySeconds` after the container started
  running, then one every `periodSeconds`.
* Results flip only after `successThreshold` consecutive successes or
  `failureThreshold` consecutive failures. Initial results: readiness
  failure (not ready), liveness success, startup failure (not started).
* A startup probe gates the others: liveness and readiness workers start
  only once it has succeeded, and it stops probing after its success.
* Liveness or startup failure is reported once; the kubelet kills the
  container, and the worker stops (a new instance gets new workers).
* Named ports (`port: http`) resolve through the container's `ports`; an
  unknown name makes every attempt fail, with a message saying so.

Cost: a worker is a timer. An attempt is a short-lived task, because a real
runtime may take up to timeoutSeconds to answer; the simulated runtime
answers at once.

Neighbours: `runtime.kubelet.kubelet` (starts and stops workers, receives
`on_result`), `runtime.runtimes.protocol` (`ProbeAction`, `run_probe`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from engine.api import core
from engine.clock import Clock, TimerHandle
from engine.logging import get_logger
from runtime.runtimes.protocol import ContainerRuntime, ProbeAction, ProbeType

__all__ = ["ProbeKey", "ProbeWorker", "Prober", "probe_action"]

log = get_logger("kubelet.prober")

ProbeKey = tuple[str, str, ProbeType]  # (pod uid, container name, probe type)
ResultCallback = Callable[[str, str, int, ProbeType, bool], None]
FailureCallback = Callable[[str, str, int, ProbeType, str], None]


def _resolve_port(port: int | str, container: core.Container) -> int | None:
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for declared in container.ports:
        if declared.name == port:
            return declared.container_port
    return None


def probe_action(probe: core.Probe, container: core.Container) -> ProbeAction | str:
    """The runtime's `ProbeAction` for `probe`, or an error message."""
    timeout = float(max(1, probe.timeout_seconds))
    if probe.exec is not None:
        return ProbeAction("exec", command=tuple(probe.exec.command), timeout_seconds=timeout)
    if probe.http_get is not None:
        get = probe.http_get
        port = _resolve_port(get.port, container)
        if port is None:
            return f"unknown named port {get.port!r} in httpGet probe"
        return ProbeAction(
            "httpGet",
            host=get.host,
            port=port,
            path=get.path or "/",
            scheme=get.scheme,
            headers=tuple((h.name, h.value) for h in get.http_headers),
            timeout_seconds=timeout,
        )
    if probe.tcp_socket is not None:
        port = _resolve_port(probe.tcp_socket.port, container)
        if port is None:
            return f"unknown named port {probe.tcp_socket.port!r} in tcpSocket probe"
        return ProbeAction(
            "tcpSocket", host=probe.tcp_socket.host, port=port, timeout_seconds=timeout
        )
    if probe.grpc is not None:
        return ProbeAction(
            "grpc", port=probe.grpc.port, grpc_service=probe.grpc.service, timeout_seconds=timeout
        )
    return "probe has no handler"


@dataclass(slots=True)
class ProbeWorker:
    """Threshold state of one probe of one container instance."""

    pod_uid: str
    container: str
    attempt: int
    probe_type: ProbeType
    probe: core.Probe
    action: ProbeAction | str
    result: bool = field(init=False)
    successes: int = 0
    failures: int = 0
    timer: TimerHandle | None = None
    in_flight: bool = False
    stopped: bool = False

    def __post_init__(self) -> None:
        self.result = self.probe_type == "liveness"

    def record(self, ok: bool) -> bool:
        """Count one attempt; True when the result flipped."""
        if ok:
            self.failures = 0
            self.successes += 1
            if not self.result and self.successes >= max(1, self.probe.success_threshold):
                self.result = True
                return True
        else:
            self.successes = 0
            self.failures += 1
            if self.result and self.failures >= max(1, self.probe.failure_threshold):
                self.result = False
                return True
            if self.probe_type == "startup" and self.failures == max(
                1, self.probe.failure_threshold
            ):
                return True  # startup never succeeded: report the failure once
        return False


class Prober:
    """Probe workers of one kubelet, on its clock and runtime."""

    def __init__(
        self,
        clock: Clock,
        runtime: ContainerRuntime,
        on_result: ResultCallback,
        on_failure: FailureCallback | None = None,
    ) -> None:
        self.clock = clock
        self.runtime = runtime
        self.on_result = on_result
        # Told of every failed attempt with the probe's output (the kubelet
        # records an Unhealthy event for each).
        self.on_failure = on_failure
        self._workers: dict[ProbeKey, ProbeWorker] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.attempts = 0

    def start(
        self,
        pod_uid: str,
        container: core.Container,
        attempt: int,
        probe_type: ProbeType,
        probe: core.Probe,
        running_for: float,
    ) -> None:
        """Start probing; `running_for` is how long the container has been running."""
        key = (pod_uid, container.name, probe_type)
        self._stop_worker(key)
        worker = ProbeWorker(
            pod_uid, container.name, attempt, probe_type, probe, probe_action(probe, container)
        )
        self._workers[key] = worker
        delay = max(0.0, float(probe.initial_delay_seconds or 0) - running_for)
        worker.timer = self.clock.call_later(delay, lambda: self._tick(worker))

    def worker(self, pod_uid: str, container: str, probe_type: ProbeType) -> ProbeWorker | None:
        return self._workers.get((pod_uid, container, probe_type))

    def stop_container(self, pod_uid: str, container: str) -> None:
        for probe_type in ("startup", "liveness", "readiness"):
            self._stop_worker((pod_uid, container, probe_type))

    def stop_probe(self, pod_uid: str, container: str, probe_type: ProbeType) -> None:
        self._stop_worker((pod_uid, container, probe_type))

    def stop_all(self) -> None:
        for key in list(self._workers):
            self._stop_worker(key)
        for task in list(self._tasks):
            task.cancel()
        self._tasks.clear()

    def _stop_worker(self, key: ProbeKey) -> None:
        worker = self._workers.pop(key, None)
        if worker is not None:
            worker.stopped = True
            if worker.timer is not None:
                worker.timer.cancel()
                worker.timer = None

    def _tick(self, worker: ProbeWorker) -> None:
        if worker.stopped:
            return
        worker.timer = self.clock.call_later(
            max(1, worker.probe.period_seconds), lambda: self._tick(worker)
        )
        if worker.in_flight:
            return
        worker.in_flight = True
        task = asyncio.get_running_loop().create_task(self._attempt(worker))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _attempt(self, worker: ProbeWorker) -> None:
        self.attempts += 1
        try:
            if isinstance(worker.action, str):
                ok, output = False, worker.action
            else:
                result = await self.runtime.run_probe(
                    worker.pod_uid, worker.container, worker.probe_type, worker.action
                )
                ok, output = result.ok, result.message
        except Exception as error:  # a broken runtime counts as a failed attempt
            log.warning(
                "probe attempt failed",
                pod_uid=worker.pod_uid,
                container=worker.container,
                probe=worker.probe_type,
                error=repr(error),
            )
            ok, output = False, str(error)
        finally:
            worker.in_flight = False
        if worker.stopped:
            return
        if not ok and self.on_failure is not None:
            self.on_failure(
                worker.pod_uid, worker.container, worker.attempt, worker.probe_type, output
            )
        if worker.record(ok):
            self.on_result(
                worker.pod_uid, worker.container, worker.attempt, worker.probe_type, worker.result
            )
