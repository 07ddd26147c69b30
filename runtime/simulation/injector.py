"""`FaultInjector`: applies a fault schedule to a running simulation.

It owns the schedule (faults can be added while the simulation runs: the
hypothesis state machine injects them step by step), one seeded RNG per fault
(`random.Random("<seed>/fault/<index>")`, so a fault's coin flips do not
depend on any other fault), and a timer per fault start and end on the
simulation's clock.

Faults of a controller's reads, watches and writes are decided by the
`FaultyClient` of that controller (`runtime.simulation.chaos`), which asks
the injector on every call. Faults that happen at an instant are carried out
by the timers: watches broken (watch_gone, the start of a reconnecting
stale_reads, the end of a watch_drop, which forces the relist that recovers
the lost events), crashes armed or done, and node faults through
`NodeControls`. `counts` says how often each fault kind took effect.

Neighbours: `runtime.simulation.faults` (the data), `runtime.simulation.chaos`
(clients asking), `runtime.simulation.hosting` (controllers crashing),
`runtime.simulation.simulation` (provides the node controls).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from engine.clock import Clock
from runtime.simulation.faults import (
    ContainerCrash,
    ControllerCrash,
    Fault,
    NodeCrash,
    NodePartition,
    NodeSlowStart,
    StaleReads,
    WatchDelay,
    WatchDrop,
    WatchDuplicate,
    WatchGone,
    WatchReorder,
    WriteErrors,
    _ControllerFault,
)
from runtime.simulation.history import StoreHistory

if TYPE_CHECKING:
    from runtime.simulation.chaos import FaultyClient

__all__ = ["FaultInjector", "NodeControls", "WatchHold"]

F = TypeVar("F", bound=_ControllerFault)


class NodeControls(Protocol):
    """What node faults act through (the simulation implements it)."""

    async def crash_node(self, node: str) -> None: ...

    async def partition_node(self, node: str) -> None: ...

    async def end_node_fault(self, node: str) -> None:
        """A crash or partition of `node` is over (others may still hold it down)."""
        ...

    def set_start_latency(self, node: str, latency: float | None) -> None: ...

    async def kill_containers(self, node: str, count: int, rng: random.Random) -> int: ...


class WatchHold:
    """How long an event is held back: at least `seconds`, and until the store
    is `revisions` writes past it."""

    __slots__ = ("revisions", "seconds")

    def __init__(self, seconds: float, revisions: int) -> None:
        self.seconds = seconds
        self.revisions = revisions


class FaultInjector:
    """Applies faults (see the module docstring)."""

    def __init__(
        self,
        *,
        clock: Clock,
        seed: int,
        nodes: NodeControls,
        spawn: Callable[[Callable[[], Awaitable[object]]], None],
        history: StoreHistory | None = None,
        watch_faults: bool = True,
        exemptions: Mapping[str, frozenset[str]] | None = None,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.nodes = nodes
        self.history = history
        self._spawn = spawn
        self.faults: list[Fault] = []
        self._rngs: list[random.Random] = []
        # The faults of each class asked about, in order: every watch event
        # and write asks about three or four classes, most of which no
        # fault of the run has.
        self._of_class: dict[type, list[tuple[Any, random.Random]]] = {}
        self.clients: dict[str, FaultyClient] = {}
        self.counts: Counter[str] = Counter()
        # Whether clients interpose on watches: decided up front, so informers
        # started before a fault is injected are affected too.
        self.watch_faults = watch_faults
        # Effects a controller is spared ("write_errors:timeout", or a fault
        # kind): known issues awaiting a fix, so fuzzing can go on around them.
        self.exemptions = dict(exemptions or {})

    # -- schedule ---------------------------------------------------------------------

    def add(self, fault: Fault) -> int:
        """Schedule `fault` (its `at` is absolute virtual time); returns its index."""
        index = len(self.faults)
        self.faults.append(fault)
        self._rngs.append(random.Random(f"{self.seed}/fault/{index}"))
        self._of_class.clear()
        self.clock.call_later(fault.at - self.clock.monotonic(), lambda: self._start(index))
        return index

    @property
    def end(self) -> float:
        """When every fault added so far is over."""
        return max((f.end for f in self.faults), default=0.0)

    def exempt(self, controller: str, effect: str) -> bool:
        return effect in self.exemptions.get(controller, ())

    def _active(
        self, cls: type[F], controller: str, informer: str | None
    ) -> Iterator[tuple[F, random.Random]]:
        of_class = self._of_class.get(cls)
        if of_class is None:
            of_class = self._of_class[cls] = [
                (f, r) for f, r in zip(self.faults, self._rngs) if isinstance(f, cls)
            ]
        if not of_class:
            return
        now = self.clock.monotonic()
        spared = self.exemptions.get(controller, ())
        for fault, rng in of_class:
            if fault.kind in spared:
                continue
            if fault.active(now) and fault.targets(controller, informer):
                yield fault, rng

    def _clients(
        self, fault: WatchGone | StaleReads | WatchDrop | ControllerCrash
    ) -> list[FaultyClient]:
        if fault.controller is None:
            clients = list(self.clients.values())
        else:
            client = self.clients.get(fault.controller)
            clients = [] if client is None else [client]
        return [c for c in clients if not self.exempt(c.controller, fault.kind)]

    # -- questions from clients -----------------------------------------------------------

    def read_revision(self, controller: str, informer: str, *, cache: bool) -> int | None:
        """The revision reads of `informer`'s kind are served at, or None
        (current). `cache`: the read is an informer's list."""
        if self.history is None:
            return None
        revision: int | None = None
        for fault, _ in self._active(StaleReads, controller, informer):
            if not cache and fault.scope != "all":
                continue
            lagged = self.history.revision_lagging(
                revisions=fault.lag_revisions, seconds=fault.lag_seconds
            )
            revision = lagged if revision is None else min(revision, lagged)
        if revision is not None:
            self.counts["stale_reads"] += 1
        return revision

    def write_error(self, controller: str, verb: str) -> str | None:
        """ "conflict", "server_error", "timeout" or None for one write."""
        for fault, rng in self._active(WriteErrors, controller, None):
            if rng.random() < fault.probability:
                choices = [
                    e
                    for e in fault.errors
                    if (e != "conflict" or verb in _CONFLICTABLE)
                    and not self.exempt(controller, f"write_errors:{e}")
                ]
                if choices:
                    error = rng.choice(choices)
                    self.counts[f"write_errors:{error}"] += 1
                    return error
        return None

    def drop(self, controller: str, informer: str) -> bool:
        for fault, rng in self._active(WatchDrop, controller, informer):
            if rng.random() < fault.probability:
                self.counts["watch_drop"] += 1
                return True
        return False

    def duplicate(self, controller: str, informer: str) -> bool:
        for fault, rng in self._active(WatchDuplicate, controller, informer):
            if rng.random() < fault.probability:
                self.counts["watch_duplicate"] += 1
                return True
        return False

    def hold(self, controller: str, informer: str) -> WatchHold | None:
        """How long the next batch of `informer` events is held back, if at all."""
        seconds = 0.0
        revisions = 0
        held = False
        for delay, _ in self._active(WatchDelay, controller, informer):
            seconds = max(seconds, delay.delay)
            held = True
        for reorder, rng in self._active(WatchReorder, controller, informer):
            seconds = max(seconds, rng.uniform(0.0, reorder.jitter))
            held = True
        for stale, _ in self._active(StaleReads, controller, informer):
            seconds = max(seconds, stale.lag_seconds)
            revisions = max(revisions, stale.lag_revisions)
            held = True
        if not held:
            return None
        self.counts["watch_hold"] += 1
        return WatchHold(seconds, revisions)

    # -- timers -----------------------------------------------------------------------------

    def _start(self, index: int) -> None:
        fault = self.faults[index]
        rng = self._rngs[index]
        if isinstance(fault, WatchDrop | NodeCrash | NodePartition | NodeSlowStart):
            # Timed from the start, so an end never runs before its start.
            self.clock.call_later(fault.duration, lambda: self._end(index))
        if isinstance(fault, WatchGone):
            self.counts["watch_gone"] += 1
            for client in self._clients(fault):
                client.break_watches(fault.informer, relist=fault.relist)
        elif isinstance(fault, StaleReads):
            if fault.reconnect:
                self.counts["stale_reconnect"] += 1
                for client in self._clients(fault):
                    client.break_watches(fault.informer, relist=True)
        elif isinstance(fault, ControllerCrash):
            for client in self._clients(fault):
                if fault.after_writes == 0:
                    self.counts["controller_crash"] += 1
                    client.crash(fault.restart_after)
                else:
                    client.arm_crash(fault.after_writes, fault.restart_after)
        elif isinstance(fault, NodeCrash):
            self.counts["node_crash"] += 1
            node = fault.node
            self._spawn(lambda: self.nodes.crash_node(node))
        elif isinstance(fault, NodePartition):
            self.counts["node_partition"] += 1
            node = fault.node
            self._spawn(lambda: self.nodes.partition_node(node))
        elif isinstance(fault, NodeSlowStart):
            self.counts["node_slow_start"] += 1
            self.nodes.set_start_latency(fault.node, fault.latency)
        elif isinstance(fault, ContainerCrash):
            self.counts["container_crash"] += 1
            node, count = fault.node, fault.count
            self._spawn(lambda: self.nodes.kill_containers(node, count, rng))
        elif isinstance(fault, WatchDelay | WatchDrop | WatchDuplicate | WatchReorder):
            self.counts[f"{fault.kind}:windows"] += 1
        elif isinstance(fault, WriteErrors):
            self.counts["write_errors:windows"] += 1

    def _end(self, index: int) -> None:
        fault = self.faults[index]
        if isinstance(fault, WatchDrop):
            # Lost events come back only through a relist: force one.
            for client in self._clients(fault):
                client.break_watches(fault.informer, relist=True)
        elif isinstance(fault, NodeCrash | NodePartition):
            node = fault.node
            self._spawn(lambda: self.nodes.end_node_fault(node))
        elif isinstance(fault, NodeSlowStart):
            self.nodes.set_start_latency(fault.node, None)

    def node_down(self, node: str) -> bool:
        """Whether a crash or partition fault of `node` is in effect now."""
        now = self.clock.monotonic()
        return any(
            isinstance(f, NodeCrash | NodePartition) and f.node == node and f.active(now)
            for f in self.faults
        )


_CONFLICTABLE = frozenset({"update", "update_status", "patch", "scale"})
