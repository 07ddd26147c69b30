"""`ClusterAutoscaler`: Cluster Autoscaler's RunOnce loop on the injected clock.

Every `scan_interval` (10 s) it:

1. Checks provisioning: a requested node that has not registered within
   `max_node_provision_time` is a failed scale-up; the instance is cancelled
   and its group backs off exponentially (`backoff`). A request whose nodes
   all registered ends the group's back-off.
2. Scales up (`scaleup.plan_scale_up`) for pods the scheduler marked
   unschedulable (PodScheduled False, reason Unschedulable) that fit neither an
   existing nor an upcoming node, with the scheduler's own filters on the
   groups' template nodes; grows the chosen group, and records
   TriggeredScaleUp (or NotTriggerScaleUp, with why) on the pods.
3. Scales down (`scaledown.find_unneeded`): keeps, per node, the time since it
   was first found unneeded; once a node has been unneeded for
   `scale_down_unneeded_time` and no cooldown holds (delay after add, after
   delete, after failure), deletes it without taking its group below its
   minimum: empty nodes in bulk (up to `max_empty_bulk_delete`), otherwise
   one non-empty node at a time, tainted ToBeDeletedByClusterAutoscaler
   (NoSchedule), drained through the eviction API (PodDisruptionBudgets
   honoured, refused evictions retried for `max_pod_eviction_time`), then
   deleted through its group. A failed drain removes the taint and starts the
   delay after failure.
4. Writes the status ConfigMap (`status`) and records the events (component
   "cluster-autoscaler").

Only nodes of the provider's groups are scaled; other nodes take pods but are
never removed. All decisions happen synchronously between two awaits, on a
simulator fed by the node and pod informers, so one loop sees one state.

Neighbours: `options`, `provider` (the protocols the runtime implements),
`scaleup`, `scaledown`, `drainability`, `expander`, `backoff`, `status`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc

from controllers.clusterautoscaler.backoff import Backoff
from controllers.clusterautoscaler.drainability import Budgets, pods_to_move
from controllers.clusterautoscaler.expander import PRIORITY_CONFIG_MAP, parse_priorities
from controllers.clusterautoscaler.options import AutoscalingOptions
from controllers.clusterautoscaler.provider import CloudProvider, NodeGroup, Simulator
from controllers.clusterautoscaler.scaledown import (
    TO_BE_DELETED_TAINT,
    Removal,
    find_unneeded,
    is_candidate,
)
from controllers.clusterautoscaler.scaleup import plan_scale_up
from controllers.clusterautoscaler.status import Condition, GroupStatus, format_status, go_time
from engine.api.base import ObjectMeta
from engine.api.core import ConfigMap, Node, Pod, Taint
from engine.api.policy import PodDisruptionBudget
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError, Conflict, NotFound, TooManyRequests
from engine.events import EventRecorder
from engine.informer import DeletedFinalStateUnknown, InformerFactory
from engine.logging import get_logger

__all__ = ["AutoscalerState", "ClusterAutoscaler"]

log = get_logger("clusterautoscaler")
COMPONENT = "cluster-autoscaler"
LAST_UPDATED = "cluster-autoscaler.kubernetes.io/last-updated"
EVICTION_RETRY = 5.0


@dataclass(frozen=True, slots=True)
class AutoscalerState:
    """A snapshot of what the autoscaler knows (`ClusterAutoscaler.state()`)."""

    loops: int
    target_sizes: dict[str, int]
    registered: dict[str, int]
    upcoming: dict[str, int]
    unneeded: dict[str, float]
    """node -> seconds it has been unneeded."""
    deleting: tuple[str, ...]
    backed_off: dict[str, float]
    """group -> seconds of back-off left."""
    scale_ups: int
    scale_downs: int
    failed_scale_ups: int
    failed_scale_downs: int
    last_scale_up: float | None
    last_scale_down: float | None


def _pending_unschedulable(pod: Pod) -> bool:
    if pod.spec.node_name or pod.metadata.deletion_timestamp is not None:
        return False
    if pod.status.phase in ("Succeeded", "Failed"):
        return False
    condition = pod.status.condition("PodScheduled")
    return (
        condition is not None
        and condition.status == "False"
        and condition.reason == "Unschedulable"
    )


class ClusterAutoscaler:
    """See the module docstring."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        provider: CloudProvider,
        simulator: Simulator,
        *,
        clock: Clock,
        rng: random.Random,
        options: AutoscalingOptions | None = None,
    ) -> None:
        self.client = client
        self.provider = provider
        self.sim = simulator
        self.clock = clock
        self.rng = rng
        self.options = options = options or AutoscalingOptions()
        self.nodes = factory.informer(Node)
        self.pods = factory.informer(Pod)
        self.pdbs = factory.informer(PodDisruptionBudget)
        self.nodes.add_event_handler(_Handler(self._node_changed, self._node_deleted))
        self.pods.add_event_handler(_Handler(self._pod_changed, self._pod_deleted))
        self.recorder = EventRecorder(client, clock, COMPONENT)
        self.backoff = Backoff(
            options.initial_node_group_backoff_duration,
            options.max_node_group_backoff_duration,
            options.node_group_backoff_reset_timeout,
        )
        self.pending: dict[str, Pod] = {}
        self.unneeded: dict[str, float] = {}
        self.unneeded_pods: dict[str, Removal] = {}
        self.deleting: dict[str, str] = {}
        """node -> group, for deletions in progress."""
        self.draining: set[str] = set()
        """The non-empty nodes among them (drained one at a time)."""
        self.requests: dict[str, set[str]] = {}
        """group -> requested node names not registered yet."""
        self.last_scale_up: float | None = None
        self.last_delete: float | None = None
        self.last_failure: float | None = None
        self.loops = 0
        self.scale_ups = 0
        self.scale_downs = 0
        self.failed_scale_ups = 0
        self.failed_scale_downs = 0
        self._status_map: ConfigMap | None = None
        self._cluster = (Condition(), Condition(), Condition())
        self._groups: dict[str, GroupStatus] = {}
        self._task_group: anyio.abc.TaskGroup | None = None

    # -- informer feed ----------------------------------------------------------------

    def _node_changed(self, node: Node) -> None:
        self.sim.add_node(node)

    def _node_deleted(self, node: Node) -> None:
        self.sim.remove_node(node.metadata.name)

    def _pod_changed(self, pod: Pod) -> None:
        uid = pod.metadata.uid
        if pod.spec.node_name:
            self.pending.pop(uid, None)
            self.sim.add_pod(pod)
        elif _pending_unschedulable(pod):
            self.pending[uid] = pod
        else:
            self.pending.pop(uid, None)

    def _pod_deleted(self, pod: Pod) -> None:
        self.pending.pop(pod.metadata.uid, None)
        if pod.spec.node_name:
            self.sim.remove_pod(pod)
        self.sim.forget_info(pod)

    # -- loop -------------------------------------------------------------------------

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            self._task_group = tg
            tg.start_soon(self.recorder.run)
            while True:
                await self.run_once()
                await self.clock.sleep(self.options.scan_interval)

    def _registered(self) -> dict[str, list[Node]]:
        out: dict[str, list[Node]] = {g.name: [] for g in self.provider.node_groups()}
        for node in self.nodes.cache.list():
            group = self.provider.node_group_for(node.metadata.name)
            if group is not None and group.name in out:
                out[group.name].append(node)
        for nodes in out.values():
            nodes.sort(key=lambda n: n.metadata.name)
        return out

    async def run_once(self) -> None:
        """One scan: provisioning check, scale-up, scale-down, status."""
        self.loops += 1
        now = self.clock.monotonic()
        groups = sorted(self.provider.node_groups(), key=lambda g: g.name)
        registered = self._registered()
        await self._check_provisioning(now, groups, registered)
        scaled_up = await self._scale_up(now, groups, registered)
        if scaled_up:
            registered = self._registered()
        await self._scale_down(now, groups, registered, scaled_up)
        if self.options.write_status_config_map:
            await self._write_status(now, groups, registered)

    def _upcoming(self, group: NodeGroup, registered: list[Node]) -> list[str]:
        names = {n.metadata.name for n in registered}
        return [i.name for i in group.instances() if i.name not in names]

    async def _check_provisioning(
        self, now: float, groups: list[NodeGroup], registered: dict[str, list[Node]]
    ) -> None:
        limit = self.options.max_node_provision_time
        for group in groups:
            names = {n.metadata.name for n in registered[group.name]}
            requested = self.requests.get(group.name)
            if requested is not None:
                requested -= names
                if not requested:
                    del self.requests[group.name]
                    self.backoff.succeeded(group.name)
            stale = [
                i.name
                for i in group.instances()
                if i.name not in names and now - i.requested_at > limit
            ]
            if not stale:
                continue
            self.failed_scale_ups += 1
            duration = self.backoff.failed(group.name, now)
            if requested is not None:
                requested -= set(stale)
                if not requested:  # what is left of the request failed: no success
                    del self.requests[group.name]
            log.info("scale-up timed out", group=group.name, nodes=stale, backoff=duration)
            await group.delete_nodes(stale)
            self._event_on_status(
                "Warning",
                "FailedToScaleUpGroup",
                f"Scale-up timed out for node group {group.name} after {limit:g}s",
            )

    # -- scale-up ---------------------------------------------------------------------

    async def _priorities(self) -> dict[int, Any] | None:
        if "priority" not in self.options.expanders:
            return None
        try:
            config_map = await self.client.get(
                ConfigMap, PRIORITY_CONFIG_MAP, namespace="kube-system"
            )
        except NotFound:
            return None
        try:
            return parse_priorities(config_map.data.get("priorities", ""))
        except ValueError as error:
            log.warning("priority expander config ignored", error=str(error))
            return None

    async def _scale_up(
        self, now: float, groups: list[NodeGroup], registered: dict[str, list[Node]]
    ) -> bool:
        pending = sorted(
            self.pending.values(),
            key=lambda p: (
                -(p.spec.priority or 0),
                p.metadata.creation_timestamp or 0,
                p.metadata.namespace,
                p.metadata.name,
            ),
        )
        if not pending or not groups:
            return False
        priorities = await self._priorities()
        total = len(self.nodes.cache.list()) + sum(
            len(self._upcoming(g, registered[g.name])) for g in groups
        )
        nodes_left = (
            max(self.options.max_nodes_total - total, 0) if self.options.max_nodes_total else None
        )
        self.sim.fork()
        try:
            plan = plan_scale_up(
                self.sim,
                groups,
                pending,
                upcoming={g.name: self._upcoming(g, registered[g.name]) for g in groups},
                backed_off=lambda name: self.backoff.backed_off_until(name, now) is not None,
                nodes_left=nodes_left,
                expanders=self.options.expanders,
                rng=self.rng,
                priorities=priorities,
                exclude=frozenset(self.deleting),
            )
        finally:
            self.sim.revert()
        for pod, reasons in plan.not_helped.values():
            text = ", ".join(f"{count} {why}" for why, count in sorted(reasons.items()))
            self.recorder.record(
                pod, "Normal", "NotTriggerScaleUp", f"pod didn't trigger scale-up: {text}"
            )
        chosen = plan.chosen
        if chosen is None:
            return False
        group = next(g for g in groups if g.name == chosen.group)
        before = group.target_size()
        after = before + chosen.node_count
        existing = {i.name for i in group.instances()}
        group.increase_size(chosen.node_count)
        added = {i.name for i in group.instances()} - existing
        self.requests.setdefault(group.name, set()).update(added)
        self.last_scale_up = now
        self.scale_ups += 1
        summary = f"[{{{group.name} {before}->{after} (max: {group.max_size})}}]"
        for pod in chosen.pods:
            self.recorder.record(
                pod, "Normal", "TriggeredScaleUp", f"pod triggered scale-up: {summary}"
            )
        self._event_on_status(
            "Normal",
            "ScaledUpGroup",
            f"Scale-up: setting group {group.name} size to {after} instead of {before} "
            f"(max: {group.max_size})",
        )
        log.info("scale-up", group=group.name, before=before, after=after)
        return True

    # -- scale-down -------------------------------------------------------------------

    def _in_cooldown(self, now: float) -> str | None:
        o = self.options
        if (
            self.last_scale_up is not None
            and now < self.last_scale_up + o.scale_down_delay_after_add
        ):
            return "scale-down-delay-after-add"
        if self.last_delete is not None and now < self.last_delete + o.delay_after_delete:
            return "scale-down-delay-after-delete"
        if (
            self.last_failure is not None
            and now < self.last_failure + o.scale_down_delay_after_failure
        ):
            return "scale-down-delay-after-failure"
        return None

    async def _scale_down(
        self,
        now: float,
        groups: list[NodeGroup],
        registered: dict[str, list[Node]],
        scaled_up: bool,
    ) -> None:
        o = self.options
        if not o.scale_down_enabled:
            self.unneeded.clear()
            return
        candidates: list[tuple[Node, float]] = []
        for group in groups:
            for node in registered[group.name]:
                name = node.metadata.name
                if name in self.deleting:
                    continue
                usage = self.sim.utilization(name)
                if usage is None:
                    continue
                utilization = max(usage)
                if is_candidate(node, utilization, o.scale_down_utilization_threshold) is None:
                    candidates.append((node, utilization))
        self.sim.fork()
        try:
            result = find_unneeded(
                self.sim,
                candidates,
                Budgets.of(self.pdbs.cache.list()),
                previously=self.unneeded,
                leaving=frozenset(self.deleting),
                non_empty_limit=o.scale_down_non_empty_candidates_count,
                skip_nodes_with_system_pods=o.skip_nodes_with_system_pods,
                skip_nodes_with_local_storage=o.skip_nodes_with_local_storage,
            )
        finally:
            self.sim.revert()
        self.unneeded = {r.node: self.unneeded.get(r.node, now) for r in result.removable}
        self.unneeded_pods = {r.node: r for r in result.removable}
        if scaled_up or self._in_cooldown(now) is not None:
            return
        ready = [
            self.unneeded_pods[name]
            for name, since in self.unneeded.items()
            if now - since >= o.scale_down_unneeded_time
        ]
        if not ready:
            return
        sizes = {g.name: g.target_size() for g in groups}
        for group_name in self.deleting.values():
            sizes[group_name] -= 1
        by_name = {g.name: g for g in groups}
        chosen: list[tuple[NodeGroup, Removal]] = []
        empty = [r for r in ready if not r.pods]
        for removal in empty:
            if len(chosen) >= o.max_empty_bulk_delete:
                break
            found = self.provider.node_group_for(removal.node)
            if found is None or sizes[found.name] <= by_name[found.name].min_size:
                continue
            sizes[found.name] -= 1
            chosen.append((found, removal))
        if not chosen and not self.draining:
            for removal in ready:
                if not removal.pods:
                    continue
                found = self.provider.node_group_for(removal.node)
                if found is None or sizes[found.name] <= by_name[found.name].min_size:
                    continue
                chosen.append((found, removal))
                break
        if not chosen:
            return
        self.last_delete = now
        assert self._task_group is not None or not chosen
        for group, removal in chosen:
            self.deleting[removal.node] = group.name
            if removal.pods:
                self.draining.add(removal.node)
            self.unneeded.pop(removal.node, None)
            if self._task_group is not None:
                self._task_group.start_soon(self._delete_node, group, removal)

    async def _set_taint(self, name: str, present: bool) -> Node | None:
        for _ in range(5):
            try:
                node = await self.client.get(Node, name)
            except NotFound:
                return None
            others = [t for t in node.spec.taints if t.key != TO_BE_DELETED_TAINT]
            taints = others
            if present:
                stamp = str(int(self.clock.now().timestamp()))
                taints = [*others, Taint(key=TO_BE_DELETED_TAINT, value=stamp, effect="NoSchedule")]
            spec = node.spec.model_copy(update={"taints": taints})
            try:
                return await self.client.update(node.model_copy(update={"spec": spec}))
            except Conflict:
                continue
        return None

    async def _delete_node(self, group: NodeGroup, removal: Removal) -> None:
        name = removal.node
        try:
            node = await self._set_taint(name, True)
            if node is None:
                raise RuntimeError(f"node {name} could not be tainted")
            self.recorder.record(
                node, "Normal", "ScaleDown", "marked the node as toBeDeleted/unschedulable"
            )
            # Pods bound between the plan and the taint must go too: what is on
            # the node now is drained, unless one of them may not be moved.
            now_on, blocking = pods_to_move(
                self.sim.pods_on(name),
                Budgets.of(self.pdbs.cache.list()),
                skip_nodes_with_system_pods=self.options.skip_nodes_with_system_pods,
                skip_nodes_with_local_storage=self.options.skip_nodes_with_local_storage,
            )
            if blocking is not None:
                raise RuntimeError(
                    f"pod {blocking.pod.metadata.namespace}/{blocking.pod.metadata.name} "
                    f"blocks the scale-down: {blocking.reason}"
                )
            planned = {p.metadata.uid for p in removal.pods}
            to_drain = (*removal.pods, *(p for p in now_on if p.metadata.uid not in planned))
            if to_drain:
                await self._drain(to_drain)
                self.recorder.record(
                    node, "Normal", "ScaleDown", "node removed by cluster autoscaler"
                )
                self._event_on_status(
                    "Normal",
                    "ScaleDown",
                    f"Scale-down: removing node {name}, utilization: "
                    f"{removal.utilization:.2f}, pods to reschedule: "
                    + ",".join(f"{p.metadata.namespace}/{p.metadata.name}" for p in removal.pods),
                )
            else:
                self.recorder.record(
                    node, "Normal", "ScaleDownEmpty", f"removing empty node {name}"
                )
                self._event_on_status(
                    "Normal", "ScaleDownEmpty", f"Scale-down: removing empty node {name}"
                )
            await group.delete_nodes([name])
            self.scale_downs += 1
            log.info("scale-down", node=name, group=group.name, pods=len(removal.pods))
        except (ApiError, RuntimeError, TimeoutError) as error:
            self.failed_scale_downs += 1
            self.last_failure = self.clock.monotonic()
            log.info("scale-down failed", node=name, error=str(error))
            restored = await self._set_taint(name, False)
            if restored is not None:
                self.recorder.record(
                    restored,
                    "Warning",
                    "ScaleDownFailed",
                    f"failed to drain the node, aborting ScaleDown: {error}",
                )
        finally:
            self.deleting.pop(name, None)
            self.draining.discard(name)

    async def _drain(self, pods: tuple[Pod, ...]) -> None:
        """Evict every pod, retrying refused evictions until max_pod_eviction_time,
        then wait (up to the longest grace period) for them to be gone."""
        o = self.options
        deadline = self.clock.monotonic() + o.max_pod_eviction_time
        left = list(pods)
        while left:
            refused: list[Pod] = []
            for pod in left:
                grace = pod.spec.termination_grace_period_seconds
                grace = o.max_graceful_termination_sec if grace is None else grace
                try:
                    await self.client.evict(
                        pod.metadata.name,
                        namespace=pod.metadata.namespace,
                        grace_period_seconds=min(grace, o.max_graceful_termination_sec),
                    )
                    self.recorder.record(
                        pod, "Normal", "ScaleDown", "deleting pod for node scale down"
                    )
                except NotFound:
                    continue
                except TooManyRequests:
                    refused.append(pod)
            left = refused
            if left:
                if self.clock.monotonic() + EVICTION_RETRY > deadline:
                    raise TimeoutError(
                        f"{len(left)} pod(s) could not be evicted within "
                        f"{o.max_pod_eviction_time:g}s, e.g. "
                        f"{left[0].metadata.namespace}/{left[0].metadata.name}"
                    )
                await self.clock.sleep(EVICTION_RETRY)
        wait_until = self.clock.monotonic() + o.max_graceful_termination_sec + EVICTION_RETRY
        while True:
            still = [
                p
                for p in pods
                if (found := self.pods.cache.get(p.metadata.name, p.metadata.namespace)) is not None
                and found.metadata.uid == p.metadata.uid
            ]
            if not still:
                return
            if self.clock.monotonic() > wait_until:
                raise TimeoutError(f"{len(still)} evicted pod(s) still present")
            await self.clock.sleep(1.0)

    # -- status -----------------------------------------------------------------------

    def _event_on_status(self, type_: str, reason: str, message: str) -> None:
        if self._status_map is not None:
            self.recorder.record(self._status_map, type_, reason, message)

    async def _write_status(
        self, now: float, groups: list[NodeGroup], registered: dict[str, list[Node]]
    ) -> None:
        wall = self.clock.now()
        totals = [0, 0, 0, 0]  # ready, unready, registered, long unregistered
        upcoming_total = 0
        for group in groups:
            nodes = registered[group.name]
            status = self._groups.get(group.name)
            if status is None:
                status = GroupStatus(group.name, group.min_size, group.max_size, 0)
                self._groups[group.name] = status
            status.target = group.target_size()
            ready = sum(n.is_ready for n in nodes)
            health = status.health
            health.ready, health.unready, health.registered = ready, len(nodes) - ready, len(nodes)
            names = {n.metadata.name for n in nodes}
            unregistered = [i for i in group.instances() if i.name not in names]
            health.not_started = 0
            health.long_unregistered = sum(
                now - i.requested_at > self.options.max_node_provision_time for i in unregistered
            )
            status.health_condition.set(
                "Healthy",
                f"{health.text()} cloudProviderTarget={status.target} "
                f"(minSize={group.min_size}, maxSize={group.max_size})",
                wall,
            )
            until = self.backoff.backed_off_until(group.name, now)
            if until is not None:
                status.scale_up.set(
                    "Backoff", f"ready={ready} cloudProviderTarget={status.target}", wall
                )
            elif unregistered:
                status.scale_up.set(
                    "InProgress", f"ready={ready} cloudProviderTarget={status.target}", wall
                )
            else:
                status.scale_up.set(
                    "NoActivity", f"ready={ready} cloudProviderTarget={status.target}", wall
                )
            candidates = sum(1 for n in nodes if n.metadata.name in self.unneeded)
            status.scale_down.set(
                "CandidatesPresent" if candidates else "NoCandidates",
                f"candidates={candidates}",
                wall,
            )
            totals[0] += ready
            totals[1] += len(nodes) - ready
            totals[2] += len(nodes)
            totals[3] += health.long_unregistered
            upcoming_total += len(unregistered)
        for name in set(self._groups) - {g.name for g in groups}:
            del self._groups[name]
        health_c, up_c, down_c = self._cluster
        health_c.set(
            "Healthy",
            f"ready={totals[0]} unready={totals[1]} notStarted=0 longNotStarted=0 "
            f"registered={totals[2]} longUnregistered={totals[3]}",
            wall,
        )
        up_c.set(
            "InProgress" if upcoming_total else "NoActivity",
            f"ready={totals[0]} registered={totals[2]}",
            wall,
        )
        down = len(self.unneeded)
        down_c.set("CandidatesPresent" if down else "NoCandidates", f"candidates={down}", wall)
        text = format_status(wall, self._cluster, [self._groups[g.name] for g in groups])
        await self._store_status(text, go_time(wall))

    async def _store_status(self, text: str, stamp: str) -> None:
        name = self.options.status_config_map_name
        try:
            current = self._status_map
            if current is None:
                try:
                    current = await self.client.get(ConfigMap, name, namespace="kube-system")
                except NotFound:
                    current = None
            if current is None:
                self._status_map = await self.client.create(
                    ConfigMap(
                        metadata=ObjectMeta(
                            name=name, namespace="kube-system", annotations={LAST_UPDATED: stamp}
                        ),
                        data={"status": text},
                    )
                )
                return
            meta = current.metadata.model_copy(
                update={"annotations": {**current.metadata.annotations, LAST_UPDATED: stamp}}
            )
            self._status_map = await self.client.update(
                current.model_copy(update={"metadata": meta, "data": {"status": text}})
            )
        except (Conflict, NotFound):
            self._status_map = None  # re-read next loop
        except ApiError as error:
            log.info("status not written", error=str(error))

    # -- inspection -------------------------------------------------------------------

    def state(self) -> AutoscalerState:
        now = self.clock.monotonic()
        registered = self._registered()
        groups = self.provider.node_groups()
        backed: dict[str, float] = {}
        for g in groups:
            until = self.backoff.backed_off_until(g.name, now)
            if until is not None:
                backed[g.name] = until - now
        return AutoscalerState(
            loops=self.loops,
            target_sizes={g.name: g.target_size() for g in groups},
            registered={g.name: len(registered[g.name]) for g in groups},
            upcoming={g.name: len(self._upcoming(g, registered[g.name])) for g in groups},
            unneeded={n: now - since for n, since in sorted(self.unneeded.items())},
            deleting=tuple(sorted(self.deleting)),
            backed_off=backed,
            scale_ups=self.scale_ups,
            scale_downs=self.scale_downs,
            failed_scale_ups=self.failed_scale_ups,
            failed_scale_downs=self.failed_scale_downs,
            last_scale_up=self.last_scale_up,
            last_scale_down=self.last_delete,
        )


class _Handler:
    """Informer events to two callbacks (changed, deleted), tombstones unwrapped."""

    def __init__(self, changed: Callable[[Any], None], deleted: Callable[[Any], None]) -> None:
        self._changed = changed
        self._deleted = deleted

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        self._changed(obj)

    def on_update(self, old: Any, new: Any) -> None:
        self._changed(new)

    def on_delete(self, obj: Any) -> None:
        self._deleted(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)
