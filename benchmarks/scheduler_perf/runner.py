"""Running one scheduler_perf workload against kubeloop's scheduler, end to end
through the store, watch, informers, queue, scheduling cycle and binding.

The ops run in order on the wall clock (`RealClock`), with the scheduler
running with its default configuration (or the test case's
`schedulerConfigPath`), events included. Figures are for the `createPods`
ops with `collectMetrics: true`: each such op creates all its pods in the
store first, then the clock runs from that moment until the last of them is
bound (as the scheduler's informer sees it); the workload's throughput is
their pods divided by that time. Before such an op, the runner waits until the
scheduler has seen every node created so far and has written the events and
pod statuses of earlier ops (it writes those when idle), so the figure counts
the measured pods' own work. Before the clock starts, `gc.freeze()` moves
the objects built during set-up out of the cyclic collector's reach.

What "completion" means, as in scheduler_perf: a `createPods` op without
`skipWaitToCompletion` waits until every pod it created is bound; a `barrier`
waits until every pod created so far (in its `namespaces`, if given) is bound
(`stageRequirement: Scheduled`) or has been seen by the scheduler and is not
waiting in its active queue (`Attempted`). Churn and `deletePods` with
`skipWaitToCompletion` run in the background until the workload ends.

Differences from scheduler_perf, on purpose: `labelNodePrepareStrategy` picks
values round-robin when `roundRobin: true`, else with a seeded RNG;
`uniqueNodeLabelStrategy` labels each node with its own name; feature gates
are recorded, not applied (kubeloop behaves as Kubernetes' defaults).

Neighbours: `benchmarks.scheduler_perf.config` (the format),
`benchmarks.scheduler_perf.templates` (objects), `benchmarks.scheduler` (the
suite that runs its workloads through here).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import random
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml

from benchmarks.scheduler_perf.config import ConfigError, Op, TestCase, Workload, parse_duration
from benchmarks.scheduler_perf.templates import DEFAULT_NODE, DEFAULT_POD, Templates
from controllers.registry import setup_scheduler
from controllers.scheduler.config import Profile, SchedulerConfig
from controllers.scheduler.scheduler import Scheduler
from engine.api import Namespace, Node, Pod
from engine.api.base import ObjectMeta, Resource
from engine.client import LocalClient
from engine.clock import Clock, RealClock
from engine.errors import NotFound
from engine.informer import EventHandler
from engine.manager import Manager
from engine.store import Store

__all__ = ["Result", "run_workload", "run_workload_async", "scheduler_config"]

_TIMEOUT = 900.0
_DEFAULT_NAMESPACE = """\
apiVersion: v1
kind: Namespace
metadata: {name: placeholder}
"""


@dataclass
class Result:
    """A workload's measured throughput and what the scheduler counted."""

    test_case: str
    workload: str
    threshold: float | None
    measured_pods: int = 0
    measured_seconds: float = 0.0
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.test_case}/{self.workload}"

    @property
    def throughput(self) -> float:
        """Measured pods per second (0 when nothing was measured)."""
        return self.measured_pods / self.measured_seconds if self.measured_seconds else 0.0


def scheduler_config(case: TestCase, percentage: int | None = None) -> SchedulerConfig:
    """The SchedulerConfig of a test case: its `schedulerConfigPath`
    (KubeSchedulerConfiguration's percentageOfNodesToScore and each profile's
    schedulerName and pluginConfig args) or the defaults."""
    if case.scheduler_config is None:
        return SchedulerConfig(profiles=(Profile(percentage_of_nodes_to_score=percentage),))
    path = case.base / case.scheduler_config
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"cannot read scheduler configuration {path}: {error}") from None
    known = {"apiVersion", "kind", "percentageOfNodesToScore", "profiles"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{path}: unsupported field(s) {unknown}")
    profiles = []
    for raw in data.get("profiles") or [{}]:
        extra = sorted(set(raw) - {"schedulerName", "pluginConfig", "percentageOfNodesToScore"})
        if extra:
            raise ConfigError(f"{path}: unsupported profile field(s) {extra}")
        args = {c["name"]: c.get("args") for c in raw.get("pluginConfig") or []}
        profiles.append(
            Profile(
                scheduler_name=raw.get("schedulerName", "default-scheduler"),
                plugin_args=args,
                percentage_of_nodes_to_score=raw.get("percentageOfNodesToScore", percentage),
            )
        )
    return SchedulerConfig(
        profiles=tuple(profiles),
        percentage_of_nodes_to_score=int(data.get("percentageOfNodesToScore") or 0),
    )


def _objects_estimate(ops: list[Op]) -> int:
    total = 0
    for op in ops:
        if op.opcode in ("createNodes", "createPods"):
            total += op.count()
        elif op.opcode == "createPodSets":
            total += op.count() * op.get("createPodsOp").count()
    return total


class _Run:
    """The state of one workload run (see the module docstring)."""

    def __init__(
        self, case: TestCase, workload: Workload, ops: list[Op], seed: int, clock: Clock
    ) -> None:
        self.case = case
        self.ops = ops
        self.result = Result(case.name, workload.name, workload.threshold)
        self.clock = clock
        self.rng = random.Random(seed)
        estimate = _objects_estimate(ops)
        self.store = Store(
            clock=self.clock, rng=random.Random(seed), watch_capacity=4 * estimate + 100_000
        )
        self.client = LocalClient(self.store, yield_every=256)
        self.templates = Templates(case.base)
        self.created: dict[str, list[str]] = {}
        self.bound: Counter[str] = Counter()
        self.background: list[asyncio.Task[None]] = []
        self.round_robin: Counter[int] = Counter()

    # -- bookkeeping -----------------------------------------------------------------

    def _on_update(self, old: Pod, new: Pod) -> None:
        if new.spec.node_name and not old.spec.node_name:
            self.bound[new.metadata.namespace or ""] += 1

    def _on_add(self, pod: Pod) -> None:
        # A pod the informer first sees already bound (its creation and binding
        # were delivered in one batch).
        if pod.spec.node_name:
            self.bound[pod.metadata.namespace or ""] += 1

    def _ensure_namespace(self, name: str) -> None:
        try:
            self.store.get(Namespace, name)
        except NotFound:
            self.store.create(Namespace(metadata=ObjectMeta(name=name)))

    async def _until(self, condition: Callable[[], bool], what: str) -> None:
        deadline = time.perf_counter() + _TIMEOUT
        while not condition():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{self.result.name}: timed out waiting for {what}")
            await self.clock.sleep(0.0005)

    # -- ops -------------------------------------------------------------------------

    def _create_nodes(self, op: Op) -> None:
        unique = op.get("uniqueNodeLabelStrategy")
        labelled = op.get("labelNodePrepareStrategy")
        for i in range(op.count()):
            labels: dict[str, str] = {}
            if labelled:
                values = list(labelled["labelValues"])
                if labelled.get("roundRobin"):
                    value = values[self.round_robin[op.index] % len(values)]
                    self.round_robin[op.index] += 1
                else:
                    value = self.rng.choice(values)
                labels[labelled["labelKey"]] = value
            node = self.templates.build(op.get("nodeTemplatePath"), DEFAULT_NODE, i, labels=labels)
            if unique:
                meta = node.metadata
                meta = meta.model_copy(
                    update={"labels": {**meta.labels, unique["labelKey"]: meta.name}}
                )
                node = node.model_copy(update={"metadata": meta})
            self.store.create(node)

    def _create_namespaces(self, op: Op) -> None:
        prefix = op.get("prefix", "namespace")
        for i in range(op.count()):
            ns = self.templates.build(op.get("namespaceTemplatePath"), _DEFAULT_NAMESPACE, i)
            ns = ns.model_copy(
                update={"metadata": ns.metadata.model_copy(update={"name": f"{prefix}-{i}"})}
            )
            self.store.create(ns)

    def _pods(self, op: Op, namespace: str) -> list[Resource]:
        path = op.get("podTemplatePath") or self.case.default_pod_template
        return [
            self.templates.build(path, DEFAULT_POD, i, namespace=namespace)
            for i in range(op.count())
        ]

    async def _create_pods(
        self, op: Op, namespace: str | None = None, scheduler: Scheduler | None = None
    ) -> None:
        namespace = namespace or op.get("namespace") or f"namespace-{op.index}"
        if op.get("collectMetrics") and scheduler is not None:
            # Events and pod statuses of earlier ops, which the scheduler
            # writes when it is idle, are written before the clock starts.
            await self._until(
                lambda: not len(scheduler.recorder) and not len(scheduler.status_writer),
                "the scheduler's event and status writes",
            )
        self._ensure_namespace(namespace)
        pods = self._pods(op, namespace)
        names = self.created.setdefault(namespace, [])
        target = self.bound[namespace] + len(pods)
        for pod in pods:
            self.store.create(pod)
            names.append(pod.metadata.name)
        if op.get("collectMetrics"):
            # Long-lived objects move to the permanent generation, so the cyclic
            # GC does not rescan them on every collection while measuring.
            gc.collect()
            gc.freeze()
            start = time.perf_counter()
            await self._until(lambda: self.bound[namespace] >= target, "the measured pods")
            self.result.measured_seconds += time.perf_counter() - start
            self.result.measured_pods += len(pods)
            gc.unfreeze()
        elif not op.get("skipWaitToCompletion"):
            await self._until(lambda: self.bound[namespace] >= target, f"pods of {op.where}")

    async def _create_pod_sets(self, op: Op) -> None:
        prefix = op.get("namespacePrefix", "namespace")
        inner: Op = op.get("createPodsOp")
        for i in range(op.count()):
            await self._create_pods(inner, f"{prefix}-{i}")

    def _barrier_done(self, scheduler: Scheduler, namespaces: list[str], attempted: bool) -> bool:
        queue = scheduler.queue
        for namespace in namespaces:
            names = self.created.get(namespace, [])
            if self.bound[namespace] >= len(names):
                continue
            if not attempted:
                return False
            if queue.has_active():
                return False
            cache = scheduler.pods.cache
            for name in names:
                pod = cache.get(name, namespace)
                if pod is None:
                    return False
                if not pod.spec.node_name and (namespace, name) not in queue:
                    return False
        return True

    async def _barrier(self, op: Op, scheduler: Scheduler) -> None:
        stage = op.get("stageRequirement", "Scheduled")
        if stage not in ("Scheduled", "Attempted"):
            raise ConfigError(f"{op.where}: stageRequirement must be Scheduled or Attempted")
        if op.get("labelSelector"):
            raise ConfigError(f"{op.where}: labelSelector is not supported")
        namespaces = list(op.get("namespaces") or self.created)
        await self._until(
            lambda: self._barrier_done(scheduler, namespaces, stage == "Attempted"), op.where
        )

    async def _delete_pods(self, op: Op) -> None:
        namespace = str(op.get("namespace"))
        rate = float(op.get("deletePodsPerSecond") or 0)
        names = [p.metadata.name for p in self.store.list(Pod, namespace=namespace).items]
        interval = 1.0 / rate if rate > 0 else 0.0
        for name in names:
            with contextlib.suppress(NotFound):
                self.store.delete(Pod, name, namespace)
            if interval:
                await self.clock.sleep(interval)

    def _churn(self, op: Op) -> Any:
        """The churn coroutine, after checking the op (errors surface at once)."""
        mode = op.get("mode")
        if mode not in ("create", "recreate"):
            raise ConfigError(f"{op.where}: mode must be create or recreate, got {mode!r}")
        paths = list(op.get("templatePaths") or [])
        if not paths:
            raise ConfigError(f"{op.where}: templatePaths is required")
        for path in paths:
            self.templates.text(path, "")
        number = int(op.get("number") or 0)
        if mode == "recreate" and number <= 0:
            raise ConfigError(f"{op.where}: recreate needs number > 0")
        interval = float(op.get("intervalMilliseconds") or 500) / 1000.0
        namespace = f"namespace-{op.index}"
        self._ensure_namespace(namespace)
        return self._churn_loop(mode, paths, number, interval, namespace)

    async def _churn_loop(
        self, mode: str, paths: list[str], number: int, interval: float, namespace: str
    ) -> None:
        live: list[deque[Resource]] = [deque() for _ in paths]
        made = 0
        while mode == "recreate" or number == 0 or made < number:
            for i, path in enumerate(paths):
                if mode == "recreate" and len(live[i]) >= number:
                    old = live[i].popleft()
                    with contextlib.suppress(NotFound):
                        self.store.delete(type(old), old.metadata.name, old.metadata.namespace)
                obj = self.store.create(
                    self.templates.build(path, DEFAULT_POD, made, namespace=namespace)
                )
                live[i].append(obj)
            made += 1
            await self.clock.sleep(interval)

    # -- the run ---------------------------------------------------------------------

    async def run(self, config: SchedulerConfig) -> Result:
        manager = Manager(self.client, clock=self.clock, rng=random.Random(1))
        scheduler = setup_scheduler(manager, config=config, rng=random.Random(2))
        scheduler.pods.add_event_handler(EventHandler(add=self._on_add, update=self._on_update))
        async with manager:
            try:
                for op in self.ops:
                    await self._run_op(op, scheduler)
            finally:
                for task in self.background:
                    task.cancel()
                for task in self.background:
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            stats = scheduler.statistics()
            self.result.stats = {
                "attempts": stats.attempts,
                "unschedulable": stats.unschedulable,
                "preemptions": stats.preemptions,
                "gated": stats.gated,
                "p99_ms": round(stats.cycle_p99_ms, 3),
            }
        return self.result

    async def _run_op(self, op: Op, scheduler: Scheduler) -> None:
        opcode = op.opcode
        if opcode == "createNodes":
            self._create_nodes(op)
            # The scheduler sees the nodes before the next op, as when nodes
            # exist before pods arrive (their events are not measured).
            total = len(self.store.list(Node).items)
            await self._until(lambda: len(scheduler.nodes.cache) >= total, "the scheduler's nodes")
        elif opcode == "createNamespaces":
            self._create_namespaces(op)
        elif opcode == "createPods":
            await self._create_pods(op, scheduler=scheduler)
        elif opcode == "createPodSets":
            await self._create_pod_sets(op)
        elif opcode == "barrier":
            await self._barrier(op, scheduler)
        elif opcode == "sleep":
            await self.clock.sleep(parse_duration(str(op.get("duration", ""))))
        elif opcode == "deletePods":
            if not op.get("namespace"):
                raise ConfigError(f"{op.where}: namespace is required")
            if op.get("skipWaitToCompletion"):
                self._background(self._delete_pods(op))
            else:
                await self._delete_pods(op)
        elif opcode == "churn":
            self._background(self._churn(op))
        else:  # config.load_config admits only the opcodes above
            raise ConfigError(f"{op.where}: unknown opcode {opcode!r}")

    def _background(self, coro: Any) -> None:
        self.background.append(asyncio.get_running_loop().create_task(coro))


async def run_workload_async(
    case: TestCase,
    workload: Workload,
    *,
    clock: Clock,
    scale: int = 1,
    percentage: int | None = None,
    seed: int = 0,
) -> Result:
    """Run `workload` of `case` on the running loop with `clock` (a
    VirtualClock in tests; throughput is wall time either way)."""
    ops = case.ops(workload, scale)
    config = scheduler_config(case, percentage)
    return await _Run(case, workload, ops, seed, clock).run(config)


def run_workload(
    case: TestCase,
    workload: Workload,
    *,
    scale: int = 1,
    percentage: int | None = None,
    seed: int = 0,
) -> Result:
    """Run `workload` of `case` in a fresh event loop on the wall clock;
    `scale` divides its integer parameters (quick runs); `percentage` sets
    percentageOfNodesToScore."""
    return asyncio.run(
        run_workload_async(
            case, workload, clock=RealClock(), scale=scale, percentage=percentage, seed=seed
        )
    )
