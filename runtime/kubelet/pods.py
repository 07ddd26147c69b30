"""The kubelet's pod lifecycle: admit, start, restart, probe, terminate, report.

Role: Kubernetes' SyncPod and pod workers for one node, driven by a dirty
set instead of a goroutine per pod: `sync(uid)` looks at one pod's record
and the API's view of it, makes at most a few quick runtime calls, and
writes the pod's status when it changed. Anything that has to happen later
(a CrashLoopBackOff restart, a retry) is a clock timer that marks the pod
dirty again; runtime events and probe results do the same.

Contract:

* Admission (`runtime.kubelet.admission`) runs once per pod, before
  anything starts; a pod that does not fit is failed with Kubernetes'
  reason and never started.
* Init containers run one at a time, in order, each to success (sidecars,
  init containers with restartPolicy Always, keep running once started);
  then every app container starts. A failed init container is restarted
  (with backoff) unless restartPolicy is Never, which fails the pod.
* restartPolicy Always restarts every exited container, OnFailure those
  that exited non-zero, Never none; every restart waits out the
  CrashLoopBackOff (`runtime.kubelet.backoff`).
* Probes (`runtime.kubelet.probes`): a startup probe holds the others back;
  a liveness (or startup) failure stops the container with the probe's
  terminationGracePeriodSeconds (else the pod's) and it restarts by policy;
  readiness only moves the container's `ready`.
* Graceful deletion: on deletionTimestamp every container gets SIGTERM with
  the pod's deletionGracePeriodSeconds (a shorter one later moves the
  SIGKILL earlier); once all have stopped the sandbox goes, the final status
  (Succeeded if every container exited 0, else Failed) is written and the
  pod is deleted with grace period 0 (uid precondition). A pod removed from
  the API without that (force deletion, garbage collection) has its
  containers killed at once.
* Terminal pods (Succeeded / Failed) keep their status; their containers
  are stopped and their sandbox removed.
* Not (yet) done: in-place changes of a running pod's containers (a new
  image), activeDeadlineSeconds, ephemeral containers, lifecycle hooks.
* Status writes go through `update_status` only when the status changed;
  conditions the kubelet does not own are kept. While the kubelet is cut
  off from the API (`writes_enabled` False) nothing is written; the next
  sync after reconnecting writes what is current.

Neighbours: `runtime.kubelet.kubelet` (owns this, routes events and faults),
`runtime.kubelet.podstatus`, `runtime.kubelet.podstate`,
`runtime.kubelet.containerconfig`, `runtime.runtimes.protocol`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING

from engine.api import core
from engine.api.base import copied
from engine.client import Client
from engine.clock import Clock
from engine.errors import Conflict, NotFound
from engine.logging import get_logger
from engine.podresources import pod_requests
from runtime.kubelet.admission import admit
from runtime.kubelet.backoff import CrashLoopBackOff
from runtime.kubelet.config import KubeletConfig
from runtime.kubelet.containerconfig import ConfigError, container_config
from runtime.kubelet.events import NORMAL, WARNING, KubeletEvents
from runtime.kubelet.ipam import PodAddresses, PodIPAllocator
from runtime.kubelet.podstate import ContainerRecord, PodRecord
from runtime.kubelet.podstatus import build_status, compute_phase, init_progress
from runtime.kubelet.probes import Prober
from runtime.kubelet.volumes import mount_failures, mount_retry_delay
from runtime.runtimes.protocol import (
    ContainerEvent,
    ContainerRuntime,
    PodSandboxConfig,
    ProbeType,
    SandboxAddresses,
)

if TYPE_CHECKING:
    from engine.quantity import Quantity

__all__ = ["PodManager"]

log = get_logger("kubelet.pods")
CONFIG_RETRY_SECONDS = 10.0


def _should_restart(policy: str, exit_code: int | None) -> bool:
    return policy == "Always" or (policy == "OnFailure" and exit_code != 0)


class PodManager:
    """Every pod of one node (see the module docstring)."""

    def __init__(
        self,
        *,
        client: Client,
        runtime: ContainerRuntime,
        clock: Clock,
        config: KubeletConfig,
        node: Callable[[], core.Node | None],
        mark_dirty: Callable[[str], None],
        events: KubeletEvents,
    ) -> None:
        self.client = client
        self.runtime = runtime
        # A runtime that places pods on a network of its own reports their IPs.
        self.addresses = runtime if isinstance(runtime, SandboxAddresses) else None
        self.clock = clock
        self.config = config
        self._node = node
        self._mark_dirty = mark_dirty
        self.records: dict[str, PodRecord] = {}
        self.ipam: PodAddresses = PodIPAllocator(config.pod_cidr)
        self.backoff = CrashLoopBackOff(
            config.crash_loop_initial_backoff, config.crash_loop_max_backoff
        )
        self.prober = Prober(clock, runtime, self.on_probe_result, self.on_probe_failure)
        self.events = events
        self.writes_enabled = True
        self.adoptable: set[str] = set()
        self.status_writes = 0
        self.syncs = 0

    # -- inputs ------------------------------------------------------------------------

    def on_pod(self, pod: core.Pod, deleted: bool) -> None:
        """The API's latest version of one of this node's pods."""
        uid = pod.metadata.uid
        record = self.records.get(uid)
        if deleted:
            if record is not None:
                record.pod = pod
                record.deleted = True
                self._mark_dirty(uid)
            return
        if record is None:
            if pod.is_terminal and uid not in self.adoptable:
                return  # finished before this kubelet took over: nothing to run
            record = self.records[uid] = PodRecord.for_pod(pod)
            _restore_from_api(record)
        elif record.pod is pod:
            return  # our own status write coming back
        else:
            record.pod = pod
        self._mark_dirty(uid)

    def on_container_event(self, event: ContainerEvent) -> None:
        status = event.status
        record = self.records.get(status.pod_uid)
        if record is None:
            return
        container = record.containers.get(status.name)
        if container is None or status.attempt != container.attempt:
            return  # an instance we have already replaced
        container.status = status
        key = (record.uid, container.name)
        if status.state == "running":
            self.backoff.started(key, self.clock.monotonic())
            self._start_probes(record, container, running_for=0.0)
            self.events.container(
                record.pod,
                container.name,
                container.init,
                NORMAL,
                "Started",
                f"Started container {container.name}",
            )
        elif status.state == "terminated":
            if status.reason == "StartError":
                self.events.container(
                    record.pod,
                    container.name,
                    container.init,
                    WARNING,
                    "Failed",
                    f"Error: {status.message or status.reason}",
                )
            self.prober.stop_container(record.uid, container.name)
            container.ready = False
        self._mark_dirty(record.uid)

    def on_probe_result(
        self, pod_uid: str, name: str, attempt: int, probe_type: ProbeType, ok: bool
    ) -> None:
        record = self.records.get(pod_uid)
        container = record.containers.get(name) if record is not None else None
        if record is None or container is None or container.attempt != attempt:
            return
        if not container.running:
            return
        spec = container.spec
        if probe_type == "readiness":
            container.ready = ok
        elif probe_type == "startup" and ok:
            container.started = True
            self.prober.stop_probe(pod_uid, name, "startup")
            self._start_after_startup(record, container, running_for=0.0)
        elif not ok:
            probe = spec.liveness_probe if probe_type == "liveness" else spec.startup_probe
            grace = probe.termination_grace_period_seconds if probe is not None else None
            if grace is None:
                grace = record.pod.spec.termination_grace_period_seconds
            container.kill_grace = float(30 if grace is None else grace)
            self.events.container(
                record.pod,
                name,
                container.init,
                NORMAL,
                "Killing",
                f"Container {name} failed {probe_type} probe, will be restarted",
            )
            log.info(
                f"container failed {probe_type} probe, will be restarted",
                pod=record.pod.metadata.name,
                container=name,
            )
        self._mark_dirty(pod_uid)

    def on_probe_failure(
        self, pod_uid: str, name: str, attempt: int, probe_type: ProbeType, output: str
    ) -> None:
        """One failed probe attempt: an Unhealthy event, as the kubelet's prober records."""
        record = self.records.get(pod_uid)
        container = record.containers.get(name) if record is not None else None
        if record is None or container is None or container.attempt != attempt:
            return
        if self.writes_enabled:
            self.events.probe_failed(record.pod, name, container.init, probe_type, output)

    def _start_probes(
        self, record: PodRecord, container: ContainerRecord, running_for: float
    ) -> None:
        spec = container.spec
        container.started = False
        container.ready = False
        if spec.startup_probe is not None:
            self.prober.start(
                record.uid, spec, container.attempt, "startup", spec.startup_probe, running_for
            )
        else:
            container.started = True
            self._start_after_startup(record, container, running_for)

    def _start_after_startup(
        self, record: PodRecord, container: ContainerRecord, running_for: float
    ) -> None:
        spec = container.spec
        if spec.liveness_probe is not None:
            self.prober.start(
                record.uid, spec, container.attempt, "liveness", spec.liveness_probe, running_for
            )
        if spec.readiness_probe is not None:
            self.prober.start(
                record.uid, spec, container.attempt, "readiness", spec.readiness_probe, running_for
            )
        else:
            container.ready = True

    # -- sync --------------------------------------------------------------------------

    async def sync(self, uid: str) -> None:
        record = self.records.get(uid)
        if record is None:
            return
        self.syncs += 1
        if record.terminating:
            await self._sync_terminating(record)
            return
        if record.finished:
            await self.write_status(record)
            return
        if uid in self.adoptable:
            await self._adopt(record)
        if record.admission is None:
            node = self._node()
            if node is not None:
                others = [
                    r.requests
                    for r in self.records.values()
                    if r is not record
                    and r.admission is not None
                    and r.admission.admitted
                    and not r.finished
                ]
                record.requests = pod_requests(record.pod.spec)
                record.admission = admit(record.pod, node, others, record.requests)
                if not record.admission.admitted:
                    record.terminal_phase = "Failed"
                    record.finished = True
                    log.info(
                        "pod rejected",
                        pod=record.pod.metadata.name,
                        reason=record.admission.reason,
                    )
                    await self.write_status(record)
                    return
        if not record.sandbox:
            if not await self._mount_volumes(record):
                await self.write_status(record)
                return
            await self._run_sandbox(record)
        await self._apply_kills(record)
        await self._start_containers(record)
        phase = compute_phase(record)
        if phase in ("Succeeded", "Failed"):
            record.terminal_phase = phase
            await self._wind_down(
                record, float(record.pod.spec.termination_grace_period_seconds or 0)
            )
        await self.write_status(record)

    async def _mount_volumes(self, record: PodRecord) -> bool:
        """Whether the pod's volumes can be set up; until then FailedMount events
        and a retry with back-off (`runtime.kubelet.volumes`)."""
        if record.volumes_ready:
            return True
        if record.mount_retry_at is not None:
            return False  # a retry timer is pending
        failures = await mount_failures(self.client, record.pod)
        if not failures:
            record.volumes_ready = True
            record.mount_retry_at = None
            return True
        record.mount_failures += 1
        delay = mount_retry_delay(record.mount_failures)
        record.mount_retry_at = self.clock.monotonic() + delay
        self.clock.call_later(delay, lambda: self._mount_retry_due(record))
        if self.writes_enabled:
            for message in failures:
                self.events.pod(record.pod, WARNING, "FailedMount", message)
        return False

    def _mount_retry_due(self, record: PodRecord) -> None:
        record.mount_retry_at = None
        self._mark_dirty(record.uid)

    async def _run_sandbox(self, record: PodRecord) -> None:
        pod = record.pod
        if pod.spec.host_network:
            ip = self.config.internal_ip
        else:
            self._follow_node_cidr()
            ip = self.ipam.allocate(record.uid)
        await self.runtime.run_pod_sandbox(
            PodSandboxConfig(
                pod_uid=record.uid,
                name=pod.metadata.name,
                namespace=pod.metadata.namespace,
                hostname=pod.spec.hostname or pod.metadata.name,
                pod_ip=ip,
                host_network=bool(pod.spec.host_network),
                labels=pod.metadata.labels,
                annotations=pod.metadata.annotations,
                run_to_completion=pod.spec.restart_policy != "Always",
            )
        )
        if self.addresses is not None:  # the address the pod really has
            ip = self.addresses.pod_ip(record.uid)
        record.sandbox = True
        record.pod_ip = ip
        if record.start_time is None:
            record.start_time = self.clock.now()

    async def _apply_kills(self, record: PodRecord) -> None:
        for container in record.containers.values():
            if container.kill_grace is not None:
                grace, container.kill_grace = container.kill_grace, None
                if container.running:
                    self.prober.stop_container(record.uid, container.name)
                    container.ready = False
                    await self._stop(record, container, grace)

    async def _start_containers(self, record: PodRecord) -> None:
        initialized, init_failed = init_progress(record)
        if init_failed:
            return
        policy = record.pod.spec.restart_policy
        if not initialized:
            for container in record.init_records():
                if container.spec.is_sidecar:
                    if container.status is None or container.terminated:
                        await self._start(record, container)
                    if not (container.running and container.started):
                        return
                    continue
                status = container.status
                if status is None:
                    await self._start(record, container)
                    return
                if status.state != "terminated":
                    return
                if status.exit_code == 0:
                    continue
                await self._start(record, container)  # policy is not Never here
                return
            return
        for container in record.init_records():
            if container.spec.is_sidecar and container.terminated:
                await self._start(record, container)
        for container in record.app_records():
            status = container.status
            if status is None or (
                status.state == "terminated" and _should_restart(policy, status.exit_code)
            ):
                await self._start(record, container)

    async def _start(self, record: PodRecord, container: ContainerRecord) -> None:
        """Create and start a container's next instance, unless it must wait."""
        now = self.clock.monotonic()
        previous = container.status
        if previous is not None:
            if previous.state != "terminated":
                return
            if container.restart_at is None:
                finished = now
                if previous.finished_at is not None:
                    finished = now - (self.clock.now() - previous.finished_at).total_seconds()
                delay = self.backoff.next_delay((record.uid, container.name), finished)
                container.backoff_delay = delay
                container.restart_at = finished + delay
            if now < container.restart_at:
                if container.backoff_timer is None:
                    self.events.back_off(record.pod, container.name, container.init)
                    uid = record.uid
                    container.backoff_timer = self.clock.call_later(
                        container.restart_at - now, lambda: self._backoff_over(uid, container)
                    )
                return
            container.cancel_backoff()
        node = self._node()
        allocatable: dict[str, Quantity] = dict(node.status.allocatable) if node else {}
        config = await container_config(
            self.client,
            record.pod,
            container.spec,
            init=container.init,
            attempt=container.attempt + 1,
            pod_ip=record.pod_ip or "",
            host_ip=self.config.internal_ip,
            allocatable=allocatable,
        )
        if isinstance(config, ConfigError):
            if config.reason != "InvalidImageName":
                self.events.image(record.pod, container.spec, container.init)
            self.events.create_failed(
                record.pod, container.spec, container.init, config.reason, config.message
            )
            container.waiting_reason = config.reason
            container.waiting_message = config.message
            uid = record.uid
            self.clock.call_later(CONFIG_RETRY_SECONDS, lambda: self._mark_dirty(uid))
            return
        if previous is not None:
            container.last_terminated = previous
        container.attempt += 1
        container.waiting_reason = container.waiting_message = None
        container.started = container.ready = False
        container.kill_grace = container.stop_deadline = None
        self.events.image(record.pod, container.spec, container.init)
        container.status = await self.runtime.create_container(record.uid, config)
        self.events.container(
            record.pod,
            container.name,
            container.init,
            NORMAL,
            "Created",
            f"Created container: {container.name}",
        )
        await self.runtime.start_container(record.uid, container.name)

    def _backoff_over(self, uid: str, container: ContainerRecord) -> None:
        container.backoff_timer = None
        self._mark_dirty(uid)

    async def _stop(self, record: PodRecord, container: ContainerRecord, grace: float) -> None:
        deadline = self.clock.monotonic() + grace
        if container.stop_deadline is not None and deadline >= container.stop_deadline:
            return
        container.stop_deadline = deadline
        await self.runtime.stop_container(record.uid, container.name, grace)

    async def _wind_down(self, record: PodRecord, grace: float) -> bool:
        """Stop every container and, once all have stopped, the sandbox. True when done."""
        for container in record.containers.values():
            container.cancel_backoff()
            self.prober.stop_container(record.uid, container.name)
            if container.status is not None and container.status.state != "terminated":
                container.ready = False
                if container.stop_deadline is None:
                    self.events.container(
                        record.pod,
                        container.name,
                        container.init,
                        NORMAL,
                        "Killing",
                        f"Stopping container {container.name}",
                    )
                await self._stop(record, container, grace)
        if any(c.status is not None and not c.terminated for c in record.containers.values()):
            return False
        if record.sandbox:
            await self.runtime.stop_pod_sandbox(record.uid)
            self.ipam.release(record.uid)
            record.sandbox = False
        self.backoff.forget_pod(record.uid)
        record.finished = True
        return True

    async def _sync_terminating(self, record: PodRecord) -> None:
        pod = record.pod
        if record.deleted:
            grace = 0.0
        else:
            grace = float(pod.metadata.deletion_grace_period_seconds or 0)
        if not await self._wind_down(record, grace):
            if not record.deleted:  # a pod gone from the API has no status to write
                await self.write_status(record)
            return
        if record.deleted:
            self.records.pop(record.uid, None)
            return
        if not self.writes_enabled:
            return  # finish the deletion once the API is reachable again
        if record.terminal_phase is None:
            exits = [c.status.exit_code for c in record.app_records() if c.status is not None]
            record.terminal_phase = (
                "Succeeded" if exits and all(code == 0 for code in exits) else "Failed"
            )
        await self.write_status(record)
        # NotFound: already gone; Conflict: a new pod of the same name.
        with contextlib.suppress(NotFound, Conflict):
            await self.client.delete(
                core.Pod,
                pod.metadata.name,
                namespace=pod.metadata.namespace,
                grace_period_seconds=0,
                uid=record.uid,
            )
        self.records.pop(record.uid, None)

    def _follow_node_cidr(self) -> None:
        node = self._node()
        cidr = node.spec.pod_cidr if node is not None else None
        if cidr:
            self.ipam.follow(cidr)

    async def _adopt(self, record: PodRecord) -> None:
        """Take over containers a previous life of this kubelet left running."""
        self.adoptable.discard(record.uid)
        record.sandbox = True
        known = record.pod.status.pod_ip
        if record.pod.spec.host_network:
            record.pod_ip = self.config.internal_ip
        elif known:
            self._follow_node_cidr()
            record.pod_ip = self.ipam.reserve(record.uid, known)
        else:
            record.pod_ip = self.ipam.allocate(record.uid)
        for container in record.containers.values():
            status = await self.runtime.container_status(record.uid, container.name)
            if status is None:
                continue
            container.status = status
            container.attempt = status.attempt
            container.restored_restarts = 0
            if status.state == "running":
                running_for = 0.0
                if status.started_at is not None:
                    running_for = (self.clock.now() - status.started_at).total_seconds()
                self.backoff.started((record.uid, container.name), self.clock.monotonic())
                self._start_probes(record, container, running_for)

    # -- status ------------------------------------------------------------------------

    async def write_status(self, record: PodRecord) -> None:
        if not self.writes_enabled:
            return
        status = build_status(record, self.config.internal_ip, self.clock.now())
        if status == record.pod.status:
            return
        was_terminating = record.terminating
        for _ in range(3):
            try:
                # A shallow copy (no validation: the stored pod and a status
                # built from shared values); the store takes it over.
                written = await self.client.update_status(copied(record.pod, {"status": status}))
                self.status_writes += 1
                # While the write was in flight, the watch may have brought a
                # newer version (a deletion, say): never step back to ours.
                if _resource_version(written) >= _resource_version(record.pod):
                    record.pod = written
                if record.terminating and not was_terminating:
                    # Ours carries a deletion the watch will not report again
                    # (its event is this very object): act on it now.
                    self._mark_dirty(record.uid)
                return
            except Conflict:
                fresh = await self._fetch(record)
                if fresh is None:
                    return
                record.pod = fresh
                status = build_status(record, self.config.internal_ip, self.clock.now())
            except NotFound:
                # Gone from the API: finish it once (marking it again from here
                # would spin the node agent without yielding while its
                # containers take their time to exit).
                if not record.deleted:
                    record.deleted = True
                    self._mark_dirty(record.uid)
                return

    async def _fetch(self, record: PodRecord) -> core.Pod | None:
        namespace, name = record.key
        try:
            pod = await self.client.get(core.Pod, name, namespace=namespace)
        except NotFound:
            pod = None
        if pod is None or pod.metadata.uid != record.uid:
            record.deleted = True
            self._mark_dirty(record.uid)
            return None
        return pod

    # -- faults ------------------------------------------------------------------------

    def find(self, namespace: str, name: str) -> PodRecord | None:
        for record in self.records.values():
            if record.key == (namespace, name):
                return record
        return None

    def reset(self) -> None:
        """Forget everything (the kubelet process died); timers are cancelled."""
        self.prober.stop_all()
        for record in self.records.values():
            for container in record.containers.values():
                container.cancel_backoff()
        self.records.clear()
        self.adoptable.clear()
        self.ipam = PodIPAllocator(self.config.pod_cidr)
        self.backoff = CrashLoopBackOff(
            self.config.crash_loop_initial_backoff, self.config.crash_loop_max_backoff
        )


def _restore_from_api(record: PodRecord) -> None:
    """Carry restart counts and the start time over from the API's status, for a
    pod this kubelet (re)discovers while it was already running elsewhere in
    time (a kubelet restart)."""
    status = record.pod.status
    record.start_time = status.start_time
    for api in (*status.init_container_statuses, *status.container_statuses):
        container = record.containers.get(api.name)
        if container is None:
            continue
        ran = api.state.running is not None or api.state.terminated is not None
        ran = ran or api.last_state.terminated is not None
        if ran:
            container.restored_restarts = api.restart_count + 1


def _resource_version(pod: core.Pod) -> int:
    return int(pod.metadata.resource_version or 0)
