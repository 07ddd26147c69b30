"""`Kubelet`: the node agent of one node, and its fault controls.

Role: registers the node, keeps its Lease and NodeStatus fresh, watches the
pods bound to it and runs them through a `ContainerRuntime`
(`runtime.kubelet.pods`), and reports resource usage. Everything a kubelet
does is work on a small queue: pods marked dirty (by pod events, runtime
events, probe results, backoff timers) and a due heartbeat (a clock timer).
`process()` drains that queue; *who* calls it is pluggable:

* standalone: `await kubelet.run()` runs its own pod watch (field selector
  `spec.nodeName=<node>`) and one task that processes work as it comes;
* pooled: `runtime.kubelet.pool.NodeAgentPool` shares one pod informer and
  one worker task among thousands of kubelets.

So a kubelet costs no task of its own in a pool, and no task per pod or
container anywhere: waiting is done by timers (heartbeat, backoff, probe
periods); only a probe attempt runs as a short-lived task.

Fault controls (what the simulation harness drives):

* `stop()`: the node shuts down: heartbeats stop, every container gets
  SIGTERM with its pod's grace period, nothing more is written.
* `crash()`: the node dies: heartbeats stop, every sandbox is removed at
  once (containers killed), the kubelet forgets everything.
* `partition()`: the node loses the API: heartbeats and status writes stop,
  pod changes are not seen, containers keep running (and restarting).
* `restore()`: ends a partition (heartbeat and status at once, then a full
  resync of the node's pods), or starts a stopped or crashed kubelet again
  (registration, a new bootID, a resync that restarts what should run).
* `kill_container(namespace, pod, container)`: SIGKILL one container (exit
  137); it is restarted by its pod's restartPolicy.

Time comes only from the injected clock and randomness (heartbeat jitter,
boot ids) only from the injected RNG.

Neighbours: `runtime.kubelet.pods` (pod lifecycle), `runtime.kubelet.heartbeat`
(Lease and NodeStatus), `runtime.kubelet.podsource` (pod watch),
`runtime.kubelet.pool` (many kubelets), `runtime.runtimes.protocol`.
"""

from __future__ import annotations

import asyncio
import functools
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import anyio

from engine.api import core
from engine.client import Client
from engine.clock import Clock, TimerHandle
from engine.events import EventRecorder
from engine.informer import SharedInformer
from engine.logging import get_logger
from runtime.kubelet.config import KubeletConfig
from runtime.kubelet.events import KubeletEvents
from runtime.kubelet.heartbeat import Heartbeat
from runtime.kubelet.pods import PodManager
from runtime.kubelet.podsource import InformerPodSource, PodSource
from runtime.runtimes.protocol import ContainerEvent, ContainerRuntime, ContainerStats

__all__ = ["ContainerUsage", "Kubelet", "KubeletStatistics", "NodeUsage"]

log = get_logger("kubelet")
RETRY_SECONDS = 1.0
KubeletState = Literal["new", "running", "stopped", "crashed"]


@dataclass(frozen=True, slots=True)
class KubeletStatistics:
    node_name: str
    state: KubeletState
    partitioned: bool
    pods: int
    lease_renewals: int
    status_posts: int
    pod_syncs: int
    pod_status_writes: int
    probe_attempts: int
    errors: int


@dataclass(frozen=True, slots=True)
class ContainerUsage:
    namespace: str
    pod: str
    container: str
    cpu_millicores: float
    memory_bytes: int
    cpu_usage_core_seconds: float


@dataclass(frozen=True, slots=True)
class NodeUsage:
    """Resource usage of a node and its containers (the kubelet's stats summary)."""

    node_name: str
    timestamp: datetime
    cpu_millicores: float
    memory_bytes: int
    containers: tuple[ContainerUsage, ...]


class Kubelet:
    """One node's agent (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        runtime: ContainerRuntime,
        config: KubeletConfig,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        pod_source: PodSource | None = None,
        recorder: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.runtime = runtime
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random(config.node_name)
        self.node_name = config.node_name
        self.heartbeat = Heartbeat(client, clock, config, runtime.version)
        # A pool shares one recorder among its kubelets and runs it; a
        # standalone kubelet runs its own (`run()`).
        self._own_recorder = recorder is None
        self.recorder = EventRecorder(client, clock, "kubelet") if recorder is None else recorder
        self.events = KubeletEvents(
            self.recorder, config.node_name, lambda: self.pods.writes_enabled
        )
        self.heartbeat.on_posted = self.events.node_status
        self.pods = PodManager(
            client=client,
            runtime=runtime,
            clock=clock,
            config=config,
            node=lambda: self.heartbeat.node,
            mark_dirty=self.mark_dirty,
            events=self.events,
        )
        self._source = pod_source
        self._state: KubeletState = "new"
        self._partitioned = False
        self._dirty: dict[str, None] = {}
        self._heartbeat_due = False
        self._heartbeat_timer: TimerHandle | None = None
        self._life = 0  # bumped whenever the kubelet starts or dies: stale work is dropped
        self._wake_hook: Callable[[Kubelet], None] = Kubelet._wake_self
        self._event: asyncio.Event | None = None
        self.errors = 0

    # -- state -------------------------------------------------------------------------

    @property
    def state(self) -> KubeletState:
        return self._state

    @property
    def partitioned(self) -> bool:
        return self._partitioned

    @property
    def node(self) -> core.Node | None:
        """The Node as this kubelet last read or wrote it."""
        return self.heartbeat.node

    def statistics(self) -> KubeletStatistics:
        hb = self.heartbeat
        return KubeletStatistics(
            node_name=self.node_name,
            state=self._state,
            partitioned=self._partitioned,
            pods=len(self.pods.records),
            lease_renewals=hb.lease_renewals,
            status_posts=hb.status_posts,
            pod_syncs=self.pods.syncs,
            pod_status_writes=self.pods.status_writes,
            probe_attempts=self.pods.prober.attempts,
            errors=self.errors + hb.errors,
        )

    # -- driving -----------------------------------------------------------------------

    def attach(self, pod_source: PodSource, wake: Callable[[Kubelet], None]) -> None:
        """Let a pool drive this kubelet: its pods come from `pod_source`, and
        `wake(kubelet)` is called whenever it has work for `process()`."""
        self._source = pod_source
        self._wake_hook = wake

    def mark_dirty(self, uid: str) -> None:
        self._dirty[uid] = None
        self._wake_hook(self)

    def _wake_self(self) -> None:
        if self._event is not None:
            self._event.set()

    @property
    def has_work(self) -> bool:
        return self._state == "running" and (self._heartbeat_due or bool(self._dirty))

    async def process(self) -> None:
        """Do all pending work: a due heartbeat, then every dirty pod."""
        life = self._life
        while self._state == "running" and life == self._life:
            if self._heartbeat_due:
                self._heartbeat_due = False
                await self._beat()
                continue
            if not self._dirty:
                return
            uid = next(iter(self._dirty))
            del self._dirty[uid]
            try:
                await self.pods.sync(uid)
            except Exception as error:
                self.errors += 1
                log.exception("pod sync failed", node=self.node_name, uid=uid, error=repr(error))
                self.clock.call_later(RETRY_SECONDS, functools.partial(self._retry, uid, life))

    def _retry(self, uid: str, life: int) -> None:
        if life == self._life:
            self.mark_dirty(uid)

    async def run(self) -> None:
        """Run standalone until cancelled: own pod watch, own worker."""
        self._event = asyncio.Event()
        async with anyio.create_task_group() as tg:
            if self._source is None:
                informer: SharedInformer[core.Pod] = SharedInformer(
                    self.client,
                    core.Pod,
                    clock=self.clock,
                    field_selector=f"spec.nodeName={self.node_name}",
                )
                self._source = InformerPodSource(informer)
                tg.start_soon(informer.run)
            if self._own_recorder:
                tg.start_soon(self.recorder.run)
            try:
                await self.start()
                while True:
                    await self._event.wait()
                    self._event.clear()
                    await self.process()
            finally:
                self.close()
                tg.cancel_scope.cancel()

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Register the node, renew its Lease, and take over the node's pods."""
        if self._source is None:
            raise RuntimeError("a kubelet needs a pod source: run() it or add it to a pool")
        self._life += 1
        self._state = "running"
        self._partitioned = False
        self.pods.writes_enabled = True
        self.runtime.set_event_listener(self._on_container_event)
        boot_id = f"{self.rng.getrandbits(128):032x}"
        self.events.starting()
        await self.heartbeat.register(boot_id)
        await self.heartbeat.renew_lease()
        await self._source.wait_for_sync()
        self.pods.adoptable = set(await self.runtime.list_pod_sandboxes())
        self._source.subscribe(self.node_name, self._on_pod)
        self._resync()
        self._schedule_heartbeat()
        await self._remove_orphans()

    def close(self) -> None:
        """Cancel this kubelet's timers (the end of a run; not a fault)."""
        self._life += 1
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        self.pods.prober.stop_all()
        if self._source is not None:
            self._source.unsubscribe(self.node_name)
        if self._state == "running":
            self._state = "stopped"

    def _schedule_heartbeat(self) -> None:
        interval = self.config.lease_renew_interval
        delay = interval * (1.0 + self.config.heartbeat_jitter * self.rng.random())
        life = self._life
        self._heartbeat_timer = self.clock.call_later(delay, lambda: self._heartbeat_tick(life))

    def _heartbeat_tick(self, life: int) -> None:
        if life != self._life or self._state != "running":
            return
        self._schedule_heartbeat()
        if not self._partitioned:
            self._heartbeat_due = True
            self._wake_hook(self)

    async def _beat(self) -> None:
        await self.heartbeat.renew_lease()
        await self.heartbeat.update_status()

    def _resync(self) -> None:
        """Compare what the source holds for this node with the records: pods gone
        are terminated, every pod is synced again."""
        assert self._source is not None
        current = {pod.metadata.uid: pod for pod in self._source.pods(self.node_name)}
        for uid, record in self.pods.records.items():
            if uid not in current and not record.deleted:
                record.deleted = True
            self._dirty[uid] = None
        for pod in current.values():
            self.pods.on_pod(pod, False)
        self._wake_hook(self)

    async def _remove_orphans(self) -> None:
        assert self._source is not None
        wanted = {pod.metadata.uid for pod in self._source.pods(self.node_name)}
        for uid in list(self.pods.adoptable):
            if uid not in wanted:
                self.pods.adoptable.discard(uid)
                await self.runtime.stop_pod_sandbox(uid)

    # -- inputs ------------------------------------------------------------------------

    def _on_pod(self, pod: core.Pod, deleted: bool) -> None:
        if self._state == "running" and not self._partitioned:
            self.pods.on_pod(pod, deleted)

    def _on_container_event(self, event: ContainerEvent) -> None:
        if self._state == "running":
            self.pods.on_container_event(event)

    # -- fault controls ----------------------------------------------------------------

    async def stop(self) -> None:
        """Shut the node down: heartbeats stop, containers get SIGTERM."""
        if self._state != "running":
            return
        records = list(self.pods.records.values())
        self._die("stopped")
        for record in records:
            grace = float(record.pod.spec.termination_grace_period_seconds or 0)
            for container in record.containers.values():
                if container.status is not None and container.status.state != "terminated":
                    await self.runtime.stop_container(record.uid, container.name, grace)
        self.pods.reset()

    async def crash(self) -> None:
        """The node dies: heartbeats stop, every container is killed at once."""
        if self._state not in ("running", "stopped"):
            return
        self._die("crashed")
        for uid in await self.runtime.list_pod_sandboxes():
            await self.runtime.stop_pod_sandbox(uid)
        self.pods.reset()

    def partition(self) -> None:
        """Cut the node off from the API; its containers keep running."""
        if self._state == "running":
            self._partitioned = True
            self.pods.writes_enabled = False

    async def restore(self) -> None:
        """Heal a partition, or start a stopped or crashed kubelet again."""
        if self._state == "running":
            if not self._partitioned:
                return
            self._partitioned = False
            self.pods.writes_enabled = True
            await self.heartbeat.renew_lease()
            await self.heartbeat.update_status(force=True)
            self._resync()
            return
        await self.start()

    async def kill_container(self, namespace: str, pod: str, container: str) -> None:
        """SIGKILL one running container (exit code 137)."""
        record = self.pods.find(namespace, pod)
        if record is None:
            raise LookupError(f"pod {namespace}/{pod} is not running on node {self.node_name}")
        if container not in record.containers:
            raise LookupError(f"pod {namespace}/{pod} has no container {container!r}")
        await self.runtime.stop_container(record.uid, container, 0)

    def _die(self, state: KubeletState) -> None:
        self._life += 1
        self._state = state
        self._partitioned = False
        self._dirty.clear()
        self._heartbeat_due = False
        if self._heartbeat_timer is not None:
            self._heartbeat_timer.cancel()
            self._heartbeat_timer = None
        if self._source is not None:
            self._source.unsubscribe(self.node_name)
        self.runtime.set_event_listener(None)
        self.pods.prober.stop_all()

    # -- usage -------------------------------------------------------------------------

    async def pod_stats(self) -> list[tuple[core.Pod, list[ContainerStats]]]:
        """The running containers' stats grouped by pod, with the pod object
        (the kubelet's /stats/summary; the metrics server scrapes it)."""
        records = self.pods.records
        grouped: dict[str, tuple[core.Pod, list[ContainerStats]]] = {}
        for stats in await self.runtime.stats():
            entry = grouped.get(stats.pod_uid)
            if entry is None:
                record = records.get(stats.pod_uid)
                if record is None:
                    continue
                entry = grouped[stats.pod_uid] = (record.pod, [])
            entry[1].append(stats)
        return list(grouped.values())

    async def usage(self) -> NodeUsage:
        """Current CPU and memory use of the node's containers, and their sums."""
        by_uid = {uid: record.pod for uid, record in self.pods.records.items()}
        containers: list[ContainerUsage] = []
        for stats in await self.runtime.stats():
            pod = by_uid.get(stats.pod_uid)
            if pod is None:
                continue
            containers.append(
                ContainerUsage(
                    namespace=pod.metadata.namespace,
                    pod=pod.metadata.name,
                    container=stats.name,
                    cpu_millicores=stats.cpu_millicores,
                    memory_bytes=stats.memory_working_set_bytes,
                    cpu_usage_core_seconds=stats.cpu_usage_core_seconds,
                )
            )
        containers.sort(key=lambda c: (c.namespace, c.pod, c.container))
        return NodeUsage(
            node_name=self.node_name,
            timestamp=self.clock.now(),
            cpu_millicores=sum(c.cpu_millicores for c in containers),
            memory_bytes=sum(c.memory_bytes for c in containers),
            containers=tuple(containers),
        )
