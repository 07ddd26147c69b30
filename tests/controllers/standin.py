"""A test-only stand-in for the scheduler and the kubelets: it binds every
unbound pod to a fake node, reports it Running and Ready, and finishes the
graceful deletion of terminating pods (deletes them again with grace 0).

Controller tests run it next to the controllers under test so that pods come
up and go away without a real scheduler or node agent:

    standin = StandIn(client, clock, nodes=("node-a", "node-b"))
    async with anyio.create_task_group() as tg:
        tg.start_soon(standin.run)
        ...
        tg.cancel_scope.cancel()

Knobs: `nodes` are used round-robin in the order pods are seen (or `place`
picks one per pod); `ready_after` delays readiness by virtual seconds after
binding; `becomes_ready(pod)` False keeps a pod Running but never Ready (a
rollout that cannot make progress); `start_phase` lets a pod stay Pending.
`binds`, `readied` and `finished` count what it did.

It is not part of the library: the real kubelet lives in runtime/.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from datetime import datetime

import anyio
import anyio.abc

from engine.api import (
    ContainerState,
    ContainerStateRunning,
    ContainerStatus,
    Pod,
    PodCondition,
    PodStatus,
)
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError, Gone
from engine.watch import ADDED, MODIFIED


class StandIn:
    """Scheduler + kubelet stand-in for controller tests (see module docstring)."""

    def __init__(
        self,
        client: Client,
        clock: Clock,
        *,
        nodes: Sequence[str] = ("node-1",),
        place: Callable[[Pod], str] | None = None,
        ready_after: float = 0.0,
        becomes_ready: Callable[[Pod], bool] = lambda pod: True,
        namespace: str | None = None,
    ) -> None:
        if not nodes and place is None:
            raise ValueError("the stand-in needs nodes or a place function")
        self.client = client
        self.clock = clock
        self.nodes = list(nodes)
        self.place = place
        self.ready_after = ready_after
        self.becomes_ready = becomes_ready
        self.namespace = namespace
        self.binds = 0
        self.readied = 0
        self.finished = 0
        self._next_node = 0
        self._waiting: set[str] = set()  # uids whose readiness is scheduled
        self._task_group: anyio.abc.TaskGroup | None = None

    async def run(self) -> None:
        """Handle pods until cancelled."""
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            while True:
                listing = await self.client.list(Pod, namespace=self.namespace)
                for pod in listing.items:
                    await self._handle(pod)
                try:
                    watcher = await self.client.watch(
                        Pod, namespace=self.namespace, since=listing.resource_version
                    )
                except Gone:
                    continue
                try:
                    while True:
                        for event in await watcher.next_batch():
                            if event.type in (ADDED, MODIFIED) and event.object is not None:
                                await self._handle(event.object)
                except (Gone, StopAsyncIteration):
                    continue
                finally:
                    watcher.stop()

    async def _handle(self, pod: Pod) -> None:
        meta = pod.metadata
        # Conflicts and NotFound only mean a newer version is on its way.
        with contextlib.suppress(ApiError):
            if meta.deletion_timestamp is not None:
                await self.client.delete(
                    Pod, meta.name, namespace=meta.namespace, grace_period_seconds=0, uid=meta.uid
                )
                self.finished += 1
            elif not pod.spec.node_name:
                await self.client.bind(meta.name, self._node_for(pod), namespace=meta.namespace)
                self.binds += 1
            elif pod.status.phase == "Pending" and meta.uid not in self._waiting:
                if self.ready_after > 0:
                    self._waiting.add(meta.uid)
                    assert self._task_group is not None
                    self._task_group.start_soon(self._start_later, pod)
                else:
                    await self._start(pod)

    def _node_for(self, pod: Pod) -> str:
        if self.place is not None:
            return self.place(pod)
        node = self.nodes[self._next_node % len(self.nodes)]
        self._next_node += 1
        return node

    async def _start_later(self, pod: Pod) -> None:
        await self.clock.sleep(self.ready_after)
        self._waiting.discard(pod.metadata.uid)
        meta = pod.metadata
        with contextlib.suppress(ApiError):
            current = await self.client.get(Pod, meta.name, namespace=meta.namespace)
            if (
                current.metadata.uid == meta.uid
                and current.status.phase == "Pending"
                and current.metadata.deletion_timestamp is None
            ):
                await self._start(current)

    async def _start(self, pod: Pod) -> None:
        now = self.clock.now()
        ready = self.becomes_ready(pod)
        status = running_status(pod, now, ready)
        await self.client.update_status(pod.model_copy(update={"status": status}))
        if ready:
            self.readied += 1


def running_status(pod: Pod, now: datetime, ready: bool) -> PodStatus:
    """The status a kubelet reports once every container runs (Ready or not)."""
    flag = "True" if ready else "False"
    conditions = [c for c in pod.status.conditions if c.type == "PodScheduled"]
    conditions += [
        PodCondition(type="Initialized", status="True", last_transition_time=now),
        PodCondition(type="ContainersReady", status=flag, last_transition_time=now),
        PodCondition(type="Ready", status=flag, last_transition_time=now),
    ]
    statuses = [
        ContainerStatus(
            name=c.name,
            image=c.image or "",
            ready=ready,
            started=True,
            state=ContainerState(running=ContainerStateRunning(started_at=now)),
        )
        for c in pod.spec.containers
    ]
    return pod.status.model_copy(
        update={
            "phase": "Running",
            "conditions": conditions,
            "container_statuses": statuses,
            "start_time": now,
        }
    )
