"""`NodeAgentPool`: thousands of simulated nodes' kubelets in one process.

Role: what makes a 5,000-node cluster cheap. A pool runs

* one pod informer over all pods, indexed by spec.nodeName, whose events an
  `InformerPodSource` routes to the kubelet of each pod's node (instead of
  one watch per node);
* one worker task that processes whichever kubelets have work (a due
  heartbeat, dirty pods), in the order they asked, instead of a task per
  kubelet.

Each kubelet keeps its own timers (heartbeat, backoff, probes), runtime and
RNG (`random.Random("<pool seed>/<node name>")`), so adding a node never
changes what another one does. Nodes may be added before or while the pool
runs; kubelets are started (registered) in the order they were added.

Contract: `async with NodeAgentPool(...) as pool:` returns once every
kubelet added so far has registered its Node and Lease; leaving it stops the
worker and the informer and cancels every kubelet's timers (containers are
left to their runtimes). `pool.kubelet(name)` gives a node's `Kubelet`, on
which the fault controls live. The pool suits runtimes whose calls are quick
(the simulated one): one slow call delays every node of the pool.

Large simulations: with tens of thousands of live objects, CPython's cyclic
garbage collector becomes a large share of the run time; calling
`gc.collect(); gc.freeze()` once the nodes are up (and raising the first
`gc.set_threshold`) cuts it by a third or more. The pool leaves that process-wide
choice to its caller.

Neighbours: `runtime.kubelet.kubelet`, `runtime.kubelet.podsource`,
`runtime.runtimes.simulated` (the default runtime for pooled nodes).
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc

from engine.api import core
from engine.client import Client
from engine.clock import Clock
from engine.events import EventRecorder
from engine.informer import SharedInformer
from runtime.kubelet.config import KubeletConfig
from runtime.kubelet.kubelet import Kubelet
from runtime.kubelet.podsource import InformerPodSource
from runtime.runtimes.behavior import SimulationPolicy
from runtime.runtimes.protocol import ContainerRuntime
from runtime.runtimes.simulated import RequestRate, SimulatedRuntime

__all__ = ["NodeAgentPool", "PoolStatistics", "RuntimeFactory"]

RuntimeFactory = Callable[[KubeletConfig, random.Random], ContainerRuntime]


@dataclass(frozen=True, slots=True)
class PoolStatistics:
    nodes: int
    running: int
    partitioned: int
    pods: int
    lease_renewals: int
    status_posts: int
    pod_syncs: int
    wakeups: int


class NodeAgentPool:
    """Kubelets of many nodes sharing one pod watch and one worker (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        *,
        clock: Clock,
        rng: random.Random | None = None,
        policy: SimulationPolicy | None = None,
        runtime_factory: RuntimeFactory | None = None,
        pod_informer: SharedInformer[core.Pod] | None = None,
        request_rate: RequestRate | None = None,
    ) -> None:
        self.client = client
        self.request_rate = request_rate
        self.clock = clock
        self.seed = (rng or random.Random(0)).getrandbits(64)
        self.policy = policy or SimulationPolicy()
        self._runtime_factory = runtime_factory or self._simulated_runtime
        self._own_informer = pod_informer is None
        self.informer: SharedInformer[core.Pod] = pod_informer or SharedInformer(
            client, core.Pod, clock=clock
        )
        self.source = InformerPodSource(self.informer)
        self._kubelets: dict[str, Kubelet] = {}
        self._to_start: deque[Kubelet] = deque()
        self._ready: deque[Kubelet] = deque()
        self._queued: set[str] = set()
        self._event = asyncio.Event()
        self._stack: AsyncExitStack | None = None
        self._task_group: anyio.abc.TaskGroup | None = None
        self.wakeups = 0
        # One recorder for every kubelet of the pool (source host = each
        # node); it writes while the worker is idle, as the scheduler's does.
        self.recorder = EventRecorder(
            client, clock, "kubelet", busy=lambda: bool(self._ready or self._to_start)
        )

    def _simulated_runtime(self, config: KubeletConfig, rng: random.Random) -> ContainerRuntime:
        return SimulatedRuntime(
            clock=self.clock, rng=rng, policy=self.policy, request_rate=self.request_rate
        )

    # -- nodes -------------------------------------------------------------------------

    def add_node(self, config: KubeletConfig, runtime: ContainerRuntime | None = None) -> Kubelet:
        """Add a node; it registers once the pool runs (at once if it already does)."""
        name = config.node_name
        if name in self._kubelets:
            raise ValueError(f"node {name!r} is already in the pool")
        rng = random.Random(f"{self.seed}/{name}")
        if runtime is None:
            runtime = self._runtime_factory(config, random.Random(f"{self.seed}/{name}/runtime"))
        kubelet = Kubelet(
            self.client, runtime, config, clock=self.clock, rng=rng, recorder=self.recorder
        )
        kubelet.attach(self.source, self._wake)
        self._kubelets[name] = kubelet
        self._to_start.append(kubelet)
        self._event.set()
        return kubelet

    def add_nodes(self, count: int, *, prefix: str = "node-", **overrides: Any) -> list[Kubelet]:
        """Add `count` nodes named `<prefix><i>` with distinct pod CIDRs and addresses."""
        start = len(self._kubelets)
        return [
            self.add_node(KubeletConfig.for_node(f"{prefix}{i}", i, **overrides))
            for i in range(start, start + count)
        ]

    async def remove_node(self, node_name: str) -> Kubelet:
        """Take a node out of the pool: its kubelet stops (containers are
        stopped, heartbeats end) and is forgotten. Its Node object is the
        caller's to delete."""
        kubelet = self.kubelet(node_name)
        del self._kubelets[node_name]
        if kubelet in self._to_start:
            self._to_start.remove(kubelet)
        await kubelet.stop()
        kubelet.close()
        return kubelet

    def kubelet(self, node_name: str) -> Kubelet:
        try:
            return self._kubelets[node_name]
        except KeyError:
            raise KeyError(f"no node {node_name!r} in the pool") from None

    def __iter__(self) -> Iterator[Kubelet]:
        return iter(list(self._kubelets.values()))

    def __len__(self) -> int:
        return len(self._kubelets)

    def statistics(self) -> PoolStatistics:
        stats = [k.statistics() for k in self._kubelets.values()]
        return PoolStatistics(
            nodes=len(stats),
            running=sum(s.state == "running" for s in stats),
            partitioned=sum(s.partitioned for s in stats),
            pods=sum(s.pods for s in stats),
            lease_renewals=sum(s.lease_renewals for s in stats),
            status_posts=sum(s.status_posts for s in stats),
            pod_syncs=sum(s.pod_syncs for s in stats),
            wakeups=self.wakeups,
        )

    # -- running -----------------------------------------------------------------------

    def _wake(self, kubelet: Kubelet) -> None:
        name = kubelet.node_name
        if name not in self._queued:
            self._queued.add(name)
            self._ready.append(kubelet)
            self._event.set()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Run until cancelled; `task_status.started()` once the initial nodes registered."""
        try:
            async with anyio.create_task_group() as tg:
                if self._own_informer:
                    tg.start_soon(self.informer.run)
                tg.start_soon(self.recorder.run)
                await self.informer.wait_for_sync()
                await self._start_pending()
                task_status.started()
                await self._work()
        finally:
            for kubelet in self._kubelets.values():
                kubelet.close()

    async def _start_pending(self) -> None:
        while self._to_start:
            await self._to_start.popleft().start()

    async def _work(self) -> None:
        ready = self._ready
        while True:
            if not ready and not self._to_start:
                self.recorder.notify_idle()
                self._event.clear()
                await self._event.wait()
            await self._start_pending()
            while ready:
                kubelet = ready.popleft()
                self._queued.discard(kubelet.node_name)
                self.wakeups += 1
                await kubelet.process()

    async def __aenter__(self) -> NodeAgentPool:
        stack = AsyncExitStack()
        tg = await stack.enter_async_context(anyio.create_task_group())
        self._task_group = tg
        self._stack = stack
        try:
            await tg.start(self.run)
        except BaseException:
            tg.cancel_scope.cancel()
            await stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc_info: Any) -> bool | None:
        stack, self._stack = self._stack, None
        assert stack is not None and self._task_group is not None
        self._task_group.cancel_scope.cancel()
        self._task_group = None
        # The body's own exception propagates as it is, not wrapped in the task
        # group's ExceptionGroup.
        await stack.__aexit__(None, None, None)
        return None
