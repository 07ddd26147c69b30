"""The Scheduler: kube-scheduler as one asyncio coroutine.

    scheduler = Scheduler(client, manager.factory, clock=clock, rng=random.Random(7))
    manager.add_runnable(scheduler.run)

Construction registers informers (Pods, Nodes, Namespaces,
PodDisruptionBudgets, PriorityClasses, the Services, ReplicaSets and
StatefulSets default spreading reads, and the claims, volumes,
StorageClasses and CSINodes the volume plugins read) on the factory, so a Manager starts and
syncs them before `run()` begins. `run()` then loops:

* pop the best pod from the queue and run one scheduling cycle synchronously
  (filter, score, select; on failure PostFilter/preemption) against the cache;
* on success assume the pod (it counts on its node at once), run Reserve and
  Permit, and hand it to the binding workers, so binding never blocks the next
  cycle; a failed bind forgets the assumption and backs the pod off, unless
  the pod, read again from the API, is bound to that node after all (an error
  such as a timeout may come after the bind was written);
* on failure put the pod in the unschedulable pool (or backoff), and in the
  background write PodScheduled=False with kube-scheduler's message and a
  FailedScheduling event;
* a pod a PreEnqueue plugin holds back (scheduling gates) is not attempted;
  it gets PodScheduled=False with reason SchedulingGated ("Scheduling is
  blocked due to non-empty scheduling gates"), the condition Kubernetes' API
  server writes when such a pod is created, until the last gate goes.

Background tasks: binding workers, the pod status writer, the event recorder,
housekeeping (expire assumed pods every second, flush the unschedulable pool
every 30 s) and work plugins spawn (preemption's evictions). All time goes
through the injected clock and all randomness through the injected RNG, so on
a virtual clock the same inputs give the same placements.

`statistics()` gives queue sizes, attempts, scheduled / unschedulable counts
and cycle latency percentiles. `record(pod_key)` captures every plugin's
filter result and score per node for that pod's next attempt
(`records[pod_key]`), like kube-scheduler-simulator.

Neighbours: `algorithm` (the cycle), `framework` (plugins), `queue`,
`cache`, `handlers` (informer events), `status_writer`, `recorder`.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import deque
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc

from controllers.scheduler.algorithm import Algorithm, NoNodesAvailable, SchedulingError
from controllers.scheduler.cache.cache import SchedulerCache
from controllers.scheduler.cluster_events import (
    CSI_NODE,
    PV,
    PVC,
    STORAGE_CLASS,
    Action,
    ClusterEvent,
)
from controllers.scheduler.config import PluginFactory, SchedulerConfig
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.diagnostics import AttemptRecord, FitError
from controllers.scheduler.framework import Framework
from controllers.scheduler.handle import Handle, Listers
from controllers.scheduler.handlers import EventHandlers
from controllers.scheduler.nominator import Nominator
from controllers.scheduler.plugins.registry import default_registry
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.queue import QueuedPodInfo, SchedulingQueue
from controllers.scheduler.status import Code, Status
from controllers.scheduler.status_writer import KEEP, Outcome, PodStatusWriter
from engine.api import StorageClass
from engine.api.apps import ReplicaSet, StatefulSet
from engine.api.core import (
    Namespace,
    Node,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    Service,
)
from engine.api.policy import PodDisruptionBudget
from engine.api.scheduling import PriorityClass
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError
from engine.events import EventRecorder
from engine.informer import EventHandler, InformerFactory, SharedInformer
from engine.logging import get_logger
from engine.registry import REGISTRY

__all__ = ["Scheduler", "SchedulerStatistics"]

log = get_logger("scheduler")
PodKey = tuple[str, str]
_LATENCY_SAMPLES = 65536
_GATED_REASON = "SchedulingGated"
_GATED_MESSAGE = "Scheduling is blocked due to non-empty scheduling gates"


@dataclass(frozen=True, slots=True)
class SchedulerStatistics:
    active: int
    backoff: int
    unschedulable: int
    gated: int
    in_flight: int
    attempts: int
    scheduled: int
    unschedulable_attempts: int
    errors: int
    bind_failures: int
    preemptions: int
    assumed: int
    nominated: int
    binds_pending: int
    cycle_p50_ms: float
    cycle_p90_ms: float
    cycle_p99_ms: float


@dataclass(slots=True)
class _BindJob:
    qpod: QueuedPodInfo
    framework: Framework
    state: CycleState
    info: PodInfo
    node: str
    waiting: bool


def _volume_events(queue: SchedulingQueue, resource: str) -> EventHandler[Any]:
    """Claim, volume, StorageClass and CSINode adds and updates are cluster
    events (the volume plugins' pods wait on them)."""
    added = ClusterEvent(resource, Action.ADD)
    updated = ClusterEvent(resource, Action.UPDATE)

    def add(obj: Any) -> None:
        queue.on_event(added, None, obj)

    def update(old: Any, new: Any) -> None:
        queue.on_event(updated, old, new)

    return EventHandler(add=add, update=update)


class Scheduler:
    """See the module docstring."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        config: SchedulerConfig | None = None,
        registry: Mapping[str, PluginFactory] | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.config = config = config or SchedulerConfig()
        self.pods: SharedInformer[Pod] = factory.informer(Pod)
        self.nodes: SharedInformer[Node] = factory.informer(Node)
        self.namespaces: SharedInformer[Namespace] = factory.informer(Namespace)
        self.pdbs: SharedInformer[PodDisruptionBudget] = factory.informer(PodDisruptionBudget)
        self.priority_classes: SharedInformer[PriorityClass] = factory.informer(PriorityClass)
        self.services: SharedInformer[Service] = factory.informer(Service)
        self.replica_sets: SharedInformer[ReplicaSet] = factory.informer(ReplicaSet)
        self.stateful_sets: SharedInformer[StatefulSet] = factory.informer(StatefulSet)
        self.claims: SharedInformer[PersistentVolumeClaim] = factory.informer(PersistentVolumeClaim)
        self.volumes: SharedInformer[PersistentVolume] = factory.informer(PersistentVolume)
        self.storage_classes: SharedInformer[StorageClass] = factory.informer(StorageClass)
        csi_node_model = REGISTRY.lookup("storage.k8s.io/v1", "CSINode").model
        self.csi_nodes: SharedInformer[Any] = factory.informer(csi_node_model)
        self.cache = SchedulerCache(
            assumed_ttl=config.assumed_pod_ttl_seconds,
            namespace_labels=self._namespace_labels,
            pod_info=self.pod_info,
        )
        self.nominator = Nominator(self.cache.table)
        self._workloads_version = 0
        self.recorder = EventRecorder(
            client, clock, config.profiles[0].scheduler_name, busy=self._busy
        )
        self.handle = Handle(
            cache=self.cache,
            nominator=self.nominator,
            listers=Listers(
                namespace_labels=self._namespace_labels,
                pdbs=lambda ns: self.pdbs.cache.list(ns),
                services=lambda ns: self.services.cache.list(ns),
                replica_sets=lambda ns: self.replica_sets.cache.list(ns),
                stateful_sets=lambda ns: self.stateful_sets.cache.list(ns),
                workloads_version=lambda: self._workloads_version,
                claim=lambda ns, name: self.claims.cache.get(name, ns),
                volume=lambda name: self.volumes.cache.get(name),
                volumes=lambda: self.volumes.cache.list(),
                storage_class=lambda name: self.storage_classes.cache.get(name),
                csi_node=lambda name: self.csi_nodes.cache.get(name),
            ),
            client=client,
            clock=clock,
            rng=self.rng,
            spawn=self._spawn,
            recorder=self.recorder,
        )
        registry = registry if registry is not None else default_registry()
        self.frameworks: dict[str, Framework] = {
            p.scheduler_name: Framework(p, registry, self.handle) for p in config.profiles
        }
        self.handle.frameworks.update(self.frameworks)
        first = next(iter(self.frameworks.values()))
        registrations = [r for fw in self.frameworks.values() for r in fw.event_registrations()]
        self.queue = SchedulingQueue(
            clock,
            sort_key=first.queue_sort.sort_key,
            pre_enqueue=self._pre_enqueue,
            on_gated=self._gated,
            registrations=registrations,
            initial_backoff=config.pod_initial_backoff_seconds,
            max_backoff=config.pod_max_backoff_seconds,
            max_unschedulable=config.max_unschedulable_seconds,
        )
        self.algorithm = Algorithm(self.cache, self.rng, config.percentage_of_nodes_to_score)
        self.status_writer = PodStatusWriter(client, clock, self._current_pod)
        self.records: dict[PodKey, AttemptRecord] = {}
        self._record_keys: set[PodKey] = set()
        self._bind_jobs: deque[_BindJob] = deque()
        self._bind_ready = asyncio.Event()
        # Set by every scheduling attempt: one may assume a pod or park one as
        # unschedulable, the only states housekeeping acts on.
        self._housekeeping_wake = asyncio.Event()
        self._binding = 0
        self._task_group: anyio.abc.TaskGroup | None = None
        self._spawn_backlog: list[Coroutine[Any, Any, Any]] = []
        self._latencies: deque[float] = deque(maxlen=_LATENCY_SAMPLES)
        self._attempts = 0
        self._scheduled = 0
        self._unschedulable = 0
        self._errors = 0
        self._bind_failures = 0
        handlers = EventHandlers(self)
        self.nodes.add_event_handler(
            EventHandler(
                add=handlers.node_added,
                update=handlers.node_updated,
                delete=handlers.node_deleted,
            )
        )
        self.pods.add_event_handler(
            EventHandler(
                add=handlers.pod_added,
                update=handlers.pod_updated,
                delete=handlers.pod_deleted,
            )
        )
        self.namespaces.add_event_handler(EventHandler(update=handlers.namespace_changed))
        for informer in (self.services, self.replica_sets, self.stateful_sets):
            informer.add_event_handler(
                EventHandler(
                    add=self._workloads_changed,
                    update=self._workload_updated,
                    delete=self._workloads_changed,
                )
            )

        volume_informers: tuple[tuple[SharedInformer[Any], str], ...] = (
            (self.claims, PVC),
            (self.volumes, PV),
            (self.storage_classes, STORAGE_CLASS),
            (self.csi_nodes, CSI_NODE),
        )
        for volume_informer, resource in volume_informers:
            volume_informer.add_event_handler(_volume_events(self.queue, resource))

    def _busy(self) -> bool:
        return self.queue.has_active() or bool(self._bind_jobs)

    def _workloads_changed(self, *_: Any) -> None:
        self._workloads_version += 1

    def _workload_updated(self, old: Any, new: Any) -> None:
        # Default spreading reads only a workload's selector (and which object
        # holds the name); status writes, which a converging cluster makes by
        # the thousand, must not throw every pod's memoised defaults away.
        if old.spec is new.spec and old.metadata.uid == new.metadata.uid:
            return
        if old.spec.selector != new.spec.selector or old.metadata.uid != new.metadata.uid:
            self._workloads_changed()

    # -- lookups ----------------------------------------------------------------------------

    def _namespace_labels(self, namespace: str) -> Mapping[str, str] | None:
        ns = self.namespaces.cache.get(namespace)
        return None if ns is None else ns.metadata.labels

    def _current_pod(self, key: PodKey) -> Pod | None:
        return self.pods.cache.get(key[1], key[0])

    def pod_info(self, pod: Pod) -> PodInfo:
        """Read a pod, resolving its priority from its PriorityClass when the
        spec carries none (admission normally fills it in)."""
        if pod.spec.priority is not None:
            return PodInfo.of(pod)
        priority = 0
        policy = pod.spec.preemption_policy
        name = pod.spec.priority_class_name
        pc = self.priority_classes.cache.get(name) if name else None
        if pc is None and not name:
            pc = next((p for p in self.priority_classes.cache if p.global_default), None)
        if pc is not None:
            priority = pc.value
            policy = policy or pc.preemption_policy
        return PodInfo.of(pod, priority=priority, preemption_policy=policy)

    def _pre_enqueue(self, info: PodInfo) -> Status | None:
        framework = self.frameworks.get(info.pod.spec.scheduler_name)
        return None if framework is None else framework.run_pre_enqueue(info)

    def _gated(self, qpod: QueuedPodInfo) -> None:
        """A pod held back by its scheduling gates gets PodScheduled=False with
        reason SchedulingGated (as the API server writes on create), unless it
        already says so. Other PreEnqueue plugins write nothing, as there."""
        gate = qpod.gate
        if gate is None or gate.plugin != "SchedulingGates":
            return
        current = self._current_pod(qpod.key) or qpod.info.pod
        condition = current.status.condition("PodScheduled")
        if condition is not None and (condition.status, condition.reason) == (
            "False",
            _GATED_REASON,
        ):
            return
        self.status_writer.submit(qpod.key, Outcome(_GATED_REASON, _GATED_MESSAGE, KEEP))

    # -- running ----------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        if self._task_group is None:
            self._spawn_backlog.append(coro)
        else:
            self._task_group.start_soon(_quietly, coro)

    async def run(self) -> None:
        """Schedule until cancelled. Waits for the informers' first sync."""
        for informer in (self.pods, self.nodes, self.namespaces, self.priority_classes):
            await informer.wait_for_sync()
        try:
            async with anyio.create_task_group() as tg:
                self._task_group = tg
                for coro in self._spawn_backlog:
                    tg.start_soon(_quietly, coro)
                self._spawn_backlog.clear()
                for _ in range(self.config.bind_workers):
                    tg.start_soon(self._bind_worker)
                tg.start_soon(self.status_writer.run)
                tg.start_soon(self.recorder.run)
                tg.start_soon(self._housekeeping)
                await self._schedule_loop()
        finally:
            self._task_group = None
            self.queue.close()

    async def _schedule_loop(self) -> None:
        queue = self.queue
        yield_every = self.config.yield_every
        done = 0
        while True:
            qpod = queue.pop_nowait()
            if qpod is None:
                self.recorder.notify_idle()
                qpod = await queue.pop()
            self.schedule_one(qpod)
            done += 1
            if done >= yield_every:
                done = 0
                await asyncio.sleep(0)

    async def _housekeeping(self) -> None:
        """Every second, forget expired assumptions; every
        `unschedulable_flush_interval` seconds, flush pods unschedulable for too
        long. Both on one grid of whole seconds from the start. With no assumed
        and no unschedulable pod a tick has nothing to do: the loop then waits
        for the next scheduling attempt instead of ticking, so an idle cluster
        on virtual time jumps straight to its next real timer."""
        clock = self.clock
        flush_period = max(1, math.ceil(self.config.unschedulable_flush_interval))
        wake = self._housekeeping_wake
        start = clock.monotonic()
        tick = 0
        while True:
            if not self.cache.assumed_count and not self.queue.statistics().unschedulable:
                wake.clear()
                await wake.wait()
                # Back on the grid: the ticks skipped would have done nothing.
                tick = max(tick, math.floor(clock.monotonic() - start))
            tick += 1
            await clock.sleep(start + tick - clock.monotonic())
            self.cache.cleanup_expired(clock.monotonic())
            if tick % flush_period == 0:
                self.queue.flush_unschedulable_leftover()

    # -- the scheduling cycle ---------------------------------------------------------------

    def record(self, key: PodKey) -> None:
        """Capture per-plugin results of `key`'s next attempt into `records`."""
        self._record_keys.add(key)

    def schedule_one(self, qpod: QueuedPodInfo) -> None:
        self._housekeeping_wake.set()
        info = qpod.info
        key = info.key
        framework = self.frameworks.get(info.pod.spec.scheduler_name)
        if framework is None or info.is_terminating or key in self.cache.pods:
            self.queue.done(key)
            return
        self._attempts += 1
        started = time.perf_counter()
        state = CycleState()
        record = None
        if self.config.record_plugin_results or key in self._record_keys:
            self._record_keys.discard(key)
            record = AttemptRecord(key)
            state.recording = True
        try:
            result = self.algorithm.schedule(framework, state, info, record)
        except FitError as error:
            nominated: str | None = KEEP
            if framework.post_filter:
                post = framework.run_post_filter(state, info, error.diagnosis)
                if post is not None and post.nominated_node is not None:
                    nominated = post.nominated_node
            if record is not None:
                record.post_filter = error.diagnosis.post_filter_message
                self.records[key] = record
            self._unschedulable += 1
            self._fail(qpod, error.diagnosis.unschedulable_plugins(), error.message(), nominated)
        except NoNodesAvailable as error:
            # kube-scheduler reports "no nodes available" as UnschedulableAndUnresolvable:
            # PodScheduled=False reason Unschedulable, which lets a cluster
            # autoscaler scale a node group up from zero.
            self._unschedulable += 1
            self._fail(qpod, (), error.status.message(), KEEP)
        except SchedulingError as error:
            self._errors += 1
            self._fail(qpod, (), error.status.message(), KEEP, reason="SchedulerError")
        else:
            if record is not None:
                self.records[key] = record
            self._assume(qpod, framework, state, info, result.node)
        self._latencies.append(time.perf_counter() - started)

    def _assume(
        self, qpod: QueuedPodInfo, framework: Framework, state: CycleState, info: PodInfo, node: str
    ) -> None:
        self.cache.assume(info, node)
        self.nominator.remove(info.key)
        status = framework.run_reserve(state, info, node)
        if status is None:
            status = framework.run_permit(state, info, node)
            if status is not None and status.code is Code.WAIT:
                self._enqueue_bind(_BindJob(qpod, framework, state, info, node, True))
                return
        if status is not None:
            framework.run_unreserve(state, info, node)
            self.cache.forget(info.key)
            self._unschedulable += 1
            self._fail(qpod, {status.plugin} if status.plugin else (), status.message(), KEEP)
            return
        self._enqueue_bind(_BindJob(qpod, framework, state, info, node, False))

    def _fail(
        self,
        qpod: QueuedPodInfo,
        plugins: Any,
        message: str,
        nominated: str | None,
        *,
        reason: str = "Unschedulable",
    ) -> None:
        key = qpod.key
        if reason == "SchedulerError" or not plugins:
            self.queue.requeue_error(qpod)
        else:
            self.queue.add_unschedulable(qpod, plugins)
        pod = self._current_pod(key) or qpod.info.pod
        self.recorder.record(pod, "Warning", "FailedScheduling", message)
        self.status_writer.submit(key, Outcome(reason, message, nominated))

    # -- binding ----------------------------------------------------------------------------

    def _enqueue_bind(self, job: _BindJob) -> None:
        self._bind_jobs.append(job)
        self._bind_ready.set()

    async def _bind_worker(self) -> None:
        jobs = self._bind_jobs
        while True:
            if not jobs:
                if not self.queue.has_active():
                    self.recorder.notify_idle()
                self._bind_ready.clear()
                await self._bind_ready.wait()
                continue
            job = jobs.popleft()
            self._binding += 1
            try:
                await self._bind(job)
            finally:
                self._binding -= 1

    async def _bind(self, job: _BindJob) -> None:
        framework, state, info, node = job.framework, job.state, job.info, job.node
        status: Status | None = None
        if job.waiting:
            status = await framework.wait_on_permit(state, info)
        if status is None and framework.pre_bind:
            status = await framework.run_pre_bind(state, info, node)
        if status is None:
            status = await framework.run_bind(state, info, node)
        key = info.key
        current: Pod | None = None
        if status is not None and not status.is_rejection:
            # An error need not mean the bind was not written (a timeout after
            # the commit): the API says what happened.
            bound, current = await self._bound_to(key, node)
            if bound:
                status = None
        if status is None:
            self.cache.finish_binding(key, self.clock.monotonic())
            if framework.post_bind:
                framework.run_post_bind(state, info, node)
            self.queue.done(key)
            self._scheduled += 1
            if self.config.record_scheduled_events:
                self.recorder.record(
                    self._current_pod(key) or info.pod,
                    "Normal",
                    "Scheduled",
                    f"Successfully assigned {key[0]}/{key[1]} to {node}",
                )
            return
        self._bind_failures += 1
        framework.run_unreserve(state, info, node)
        self.cache.forget(key)
        if current is None:
            current = self._current_pod(key)
        if current is None or current.spec.node_name:
            self.queue.done(key)
            return
        log.debug("binding failed", pod=f"{key[0]}/{key[1]}", node=node, status=str(status))
        if status.is_rejection:  # a Permit or PreBind plugin said no
            self._unschedulable += 1
            self._fail(job.qpod, {status.plugin} if status.plugin else (), status.message(), KEEP)
        else:
            self._fail(job.qpod, (), status.message(), KEEP, reason="SchedulerError")

    async def _bound_to(self, key: PodKey, node: str) -> tuple[bool, Pod | None]:
        """Whether the pod is bound to `node` after all, read from the API (the
        informer may not show the bind yet), and the pod as read (None if the
        read failed or the pod is gone).

        Forgetting a bind that was written frees the pod's room in the cache
        until the informer shows the pod bound, and other pods would be placed
        in it: the node would be overcommitted."""
        try:
            pod = await self.client.get(Pod, key[1], namespace=key[0])
        except ApiError:
            return False, None
        return pod.spec.node_name == node, pod

    # -- introspection ----------------------------------------------------------------------

    @property
    def scheduled(self) -> int:
        """Pods bound so far (cheap to poll; `statistics()` has the rest)."""
        return self._scheduled

    def statistics(self) -> SchedulerStatistics:
        q = self.queue.statistics()
        samples = sorted(self._latencies)

        def percentile(p: float) -> float:
            if not samples:
                return 0.0
            return samples[min(len(samples) - 1, int(p * len(samples)))] * 1000.0

        preemptions = sum(
            getattr(fw.plugins.get("DefaultPreemption"), "preemptions", 0)
            for fw in self.frameworks.values()
        )
        return SchedulerStatistics(
            active=q.active,
            backoff=q.backoff,
            unschedulable=q.unschedulable,
            gated=q.gated,
            in_flight=q.in_flight,
            attempts=self._attempts,
            scheduled=self._scheduled,
            unschedulable_attempts=self._unschedulable,
            errors=self._errors,
            bind_failures=self._bind_failures,
            preemptions=preemptions,
            assumed=self.cache.assumed_count,
            nominated=len(self.nominator),
            binds_pending=len(self._bind_jobs) + self._binding,
            cycle_p50_ms=percentile(0.50),
            cycle_p90_ms=percentile(0.90),
            cycle_p99_ms=percentile(0.99),
        )


async def _quietly(coro: Coroutine[Any, Any, Any]) -> None:
    try:
        await coro
    except Exception:
        log.exception("background scheduler task failed")
