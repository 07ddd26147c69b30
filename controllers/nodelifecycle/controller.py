"""The node lifecycle controller: node health from heartbeats, and NoExecute tainting.

Role: kube-controller-manager's node-lifecycle-controller. It watches Nodes
and the node Leases in `kube-node-lease` and, every `node_monitor_period`
(5 s), looks at every node:

* Health: the controller notes, on its own clock, when it last saw the
  node's Lease renewed or its Ready condition's heartbeat move (the probe
  time). A node not heard from for `node_monitor_grace_period` (50 s; 60 s
  for a node that never posted) gets Ready, MemoryPressure, DiskPressure and
  PIDPressure Unknown ("Kubelet stopped posting node status."). When a
  node's Ready leaves True, the Ready condition of each of its pods is set
  False.
* Taints: NoSchedule not-ready / unreachable / unschedulable follow the
  node's conditions at once. The NoExecute not-ready (Ready False) or
  unreachable (Ready Unknown) taint is queued per zone and applied at
  `node_eviction_rate` (0.1 nodes/s, the first at once), or the secondary
  rate / not at all in a partially disrupted zone, and not at all while
  every zone is fully disrupted (then the NoExecute taints are removed, as
  Kubernetes does, since the control plane itself is the likely fault). A
  node that turns Ready loses its NoExecute taints at once; one that is
  tainted with the other key swaps at once.

What the taints do to pods is `controllers.nodelifecycle.tainteviction`'s
job; pods of deleted nodes are `controllers.nodelifecycle.podgc`'s.

Writes retry on the next pass when they conflict. Cost: one dict update per
Lease renewal observed and a few comparisons per node per pass.

Neighbours: `controllers.nodelifecycle.health` (pure rules), the kubelet
(renews Leases, posts status; `runtime.kubelet`), `engine.informer`.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import anyio

from controllers.nodelifecycle.config import NodeLifecycleConfig
from controllers.nodelifecycle.health import (
    ZoneState,
    desired_no_execute,
    desired_no_schedule,
    no_execute_keys,
    ready_status,
    unknown_conditions,
    with_taints,
    zone_key,
    zone_state,
)
from engine.api import core
from engine.api.coordination import Lease
from engine.cache import index_pods_by_node
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError, Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.logging import get_logger
from engine.manager import Manager

__all__ = ["NODE_INDEX", "NodeLifecycleController", "NodeLifecycleStatistics"]

log = get_logger("nodelifecycle")
NODE_INDEX = "spec.nodeName"
NODE_LEASE_NAMESPACE = "kube-node-lease"


@dataclass(slots=True)
class _Health:
    probe: float  # monotonic time the node was last heard from
    heartbeat: datetime | None = None
    lease_renew: datetime | None = None
    observed_ready: str = "Unknown"
    pods_marked: bool = False
    checked: core.Node | None = None  # the node object the last pass fully handled
    checked_grace: float = 0.0  # the grace period that applied to it
    zone: str = ""


class _TokenBucket:
    """client-go's token bucket with burst 1 (full at creation), on monotonic time."""

    def __init__(self, qps: float, now: float) -> None:
        self.qps = qps
        self.tokens = 1.0
        self.last = now

    def _refill(self, now: float) -> None:
        if self.qps > 0:
            self.tokens = min(1.0, self.tokens + (now - self.last) * self.qps)
        self.last = now

    def try_accept(self, now: float) -> bool:
        self._refill(now)
        if self.qps > 0 and self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_time(self, now: float) -> float:
        self._refill(now)
        if self.qps <= 0:
            return math.inf
        return max(0.0, (1.0 - self.tokens) / self.qps)


@dataclass(slots=True)
class _ZoneTainter:
    bucket: _TokenBucket
    queue: deque[str] = field(default_factory=deque)
    queued: set[str] = field(default_factory=set)
    state: ZoneState = "Normal"


@dataclass(frozen=True, slots=True)
class NodeLifecycleStatistics:
    nodes: int
    unknown_marked: int
    no_execute_tainted: int
    pods_marked_not_ready: int
    zones: dict[str, ZoneState]
    master_disruption: bool


class NodeLifecycleController:
    """Node health and NoExecute tainting (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        *,
        clock: Clock,
        config: NodeLifecycleConfig | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.config = config or NodeLifecycleConfig()
        self.nodes = factory.informer(core.Node)
        # The cluster-wide Lease informer, shared with other controllers (the
        # garbage collector), as kube-controller-manager shares it: a second,
        # namespaced watch would wake one more task on every heartbeat.
        self.leases = factory.informer(Lease)
        self.pods = factory.informer(core.Pod)
        with contextlib.suppress(ValueError):
            self.pods.add_indexer(NODE_INDEX, index_pods_by_node)
        self._health: dict[str, _Health] = {}
        self._zones: dict[str, _ZoneTainter] = {}
        self._master_disruption = False
        self._tainter_wake = asyncio.Event()
        self.unknown_marked = 0
        self.no_execute_tainted = 0
        self.pods_marked_not_ready = 0
        self.recorder = EventRecorder(client, clock, "node-controller")
        # uids of the Nodes this controller announced (RegisteredNode).
        self._registered: set[str] = set()
        self.leases.add_event_handler(
            EventHandler(add=self._observe_lease, update=lambda old, new: self._observe_lease(new))
        )
        self.nodes.add_event_handler(
            EventHandler(
                add=self._observe_node,
                update=lambda old, new: self._observe_node(new),
                delete=self._forget_node,
            )
        )

    def register(self, manager: Manager) -> None:
        manager.add_runnable(self.run_monitor)
        manager.add_runnable(self.run_tainter)
        manager.add_runnable(self.recorder.run)

    def statistics(self) -> NodeLifecycleStatistics:
        return NodeLifecycleStatistics(
            nodes=len(self.nodes.cache),
            unknown_marked=self.unknown_marked,
            no_execute_tainted=self.no_execute_tainted,
            pods_marked_not_ready=self.pods_marked_not_ready,
            zones={zone: z.state for zone, z in sorted(self._zones.items())},
            master_disruption=self._master_disruption,
        )

    # -- observations ------------------------------------------------------------------

    def _health_of(self, name: str) -> _Health:
        health = self._health.get(name)
        if health is None:
            health = self._health[name] = _Health(probe=self.clock.monotonic())
        return health

    def _observe_lease(self, lease: Lease) -> None:
        if lease.metadata.namespace != NODE_LEASE_NAMESPACE:
            return
        renew = lease.spec.renew_time
        health = self._health_of(lease.metadata.name)
        if renew is not None and (health.lease_renew is None or renew > health.lease_renew):
            health.lease_renew = renew
            health.probe = self.clock.monotonic()

    def _observe_node(self, node: core.Node) -> None:
        health = self._health_of(node.metadata.name)
        ready = node.status.condition("Ready")
        heartbeat = ready.last_heartbeat_time if ready is not None else None
        if heartbeat != health.heartbeat:
            health.heartbeat = heartbeat
            health.probe = self.clock.monotonic()

    def _forget_node(self, obj: core.Node | DeletedFinalStateUnknown[Any]) -> None:
        node = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        name = node.metadata.name
        if node.metadata.uid in self._registered:
            self._registered.discard(node.metadata.uid)
            self._node_event(node, "RemovingNode", f"Removing Node {name} from Controller")
        self._health.pop(name, None)
        for tainter in self._zones.values():
            tainter.queued.discard(node.metadata.name)

    # -- the monitor pass --------------------------------------------------------------

    async def run_monitor(self) -> None:
        await self.nodes.wait_for_sync()
        await self.leases.wait_for_sync()
        while True:
            try:
                await self.monitor_once()
            except ApiError as error:
                # A failed write ends this pass only; the next pass redoes it.
                log.warning("node monitor pass failed", error=str(error), reason=error.reason)
            await self.clock.sleep(self.config.node_monitor_period)

    async def monitor_once(self) -> None:
        """One pass over every node (Kubernetes' monitorNodeHealth)."""
        now = self.clock.now()
        now_mono = self.clock.monotonic()
        counts: dict[str, list[int]] = {}
        known = self._health
        registered = self._registered
        for node in self.nodes.cache.list():
            name = node.metadata.name
            if node.metadata.uid not in registered:
                registered.add(node.metadata.uid)
                self._node_event(node, "RegisteredNode", f"Registered Node {name} in Controller")
            health = known.get(name) or self._health_of(name)
            if node is health.checked and now_mono - health.probe <= health.checked_grace:
                # Unchanged since the last pass and heard from in time: nothing to do
                # (the common case, kept cheap: every node, every 5 s).
                count = counts.get(health.zone) or counts.setdefault(health.zone, [0, 0])
                count[0 if health.observed_ready == "True" else 1] += 1
                continue
            expired = now_mono - health.probe > self._grace(node)
            if expired and _needs_unknown(node):
                updated = await self._write_status(
                    node,
                    node.status.model_copy(
                        update={"conditions": unknown_conditions(node.status, now)}
                    ),
                )
                if updated is not None:
                    node = updated
                    self.unknown_marked += 1
                    log.info("node stopped posting status", node=name)
            status = ready_status(node)
            if status != "True" and health.observed_ready == "True":
                self.recorder.record(
                    node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady"
                )
            if status != "True" and (health.observed_ready == "True" or not health.pods_marked):
                health.pods_marked = await self._mark_pods_not_ready(name, now)
            if status == "True":
                health.pods_marked = False
            health.observed_ready = status
            zone = health.zone = zone_key(node)
            count = counts.setdefault(zone, [0, 0])
            count[0 if status == "True" else 1] += 1
            checked = health.checked = await self._reconcile_taints(node, zone, now)
            if checked is not None:
                health.checked_grace = self._grace(checked)
        self._handle_disruption(counts, now_mono)
        if any(z.queue for z in self._zones.values()):
            self._tainter_wake.set()

    def _grace(self, node: core.Node) -> float:
        """How long the node may go unheard from before it is marked Unknown."""
        if node.status.condition("Ready") is None:
            return self.config.node_startup_grace_period
        return self.config.node_monitor_grace_period

    async def _reconcile_taints(
        self, node: core.Node, zone: str, now: datetime
    ) -> core.Node | None:
        """Bring the node's taints in line; returns the node if it needs no more
        work until it changes (None: look again next pass)."""
        name = node.metadata.name
        want = desired_no_execute(node)
        have = no_execute_keys(node)
        tainter = self._zone(zone)
        if want is None or self._master_disruption:
            no_execute: set[str] = set()
            tainter.queued.discard(name)
        elif want in have:
            no_execute = {want}
        elif have:
            no_execute = {want}  # swap not-ready <-> unreachable at once
        else:
            no_execute = set()
            if name not in tainter.queued:
                tainter.queued.add(name)
                tainter.queue.append(name)
        taints = with_taints(node, desired_no_schedule(node), no_execute, now)
        if taints is not None:
            return await self._write_taints(node, taints)
        return node if want is None or want in have else None

    def _zone(self, zone: str) -> _ZoneTainter:
        tainter = self._zones.get(zone)
        if tainter is None:
            tainter = self._zones[zone] = _ZoneTainter(
                _TokenBucket(self.config.node_eviction_rate, self.clock.monotonic())
            )
        return tainter

    def _handle_disruption(self, counts: dict[str, list[int]], now_mono: float) -> None:
        states = {
            zone: zone_state(ready, not_ready, self.config.unhealthy_zone_threshold)
            for zone, (ready, not_ready) in counts.items()
        }
        all_down = bool(states) and all(s == "FullDisruption" for s in states.values())
        if all_down and not self._master_disruption:
            log.warning("every node is not ready: pausing NoExecute tainting")
            self._master_disruption = True
            for tainter in self._zones.values():
                tainter.queue.clear()
                tainter.queued.clear()
        elif not all_down and self._master_disruption:
            log.info("nodes are ready again: resuming NoExecute tainting")
            self._master_disruption = False
            for health in self._health.values():
                health.probe = now_mono  # give every node a fresh grace period
        for zone, state in states.items():
            tainter = self._zone(zone)
            tainter.state = state
            size = sum(counts[zone])
            if self._master_disruption:
                qps = 0.0
            elif state == "PartialDisruption":
                qps = (
                    self.config.secondary_node_eviction_rate
                    if size > self.config.large_cluster_size_threshold
                    else 0.0
                )
            else:
                qps = self.config.node_eviction_rate
            if qps != tainter.bucket.qps:
                tainter.bucket = _TokenBucket(qps, now_mono)

    # -- rate-limited NoExecute tainting -----------------------------------------------

    async def run_tainter(self) -> None:
        while True:
            try:
                wait = await self.taint_once()
            except ApiError as error:
                # The node is queued again by the next monitor pass.
                log.warning("NoExecute tainting failed", error=str(error), reason=error.reason)
                wait = self.config.node_monitor_period
            self._tainter_wake.clear()
            if math.isinf(wait):
                await self._tainter_wake.wait()
            else:
                with anyio.move_on_after(wait):
                    await self._tainter_wake.wait()

    async def taint_once(self) -> float:
        """Apply queued NoExecute taints the rate limits allow; returns how long
        until the next one may be applied (inf when nothing waits)."""
        wait = math.inf
        for zone in sorted(self._zones):
            tainter = self._zones[zone]
            while tainter.queue:
                now_mono = self.clock.monotonic()
                if not tainter.bucket.try_accept(now_mono):
                    wait = min(wait, tainter.bucket.wait_time(now_mono))
                    break
                name = tainter.queue.popleft()
                if name not in tainter.queued:
                    continue  # no longer wanted
                tainter.queued.discard(name)
                await self._apply_no_execute(name)
        return wait

    async def _apply_no_execute(self, name: str) -> None:
        node = self.nodes.cache.get(name)
        if node is None:
            return
        want = desired_no_execute(node)
        if want is None:
            return
        taints = with_taints(node, desired_no_schedule(node), {want}, self.clock.now())
        if taints is not None and await self._write_taints(node, taints) is not None:
            self.no_execute_tainted += 1
            log.info("node tainted NoExecute", node=name, taint=want)

    # -- writes ------------------------------------------------------------------------

    async def _write_status(self, node: core.Node, status: core.NodeStatus) -> core.Node | None:
        try:
            return await self.client.update_status(node.model_copy(update={"status": status}))
        except (Conflict, NotFound):
            return None  # next pass

    async def _write_taints(self, node: core.Node, taints: list[core.Taint]) -> core.Node | None:
        try:
            return await self.client.update(
                node.model_copy(update={"spec": node.spec.model_copy(update={"taints": taints})})
            )
        except (Conflict, NotFound):
            return None  # next pass

    def _node_event(self, node: core.Node, reason: str, event: str) -> None:
        """A node event worded as Kubernetes' RecordNodeEvent words them."""
        message = f"Node {node.metadata.name} event: {event}"
        self.recorder.record(node, "Normal", reason, message)

    async def _mark_pods_not_ready(self, node_name: str, now: datetime) -> bool:
        """Set Ready=False on every pod of the node (Kubernetes' MarkPodsNotReady)."""
        done = True
        for pod in self.pods.cache.by_index(NODE_INDEX, node_name):
            ready = pod.status.condition("Ready")
            if ready is None or ready.status != "True":
                continue
            conditions = [
                c.model_copy(update={"status": "False", "last_transition_time": now})
                if c.type == "Ready"
                else c
                for c in pod.status.conditions
            ]
            try:
                await self.client.update_status(
                    pod.model_copy(
                        update={"status": pod.status.model_copy(update={"conditions": conditions})}
                    )
                )
                self.pods_marked_not_ready += 1
                self.recorder.record(pod, "Warning", "NodeNotReady", "Node is not ready")
            except NotFound:
                continue
            except Conflict:
                done = False
        return done


def _needs_unknown(node: core.Node) -> bool:
    conditions = {c.type: c.status for c in node.status.conditions}
    return any(
        conditions.get(ctype) != "Unknown"
        for ctype in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
    )
