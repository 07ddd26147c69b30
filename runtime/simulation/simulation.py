"""`Simulation`: a whole cluster on virtual time, with fault injection and oracles.

    async with Simulation(SimulationConfig(seed=7)) as sim:
        await sim.step(Apply(manifest=...))
        await sim.run_until(lambda: ..., timeout=60)
        report = await sim.check_esr()
        print(sim.trace_hash())

It runs a `Cluster` (store, nodes, kubelets) without the cluster's own
controllers and hosts each controller itself (`ControllerHost`: its own
manager on a `FaultyClient`, so faults can target it and it can crash and
restart alone). Attached to the store: the `Trace` (the run's fingerprint),
the `SafetyMonitor` (invariants after every write), the `StoreHistory` (for
stale reads) and a change signal for `run_until`.

Determinism: every timer is on the `VirtualClock` (when every task is idle,
time jumps to the next timer), every random choice comes from an RNG derived
from the seed, and nothing iterates in hash order, so the same seed and the
same operations give the same trace, byte for byte, in any process.

* `run_until(condition, at=/timeout=)`: run until `condition()` holds
  (re-checked after each burst of writes) or the virtual deadline passes.
* `run_until_quiescent(quiet=)`: run until nothing but heartbeats has been
  written for `quiet` virtual seconds and every controller queue is idle.
* `step(op)`: run `op.after` seconds, then carry out the operation.
* `stop_faults()`, `check_esr()`: end every fault, then check eventually
  stable reconciliation (see `runtime.simulation.liveness`).

Neighbours: `runtime.cluster` (the cluster), `runtime.simulation.hosting`,
`runtime.simulation.injector`, `runtime.simulation.invariants`,
`runtime.simulation.liveness`, `runtime.simulation.operations`.
"""

from __future__ import annotations

import asyncio
import random
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from typing import Any

import anyio
import anyio.abc

from controllers.clusterautoscaler import AutoscalingOptions
from engine.api.base import Resource
from engine.client import LocalClient
from engine.registry import builtin_registry
from engine.store import Store, WriteRecord
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.cluster.cluster import controller_setups, on_cloud, on_registry
from runtime.runtimes.behavior import Distribution
from runtime.runtimes.simulated import SimulatedRuntime
from runtime.simulation.faults import ALL_FAULT_KINDS, FAULT_CLASSES, Fault
from runtime.simulation.history import StoreHistory
from runtime.simulation.hosting import ControllerHost, Setup
from runtime.simulation.injector import FaultInjector
from runtime.simulation.invariants import SAFETY, InvariantRegistry, SafetyMonitor, Violation
from runtime.simulation.liveness import (
    DESIRED,
    DesiredContext,
    DesiredStateRegistry,
    Difference,
)
from runtime.simulation.operations import Operation, execute
from runtime.simulation.oracles_autoscaler import autoscaler_invariants
from runtime.simulation.trace import Trace
from runtime.simulation.view import ClusterView

__all__ = ["LivenessReport", "Simulation", "SimulationConfig"]

_WATCH_KINDS = frozenset(FAULT_CLASSES["watch"]) | {"stale_reads"}
_BACKGROUND_KINDS = frozenset({"Lease"})
_STATELESS_KINDS = frozenset({"Lease", "Event"})


NOT_SIMULATED: frozenset[str] = frozenset({"clusterrole-aggregation"})
"""Built-in controllers a simulation runs only when named: the workloads it
fuzzes never create RBAC objects, so clusterrole-aggregation would only draw
on the fault injector and shift every recorded run."""


@dataclass(frozen=True, slots=True)
class SimulationConfig:
    """Everything a simulation is made of. `controllers` names the controllers
    to run (None: every built-in one and every custom one); `custom_controllers`
    adds or replaces controllers by name. `fault_kinds` are the kinds that may
    be injected: watch interposition and store history are set up only when
    they can matter. `invariants`/`desired_checks` name registry entries (None:
    all); `oracles=False` runs without any (benchmarks)."""

    node_pools: tuple[NodePool, ...] = (NodePool(count=3),)
    cluster_autoscaler: AutoscalingOptions = field(default_factory=AutoscalingOptions)
    """Options of the cluster autoscaler, which runs when a pool has `max_count`."""
    seed: int = 0
    controllers: tuple[str, ...] | None = None
    custom_controllers: Mapping[str, Setup] = field(default_factory=dict)
    kinds: tuple[type[Resource], ...] = ()
    """Kinds of your own (`@kind` models) the simulated cluster serves besides
    the built-in ones. Only these: kinds registered elsewhere in the process
    are not served, so a run does not depend on what ran before it."""
    faults: tuple[Fault, ...] = ()
    fault_kinds: frozenset[str] = frozenset(ALL_FAULT_KINDS)
    invariants: tuple[str, ...] | None = None
    invariant_registry: InvariantRegistry = SAFETY
    desired_checks: tuple[str, ...] | None = None
    desired_registry: DesiredStateRegistry = DESIRED
    oracles: bool = True
    exemptions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per controller, effects it is spared ("write_errors:timeout" or a fault
    kind): known issues awaiting a fix, so fuzzing can go on around them."""
    esr_bound: float = 1200.0
    esr_window: float = 60.0
    keep_trace_lines: bool = True
    history_size: int = 200_000
    log_level: str | None = None
    livelock_writes: int | None = 100_000
    """Store writes at one virtual instant after which the run is livelocked
    (None: never). Controllers that undo each other's writes with no timer in
    between never let virtual time move, so the run would spin for ever; past
    this many writes the controllers are halted and the run fails with
    `liveness:livelock`, naming the writes repeated most."""

    def setups(self) -> dict[str, Setup]:
        """The controllers to run, by name, in a fixed order."""
        available: dict[str, Setup] = {**controller_setups(), **self.custom_controllers}
        if self.controllers is None:
            names = [n for n in available if n not in NOT_SIMULATED or n in self.custom_controllers]
            if "clusterautoscaler" in names and not any(p.autoscaled for p in self.node_pools):
                # No node group: no cluster autoscaler (and no host for it, so
                # runs without autoscaled pools are what they always were).
                names.remove("clusterautoscaler")
        else:
            names = list(self.controllers)
        unknown = [n for n in names if n not in available]
        if unknown:
            raise ValueError(
                f"unknown controller(s) {', '.join(unknown)}; choose from {', '.join(available)}"
            )
        return {name: available[name] for name in names}


@dataclass(frozen=True, slots=True)
class LivenessReport:
    """The outcome of an ESR check."""

    ok: bool
    message: str
    started_at: float
    reached_at: float | None
    differences: tuple[Difference, ...] = ()

    def __str__(self) -> str:
        return self.message


def _spawn(
    tg: anyio.abc.TaskGroup,
    guard: Callable[[str, Callable[[], Awaitable[object]]], Coroutine[Any, Any, None]],
    fn: Callable[[], Awaitable[object]],
) -> None:
    tg.start_soon(guard, "fault action", fn)


def describe_error(error: BaseException) -> str:
    """The innermost exception(s) of `error` with where each was raised."""
    if isinstance(error, BaseExceptionGroup):
        return "; ".join(describe_error(e) for e in error.exceptions)
    frames = [
        f for f in traceback.extract_tb(error.__traceback__) if "site-packages" not in f.filename
    ]
    path = " <- ".join(
        f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in reversed(frames[-4:])
    )
    return f"{type(error).__name__}: {error}" + (f" (at {path})" if path else "")


class Simulation:
    """See the module docstring."""

    def __init__(self, config: SimulationConfig | None = None) -> None:
        self.config = config = config or SimulationConfig()
        self.registry = builtin_registry()
        for model in config.kinds:
            self.registry.register(model)
        self._setups = {
            name: on_cloud(on_registry(setup, self.registry), lambda: self.cluster)
            for name, setup in config.setups().items()
        }
        self.cluster = Cluster(
            ClusterConfig(
                node_pools=config.node_pools,
                cluster_autoscaler=config.cluster_autoscaler,
                seed=config.seed,
                controllers=(),
                history_size=config.history_size,
                log_level=config.log_level,
            ),
            registry=self.registry,
        )
        # Its controllers run on hosts of their own, not in the cluster: say
        # which, so the cluster judges their kinds as driven.
        self.cluster.running_controllers = frozenset(self._setups)
        self.clock = self.cluster.clock
        self.trace = Trace(keep_lines=config.keep_trace_lines)
        self.hosts: dict[str, ControllerHost] = {}
        self.view: ClusterView | None = None
        self.monitor: SafetyMonitor | None = None
        self.history: StoreHistory | None = None
        self.injector: FaultInjector | None = None
        self.operations: list[tuple[float, Operation, str]] = []
        self.errors: list[Violation] = []
        self._changed = asyncio.Event()
        # Set by writes that can change the desired-state verdict (not Leases
        # or Events), so liveness checks are not re-run on every heartbeat.
        self._state_changed = asyncio.Event()
        self._churn = 0
        self._last_activity = 0.0
        self._op_down: dict[str, str] = {}
        self._instant = -1.0
        self._instant_writes = 0
        self._burst: Counter[str] = Counter()
        self._livelocked = False
        self._latency_policies: dict[str, Any] = {}
        self._stack: AsyncExitStack | None = None
        self._tg: anyio.abc.TaskGroup | None = None

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> Simulation:
        config = self.config
        async with AsyncExitStack() as stack:
            await stack.enter_async_context(self.cluster)
            store = self.store
            self.trace.seed(store)
            store.observers.append(self.trace)
            if config.oracles:
                self.view = ClusterView(store)
                invariants = config.invariant_registry.create(config.invariants)
                invariants.extend(autoscaler_invariants(config.node_pools))
                self.monitor = SafetyMonitor(self.view, invariants, self.now)
                store.observers.append(self.monitor)
            if "stale_reads" in config.fault_kinds:
                self.history = StoreHistory(self.clock)
                self.history.seed(store)
                store.observers.append(self.history)
            store.observers.append(self._on_write)
            tg = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tg.cancel_scope.cancel)
            self._tg = tg
            self.injector = injector = FaultInjector(
                clock=self.clock,
                seed=config.seed,
                nodes=self,
                spawn=lambda fn: _spawn(tg, self._guarded, fn),
                history=self.history,
                watch_faults=bool(config.fault_kinds & _WATCH_KINDS),
                exemptions=config.exemptions,
            )
            client = self.client
            for name, setup in self._setups.items():
                host = ControllerHost(
                    name,
                    setup,
                    client=client,
                    clock=self.clock,
                    injector=injector,
                    seed=config.seed,
                    current_revision=lambda: store.revision,
                    on_error=self._host_error,
                )
                self.hosts[name] = host
                await tg.start(host.run)
            for fault in config.faults:
                injector.add(fault)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        stack, self._stack = self._stack, None
        self._tg = None
        if stack is not None:
            await stack.__aexit__(*exc_info)

    @property
    def store(self) -> Store:
        if self.cluster.store is None:
            raise RuntimeError("the simulation is not running: use `async with Simulation(...)`")
        return self.cluster.store

    @property
    def client(self) -> LocalClient:
        if self.cluster.client is None:
            raise RuntimeError("the simulation is not running: use `async with Simulation(...)`")
        return self.cluster.client

    def now(self) -> float:
        """Virtual seconds since the simulation started."""
        return self.clock.monotonic()

    def trace_hash(self) -> str:
        return self.trace.hexdigest()

    @property
    def violations(self) -> list[Violation]:
        return self.monitor.violations if self.monitor is not None else []

    def _error(self, where: str, error: BaseException) -> None:
        self.errors.append(
            Violation(f"error:{where}", describe_error(error), self.store.revision, self.now())
        )

    def _host_error(self, name: str, error: Exception) -> None:
        self._error(f"controller {name}", error)

    async def _guarded(self, where: str, fn: Callable[[], Awaitable[object]]) -> None:
        """Run a fault action; an exception is recorded as a failure, not raised
        into the simulation's task group (which would end the simulation)."""
        try:
            await fn()
        except Exception as error:
            self._error(where, error)

    def _on_write(self, record: WriteRecord) -> None:
        self._changed.set()
        limit = self.config.livelock_writes
        if limit is not None:
            now = self.clock.monotonic()
            if now != self._instant:
                self._instant, self._instant_writes = now, 0
                self._burst.clear()
            self._instant_writes += 1
            if self._instant_writes > limit // 2 and not self._livelocked:
                self._watch_burst(record, limit)
        kind = record.kind
        if kind not in _STATELESS_KINDS:
            self._state_changed.set()
        if kind in _BACKGROUND_KINDS or (kind == "Node" and record.verb == "update_status"):
            return
        self._last_activity = self.clock.monotonic()
        if kind != "Event" and (record.verb in ("create", "delete") or record.removed):
            self._churn += 1

    def _watch_burst(self, record: WriteRecord, limit: int) -> None:
        # Counted only in the second half of a long burst: the writes a
        # livelock repeats are the ones still going on.
        self._burst[f"{record.verb} {record.kind} {record.namespace}/{record.name}"] += 1
        if self._instant_writes <= limit:
            return
        self._livelocked = True
        top = ", ".join(f"{what} x{n}" for what, n in self._burst.most_common(3))
        message = (
            f"{self._instant_writes} store writes at virtual time {self._instant:g} s without "
            f"the clock moving (controllers undoing each other's writes?); most repeated: {top}"
        )
        self.errors.append(
            Violation("liveness:livelock", message, self.store.revision, self._instant)
        )
        for host in self.hosts.values():
            host.halt()

    # -- running --------------------------------------------------------------------------

    async def run_until(
        self,
        condition: Callable[[], bool] | None = None,
        *,
        at: float | None = None,
        timeout: float | None = None,
    ) -> bool:
        """Run until `condition()` holds (checked now and after each burst of
        writes) or until virtual time `at` / `timeout` seconds from now. Returns
        whether the condition holds (True when only a deadline was given)."""
        now = self.now()
        deadline = at if at is not None else (now + timeout if timeout is not None else None)
        if condition is None:
            if deadline is None:
                raise ValueError("run_until needs a condition, `at` or `timeout`")
            if deadline > now:
                await self.clock.sleep(deadline - now)
            return True
        return await self._wait_for(condition, deadline, self._changed)

    async def _wait_for(
        self, condition: Callable[[], bool], deadline: float | None, signal: asyncio.Event
    ) -> bool:
        if condition():
            return True
        now = self.now()
        with anyio.move_on_after(None if deadline is None else max(0.0, deadline - now)):
            while True:
                signal.clear()
                await signal.wait()
                if condition():
                    return True
        return condition()

    def queues_idle(self) -> bool:
        return all(
            q.depth == 0 and q.processing == 0
            for host in self.hosts.values()
            for q in host.queues()
        )

    async def run_until_quiescent(self, *, quiet: float = 30.0, timeout: float = 3600.0) -> bool:
        """Run until `quiet` virtual seconds pass with no writes but heartbeats
        (Leases, node status) and every controller queue idle. False if that
        does not happen within `timeout`."""
        deadline = self.now() + timeout
        while True:
            now = self.now()
            idle_for = now - self._last_activity
            if idle_for >= quiet and self.queues_idle():
                return True
            if now >= deadline:
                return False
            wait = quiet - idle_for if idle_for < quiet else quiet
            await self.clock.sleep(min(max(wait, 1e-3), deadline - now))

    async def step(self, op: Operation) -> str:
        """Run `op.after` virtual seconds, then carry out `op`; returns its outcome."""
        if op.after > 0:
            await self.run_until(at=self.now() + op.after)
        outcome = await execute(self, op)
        self.operations.append((self.now(), op, outcome))
        return outcome

    def inject(self, fault: Fault) -> None:
        """Schedule a fault (absolute `at`)."""
        if self.injector is None:
            raise RuntimeError("the simulation is not running")
        if fault.kind not in self.config.fault_kinds:
            raise ValueError(f"fault kind {fault.kind!r} is not enabled for this simulation")
        self.injector.add(fault)

    # -- nodes (operations and NodeControls) -----------------------------------------------

    def node_up(self, node: str) -> bool:
        try:
            kubelet = self.cluster.kubelet(node)
        except KeyError:
            return False
        return kubelet.state == "running" and not kubelet.partitioned

    def node_names(self) -> list[str]:
        return [k.node_name for k in self.cluster.nodes or ()]

    def _removed(self, node: str) -> bool:
        """A node of an autoscaled pool that the cluster autoscaler deleted:
        faults and operations on it do nothing (a machine that is gone can
        neither fail nor come back)."""
        provider = self.cluster.cloud_provider
        if provider is None:
            return False
        try:
            self.cluster.kubelet(node)
        except KeyError:
            pool = node.rsplit("-", 1)[0]
            return any(g.name == pool for g in provider.node_groups())
        return False

    async def fail_node(self, node: str, mode: str = "crash") -> None:
        """An operation: the node crashes, stops or is partitioned until `restore_node`."""
        if self._removed(node):
            return
        self.cluster.kubelet(node)  # KeyError for an unknown node
        self._op_down[node] = mode
        await self._take_down(node, mode)

    async def restore_node(self, node: str) -> None:
        """An operation: end `fail_node` (a fault still holding the node down wins)."""
        self._op_down.pop(node, None)
        await self.end_node_fault(node)

    async def _take_down(self, node: str, mode: str) -> None:
        if self._removed(node):
            return
        if mode == "partition":
            self.cluster.partition_node(node)
        elif mode == "stop":
            await self.cluster.fail_node(node)
        else:
            await self.cluster.crash_node(node)

    async def crash_node(self, node: str) -> None:
        await self._take_down(node, "crash")

    async def partition_node(self, node: str) -> None:
        await self._take_down(node, "partition")

    async def end_node_fault(self, node: str) -> None:
        if node in self._op_down:
            return
        if self.injector is not None and self.injector.node_down(node):
            return
        if self._removed(node):
            return
        await self.cluster.restore_node(node)

    def set_start_latency(self, node: str, latency: float | None) -> None:
        if self._removed(node):
            return
        runtime = self.cluster.kubelet(node).runtime
        if not isinstance(runtime, SimulatedRuntime):
            return
        original = self._latency_policies.setdefault(node, runtime.policy)
        if latency is None:
            runtime.policy = self._latency_policies.pop(node)
            return
        defaults = replace(original.defaults, start_latency=Distribution.constant(latency))
        runtime.policy = replace(original, defaults=defaults)

    async def kill_containers(self, node: str, count: int, rng: random.Random) -> int:
        if self._removed(node):
            return 0
        kubelet = self.cluster.kubelet(node)
        if kubelet.state != "running":
            return 0
        running = sorted(
            (record.key, name)
            for record in kubelet.pods.records.values()
            for name, container in record.containers.items()
            if container.running
        )
        victims = rng.sample(running, min(count, len(running)))
        for (namespace, pod), container in victims:
            try:
                await kubelet.kill_container(namespace, pod, container)
            except LookupError:
                continue
        return len(victims)

    # -- liveness -----------------------------------------------------------------------

    async def stop_faults(self) -> None:
        """End every fault: nodes failed by operations come back, and the
        simulation runs until every scheduled fault is over."""
        for node in sorted(self._op_down):
            await self.restore_node(node)
        if self.injector is not None and self.injector.end > self.now():
            await self.run_until(at=self.injector.end)
        for node in self.node_names():
            if node in self._latency_policies:
                self.set_start_latency(node, None)
            if not self.node_up(node):
                await self.cluster.restore_node(node)

    def differences(self) -> list[Difference]:
        """How the cluster differs from its desired state now (empty: it is there)."""
        if self.view is None:
            raise RuntimeError("liveness checks need oracles=True")
        ctx = DesiredContext(
            self.view, self.clock.now(), self.node_up, frozenset(self.config.setups())
        )
        found: list[Difference] = []
        for _, check in self.config.desired_registry.select(self.config.desired_checks):
            found.extend(check(ctx))
        return found

    async def check_esr(
        self, *, bound: float | None = None, window: float | None = None
    ) -> LivenessReport:
        """Stop faults, then check that the desired state is reached within
        `bound` virtual seconds and then holds, with no pod churn, for `window`."""
        await self.stop_faults()
        bound = self.config.esr_bound if bound is None else bound
        window = self.config.esr_window if window is None else window
        started = self.now()
        deadline = started + bound
        reached_at: float | None = None
        while True:
            reached = await self._wait_for(
                lambda: not self.differences(), deadline, self._state_changed
            )
            if not reached:
                diffs = tuple(self.differences())
                lines = "; ".join(str(d) for d in diffs[:12])
                more = f" (+{len(diffs) - 12} more)" if len(diffs) > 12 else ""
                stayed = (
                    f"; it was reached at t={reached_at:g}s but did not stay"
                    if reached_at is not None
                    else ""
                )
                return LivenessReport(
                    False,
                    f"not in the desired state {bound:g} s after faults stopped "
                    f"(t={started:g}s..{self.now():g}s){stayed}: {lines}{more}",
                    started,
                    reached_at,
                    diffs,
                )
            reached_at = self.now()
            churn = self._churn

            def left_desired(churn: int = churn) -> bool:
                return self._churn != churn or bool(self.differences())

            left = await self._wait_for(left_desired, reached_at + window, self._state_changed)
            if not left:
                return LivenessReport(
                    True,
                    f"desired state reached at t={reached_at:g}s "
                    f"({reached_at - started:g} s after faults stopped) and held for {window:g} s",
                    started,
                    reached_at,
                )
            if self.now() >= deadline:
                diffs = tuple(self.differences())
                why = "; ".join(str(d) for d in diffs[:12]) or (
                    f"objects kept being created or deleted ({self._churn - churn} since)"
                )
                return LivenessReport(
                    False,
                    f"the desired state reached at t={reached_at:g}s did not hold: {why}",
                    started,
                    reached_at,
                    diffs,
                )
