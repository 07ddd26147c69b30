"""The DaemonSet controller (kube-controller-manager's daemon controller):
informers on DaemonSets, their pods, ControllerRevisions and Nodes; a
reconcile claims the set's pods, plans the sync (`controllers.daemonset.
control`), creates and deletes pods, and writes the status.

Expectations (`engine.expectations`) keep a sync on a stale pod cache from
creating again the pods the previous sync created, as in Kubernetes (and
when they expire, the cache must have caught up with this controller's own
creations before it is trusted); at
most `burst_replicas` (250, Kubernetes' value) creations per sync, in
slow-start batches. Before creating, a sync reads the set from the API: a
cache may still show a set that was deleted (its delete event late), and
pods made for it would stand beside those being collected. Node updates
wake every DaemonSet only when the node's
labels, taints or schedulability changed (heartbeats do not); node placement
is cached per node version and template.

Neighbours: `controllers.daemonset.placement`, `.control`, `.status`,
`controllers.common` (ownership, history, slow start), `engine.events`.
"""

from __future__ import annotations

from typing import Any, Final

from controllers.common.batches import slow_start_batch
from controllers.common.deletions import delete_pods
from controllers.common.history import HASH_LABEL, ensure_revision, truncate
from controllers.common.ownership import (
    CONTROLLER_INDEX,
    claim,
    controller_or_orphan,
    current_incarnation,
    ensure_indexer,
    new_controller_ref,
    orphan_key,
)
from controllers.common.selectors import SelectorCache
from controllers.daemonset.control import REVISION_LABEL, Plan, PlanMemo, plan_sync
from controllers.daemonset.placement import (
    Placement,
    compile_constraints,
    daemon_spec,
    placement,
    target_node,
    with_daemon_tolerations,
)
from controllers.daemonset.status import status_of
from engine.api import (
    ControllerRevision,
    DaemonSet,
    Node,
    ObjectMeta,
    Pod,
    PodSpec,
)
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import ApiError, Conflict, NotFound, ServerTimeout
from engine.events import EventRecorder
from engine.expectations import Expectations
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.manager import Manager
from engine.selectors import Selector

__all__ = ["BURST_REPLICAS", "DaemonSetController", "setup"]

BURST_REPLICAS: Final = 250
POD_STATUS_BATCH_SECONDS: Final = 0.5
EXPECTATIONS_RECHECK: Final = 30.0
_AVAILABILITY_SLACK: Final = 0.001


class DaemonSetController:
    """The reconciler of DaemonSets; `controller` is its engine `Controller`."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        *,
        workers: int = 2,
        burst_replicas: int = BURST_REPLICAS,
    ) -> None:
        self.client = client
        self.clock = clock
        self.burst_replicas = burst_replicas
        self.expectations = Expectations(clock)
        self.sets = factory.informer(DaemonSet)
        self.pods = factory.informer(Pod)
        self.nodes = factory.informer(Node)
        self.revisions = factory.informer(ControllerRevision)
        ensure_indexer(self.pods, CONTROLLER_INDEX, controller_or_orphan)
        ensure_indexer(self.revisions, CONTROLLER_INDEX, controller_or_orphan)
        self.recorder = EventRecorder(client, clock, "daemonset-controller")
        self.controller = Controller("daemonset", self, clock=clock, workers=workers)
        self.controller.for_kind(self.sets)
        self.controller.owns(self.revisions, DaemonSet)
        self.controller.informers.extend((self.pods, self.nodes))
        self.pods.add_event_handler(
            EventHandler(add=self._pod_added, update=self._pod_updated, delete=self._pod_deleted)
        )
        self.nodes.add_event_handler(
            EventHandler(
                add=self._node_changed, update=self._node_updated, delete=self._node_changed
            )
        )
        # Highest store revision of a pod this controller created, per DaemonSet:
        # once expectations expire, the pod cache is trusted only if it has
        # caught up with these writes (as in the ReplicaSet controller).
        self._written: dict[tuple[str, str], int] = {}
        # Per DaemonSet uid: (template spec, spec with daemon tolerations, constraints).
        self._specs: dict[str, tuple[PodSpec, PodSpec, Any]] = {}
        # Per DaemonSet uid, per node name: (node version, placement); and the
        # last result with the node informer's revision it was computed at.
        self._placements: dict[str, dict[str, tuple[str, Placement]]] = {}
        self._last_placements: dict[str, tuple[int, PodSpec, dict[str, Placement]]] = {}
        # Per pod object (by id): the node it is for, and whether the selector
        # object given matches it (pods are immutable).
        self._targets: dict[int, tuple[Pod, str | None, Selector, bool]] = {}
        # Per DaemonSet uid: its selector (one object while spec.selector is
        # unchanged) and the node plans of its last sync.
        self._selectors = SelectorCache()
        self._plans: dict[str, PlanMemo] = {}

    # -- event handlers ----------------------------------------------------------------

    def _enqueue(self, ds: DaemonSet, delay: float = 0.0) -> None:
        request = Request(DaemonSet, ds.metadata.namespace, ds.metadata.name)
        if delay:
            self.controller.queue.add_after(request, delay)
        else:
            self.controller.enqueue(request)

    def _owner(self, pod: Pod) -> DaemonSet | None:
        ref = pod.metadata.controller_ref()
        if ref is None or ref.kind != "DaemonSet":
            return None
        ds = self.sets.cache.get(ref.name, pod.metadata.namespace)
        return ds if ds is not None and ds.metadata.uid == ref.uid else None

    def _pod_added(self, pod: Pod) -> None:
        ds = self._owner(pod)
        if ds is None:
            return
        if pod.metadata.deletion_timestamp is not None:
            self.expectations.deletion_observed(ds.key, pod.metadata.uid)
        else:
            self.expectations.creation_observed(ds.key)
        self._enqueue(ds)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        ds = self._owner(new)
        if ds is None:
            return
        if new.metadata.deletion_timestamp is not None and old.metadata.deletion_timestamp is None:
            self.expectations.deletion_observed(ds.key, new.metadata.uid)
            self._enqueue(ds)
            return
        self._enqueue(ds, POD_STATUS_BATCH_SECONDS)

    def _pod_deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        ds = self._owner(pod)
        if ds is None:
            return
        self.expectations.deletion_observed(ds.key, pod.metadata.uid)
        self._enqueue(ds)

    def _node_changed(self, _node: object) -> None:
        for ds in self.sets.cache.list():
            self._enqueue(ds)

    def _node_updated(self, old: Node, new: Node) -> None:
        if (
            old.metadata.labels != new.metadata.labels
            or old.spec.taints != new.spec.taints
            or old.spec.unschedulable != new.spec.unschedulable
        ):
            self._node_changed(new)

    # -- reconcile ---------------------------------------------------------------------

    async def reconcile(self, request: Request) -> Result:
        key = (request.namespace, request.name)
        ds = self.sets.cache.get(request.name, request.namespace)
        if ds is None:
            self.expectations.forget(key)
            self._written.pop(key, None)
            self._forget_deleted()
            return Result()
        selector = self._selectors.of(ds.metadata.uid, ds.spec.selector)
        pods = self.pods.cache.by_index(CONTROLLER_INDEX, ds.metadata.uid)
        orphans = self.pods.cache.by_index(CONTROLLER_INDEX, orphan_key(ds.metadata.namespace))
        by_node: dict[str, list[Pod]] = {}
        targets = self._targets
        all_match = True
        for pod in pods:
            hit = targets.get(id(pod))
            if hit is None or hit[0] is not pod or hit[2] is not selector:
                matches = selector.matches(pod.metadata.labels)
                hit = targets[id(pod)] = (pod, target_node(pod.spec), selector, matches)
            all_match = all_match and hit[3]
            node = hit[1]
            if node is not None:
                by_node.setdefault(node, []).append(pod)
        if orphans or not all_match:
            # Adopt matching orphans, release pods that stopped matching.
            claimed = await claim(self.client, ds, selector, pods + orphans)
            if claimed.errors:
                raise claimed.errors[0]
            pods = claimed.claimed
            by_node = {}
            for pod in pods:
                node = target_node(pod.spec)
                if node is not None:
                    by_node.setdefault(node, []).append(pod)
        revisions = self.revisions.cache.by_index(CONTROLLER_INDEX, ds.metadata.uid)
        labels = dict(ds.spec.selector.match_labels)
        revision, collisions = await ensure_revision(
            self.client, ds, ds.spec.template, revisions, ds.status.collision_count or 0, labels
        )
        update_hash = revision.metadata.labels[HASH_LABEL]
        if len(targets) > 4 * len(pods) + 1024:
            self._targets = {}  # forget old pod versions now and then
        memo = self._plans.setdefault(ds.metadata.uid, PlanMemo())
        plan = plan_sync(ds, self._placements_of(ds), by_node, update_hash, self.clock.now(), memo)
        error: ApiError | None = None
        satisfied = self.expectations.satisfied(key) and (
            self.pods.last_revision >= self._written.get(key, 0)
        )
        if satisfied and ds.metadata.deletion_timestamp is None:
            error = await self._execute(key, ds, plan, update_hash)
        status = status_of(ds, plan.counts, collisions)
        if status != ds.status:
            try:
                await self.client.update_status(ds.model_copy(update={"status": status}))
            except NotFound:
                self.expectations.forget(key)
                return Result()
            except Conflict:
                return Result(requeue=True)
        live = {revision.metadata.name}
        live.update(f"{ds.metadata.name}-{p.metadata.labels.get(REVISION_LABEL)}" for p in pods)
        await truncate(self.client, revisions, live, ds.spec.revision_history_limit)
        if error is not None:
            raise error
        wait = plan.recheck_after
        if wait is not None:
            wait += _AVAILABILITY_SLACK
        if not satisfied:
            wait = EXPECTATIONS_RECHECK if wait is None else min(wait, EXPECTATIONS_RECHECK)
        return Result(requeue_after=wait) if wait is not None else Result()

    async def _still_exists(self, ds: DaemonSet) -> bool:
        """Whether the API still holds this DaemonSet (same uid, not being
        deleted), as the ReplicaSet controller asks before it creates pods."""
        current = await current_incarnation(self.client, ds)
        return current is not None and current.metadata.deletion_timestamp is None

    def _forget_deleted(self) -> None:
        """Drop the per-set memos of sets no longer in the cache."""
        live = {ds.metadata.uid for ds in self.sets.cache.list()}
        self._selectors.keep_only(live)
        for memo in (self._plans, self._specs, self._placements):
            for uid in [u for u in memo if u not in live]:
                del memo[uid]
        for uid in [u for u in self._last_placements if u not in live]:
            del self._last_placements[uid]

    def _placements_of(self, ds: DaemonSet) -> dict[str, Placement]:
        uid = ds.metadata.uid
        template = ds.spec.template.spec
        cached = self._specs.get(uid)
        if cached is None or cached[0] is not template:
            spec = with_daemon_tolerations(template)
            cached = (template, spec, compile_constraints(spec))
            self._specs[uid] = cached
            self._placements.pop(uid, None)
        _, spec, constraints = cached
        revision = self.nodes.last_revision
        last = self._last_placements.get(uid)
        if last is not None and last[0] == revision and last[1] is spec:
            return last[2]  # no node changed since
        result: dict[str, Placement] = {}
        memo = self._placements.setdefault(uid, {})
        for node in self.nodes.cache.list():
            name = node.metadata.name
            version = node.metadata.resource_version
            hit = memo.get(name)
            if hit is None or hit[0] != version:
                hit = memo[name] = (version, placement(spec, constraints, node))
            result[name] = hit[1]
        self._last_placements[uid] = (revision, spec, result)
        return result

    async def _execute(
        self, key: tuple[str, str], ds: DaemonSet, plan: Plan, update_hash: str
    ) -> ApiError | None:
        create_on = plan.create_on[: self.burst_replicas]
        victims = plan.delete[: self.burst_replicas]
        if create_on and not await self._still_exists(ds):
            # The cache still shows a DaemonSet the API has deleted (its delete
            # event late or lost): pods made for it would only be collected,
            # and would stand beside the pods being collected on the same nodes.
            create_on = []
        self.expectations.expect(key, len(create_on), [p.metadata.uid for p in victims])
        deleted, first_error = await delete_pods(self.client, victims, self.expectations, key)
        for pod in deleted:
            self.recorder.record(
                ds, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}"
            )
        if first_error is not None:
            self.recorder.record(ds, "Warning", "FailedDelete", f"Error deleting: {first_error}")
        nodes = iter(create_on)
        base_spec = self._specs[ds.metadata.uid][1]  # with the daemon tolerations
        labels = {**ds.spec.template.metadata.labels, REVISION_LABEL: update_hash}
        template_meta = ds.spec.template.metadata
        owner = [new_controller_ref(ds)]

        async def create_one() -> None:
            node = next(nodes)
            pod = Pod(
                metadata=ObjectMeta(
                    generate_name=f"{ds.metadata.name}-",
                    namespace=ds.metadata.namespace,
                    labels=labels,
                    annotations=template_meta.annotations,
                    finalizers=template_meta.finalizers,
                    owner_references=owner,
                ),
                spec=daemon_spec(base_spec, node),
            )
            try:
                created = await self.client.create(pod)
            except ServerTimeout:
                return
            except ApiError as error:
                self.recorder.record(ds, "Warning", "FailedCreate", f"Error creating: {error}")
                raise
            revision = int(created.metadata.resource_version)
            if revision > self._written.get(key, 0):
                self._written[key] = revision
            self.recorder.record(
                ds, "Normal", "SuccessfulCreate", f"Created pod: {created.metadata.name}"
            )

        successes, failure = await slow_start_batch(len(create_on), create_one)
        for _ in range(len(create_on) - successes):
            self.expectations.creation_observed(key)
        if failure is not None and not isinstance(failure, ApiError):
            raise failure
        return first_error or failure


def setup(manager: Manager, *, workers: int = 2) -> DaemonSetController:
    """Create the DaemonSet controller on `manager`'s informers and add it."""
    dsc = DaemonSetController(manager.client, manager.factory, manager.clock, workers=workers)
    manager.add(dsc.controller)
    manager.add_runnable(dsc.recorder.run)
    return dsc
