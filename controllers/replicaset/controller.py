"""The ReplicaSet controller: keeps `spec.replicas` pods of a ReplicaSet's
template running (kube-controller-manager's replicaset controller). The same
class drives ReplicationControllers (`setup_replication_controller`), as
Kubernetes' replication controller wraps its ReplicaSet one: the only
difference is the equality-based selector, a plain label map, which is read
as a LabelSelector of `matchLabels`.

A sync of one ReplicaSet, level-triggered from informer caches:

1. Claim pods: owned pods still matched by the selector, plus matching orphans
   (adopted); owned pods that stopped matching are released
   (`controllers.common.ownership`). Terminating and finished pods do not count.
2. If the expectations of earlier creations and deletions are met, create or
   delete the difference (at most `burst_replicas` per sync). Creations go in
   slow-start batches (1, 2, 4, ...) so a failing create is tried once, not
   `replicas` times; deletions take pods in Kubernetes' ranking order
   (`controllers.common.ranking`).
3. Write the status (`controllers.replicaset.status`); if pods are ready but
   not yet available, come back when the first one will be.

Most syncs only recount: a pod became ready, or a creation the set waits for
was observed. When nothing could be claimed, released, created or deleted
(no orphans, every pod matching the selector, as many active pods as
replicas or expectations still pending, no minReadySeconds), the status
comes from running counts a pod event handler keeps
(`controllers.replicaset.tally`) instead of reading every pod of the set;
Kubernetes reads them all on every sync, and at 1,000 pods a set that is
most of a rolling update's time. Under the mutation detector (the test
suite) each counted status is checked against the full recount.

Expectations (`engine.expectations`) stop a sync on a stale pod cache from
creating or deleting again what the last sync already did. A create or delete
answered with a timeout may have been carried out, so its event is expected
like any other's. They expire after
five minutes, for events that never come; Kubernetes then trusts the cache
even if it is still stale, and creates extra pods (kubernetes/kubernetes#129795).
Here, when expectations expire, the pod cache is trusted only if it has caught
up with this controller's own writes: its revision is at least that of the last
pod created, and no pod this controller deleted is still in it as active. And a
pod cache older than one a decision was already based on (a relist from a
lagging apiserver takes a cache back in time) is never trusted.

The first time an incarnation creates pods for a ReplicaSet, it counts the
set's active pods in the API first, and waits while the cache shows fewer: a
controller restarted against a lagging apiserver lists a past in which pods an
earlier incarnation created do not exist yet.

A cache may also still show a ReplicaSet that was deleted (its delete event
lost): pods are created only after reading the ReplicaSet from the API, and a
ReplicaSet the API says is gone (NotFound on its status write) is not synced
again until the informer shows the deletion. Otherwise the garbage collector
deletes each pod made for it, and each deletion wakes the set to make another.

Pods are created from a per-ReplicaSet prototype that shares the template's
spec object; the store stamps name (from generateName), uid and metadata.

Neighbours: `engine.controller` (workqueue and workers), `engine.expectations`,
`controllers.common` (pods, ranking, ownership, slow start); the deployment
controller drives ReplicaSets through their `spec.replicas`.
"""

from __future__ import annotations

import random
from typing import Final

from controllers.common.batches import slow_start_batch
from controllers.common.deletions import delete_pods
from controllers.common.ownership import (
    CONTROLLER_INDEX,
    claim,
    controller_or_orphan,
    current_incarnation,
    ensure_indexer,
    new_controller_ref,
    orphan_key,
    owned_and_orphans,
    resolve_controller,
)
from controllers.common.pods import is_pod_active
from controllers.common.ranking import pods_to_delete
from controllers.replicaset.status import (
    Status,
    calculate_status,
    fully_labeled_by,
    next_availability_check,
    status_from_counts,
    update_status,
)
from controllers.replicaset.tally import shared_tally
from engine.api import (
    LabelSelector,
    ObjectMeta,
    Pod,
    PodTemplateSpec,
    ReplicaSet,
    ReplicationController,
)
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import ApiError, Forbidden, NotFound, ServerTimeout
from engine.events import EventRecorder
from engine.expectations import Expectations
from engine.informer import (
    DeletedFinalStateUnknown,
    EventHandler,
    InformerFactory,
    SharedInformer,
)
from engine.logging import get_logger
from engine.manager import Manager
from engine.mutation import detector
from engine.selectors import Selector, from_label_selector

__all__ = [
    "BURST_REPLICAS",
    "ReplicaSetController",
    "Replicated",
    "label_selector",
    "setup",
    "setup_replication_controller",
]

BURST_REPLICAS: Final = 500
"""At most this many pods are created or deleted by one sync (Kubernetes' burstReplicas)."""

POD_STATUS_BATCH_SECONDS: Final = 0.5
"""Pod status changes within this window coalesce into one status recount."""

AVAILABILITY_SLACK: Final = 0.001
"""Availability is strict (ready for *more than* minReadySeconds): recheck just after."""

EXPECTATIONS_RECHECK: Final = 30.0
"""While expectations are unmet, look again this often: if the events they wait
for were lost (a pod created and deleted while the informer relisted is never
seen), nothing else would wake the ReplicaSet when they expire."""
STALE_CACHE_RECHECK: Final = 1.0
"""How soon to look again after the API showed more pods than the cache."""

Key = tuple[str, str]
Replicated = ReplicaSet | ReplicationController
"""The kinds this controller drives."""


def label_selector(rs: Replicated) -> LabelSelector:
    """The set's selector as a LabelSelector (a ReplicationController's is a label map)."""
    selector = rs.spec.selector
    return selector if isinstance(selector, LabelSelector) else LabelSelector(match_labels=selector)


class ReplicaSetController:
    """The reconciler of ReplicaSets; `controller` is its engine `Controller`."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        rng: random.Random | None = None,
        *,
        workers: int = 5,
        burst_replicas: int = BURST_REPLICAS,
        expectations: Expectations | None = None,
        name: str = "replicaset",
        kind: type[ReplicaSet] | type[ReplicationController] = ReplicaSet,
    ) -> None:
        self.kind = kind
        self.client = client
        component = "replicaset" if kind is ReplicaSet else "replication"
        self.recorder = EventRecorder(client, clock, f"{component}-controller")
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.burst_replicas = burst_replicas
        self.expectations = expectations if expectations is not None else Expectations(clock)
        self.replica_sets: SharedInformer[Replicated] = factory.informer(kind)
        self.pods = factory.informer(Pod)
        ensure_indexer(self.replica_sets, CONTROLLER_INDEX, controller_or_orphan)
        ensure_indexer(self.pods, CONTROLLER_INDEX, controller_or_orphan)
        self.controller = Controller(name, self, clock=clock, workers=workers)
        self.controller.informers.extend((self.replica_sets, self.pods))
        self.replica_sets.add_event_handler(
            EventHandler(add=self._enqueue, update=self._rs_updated, delete=self._rs_deleted)
        )
        self.pods.add_event_handler(
            EventHandler(add=self._pod_added, update=self._pod_updated, delete=self._pod_deleted)
        )
        self._log = get_logger(name)
        # Highest store revision of a pod this controller created, per ReplicaSet.
        self._written: dict[Key, int] = {}
        # Newest pod cache revision a decision was based on.
        self._newest_pod_revision = 0
        # uids of ReplicaSets the API said are gone while the cache still shows
        # them (their delete event lost or late): never acted on again.
        self._gone: set[str] = set()
        # uids of ReplicaSets whose pods in the cache were checked against the
        # API before this incarnation first created any for them.
        self._confirmed: set[str] = set()
        # Per ReplicaSet uid: (template it was built from, pod prototype, selector).
        self._prototypes: dict[str, tuple[PodTemplateSpec, Pod]] = {}
        self._selectors: dict[str, tuple[object, Selector]] = {}
        # Active pods per controller uid, for syncs that only recount.
        self.tally = shared_tally(self.pods)

    # -- event handlers (run inline in informer tasks: only bookkeeping and enqueue) --

    def _enqueue(self, rs: Replicated) -> None:
        self.controller.enqueue(Request(self.kind, rs.metadata.namespace, rs.metadata.name))

    def _enqueue_status_change(self, rs: Replicated) -> None:
        # A pod's status changed (it became ready, or restarted): only the
        # ReplicaSet's status can change, and computing it reads every pod of
        # the set. Status changes of one window coalesce into one reconcile,
        # or a rollout of N pods would cost O(N^2) pod reads.
        self.controller.queue.add_after(
            Request(self.kind, rs.metadata.namespace, rs.metadata.name), POD_STATUS_BATCH_SECONDS
        )

    def _rs_updated(self, old: Replicated, new: Replicated) -> None:
        if old.metadata.uid != new.metadata.uid:
            # Deleted and re-created under the same name between two events.
            self._rs_deleted(old)
        self._enqueue(new)

    def _rs_deleted(self, obj: Replicated | DeletedFinalStateUnknown[Replicated]) -> None:
        rs = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        key = rs.key
        self._gone.discard(rs.metadata.uid)
        self._confirmed.discard(rs.metadata.uid)
        self.expectations.forget(key)
        self._written.pop(key, None)
        self._prototypes.pop(rs.metadata.uid, None)
        self._selectors.pop(rs.metadata.uid, None)
        self._enqueue(rs)

    def _owner(self, pod: Pod) -> Replicated | None:
        return resolve_controller(
            self.replica_sets, pod.metadata.namespace, pod.metadata.controller_ref()
        )

    def _pod_added(self, pod: Pod) -> None:
        if pod.metadata.deletion_timestamp is not None:
            # Seen for the first time already terminating (e.g. after a relist):
            # it must not count as a creation still to come.
            self._pod_deleted(pod)
            return
        if pod.metadata.controller_ref() is not None:
            rs = self._owner(pod)
            if rs is not None:
                self.expectations.creation_observed(rs.key)
                self._enqueue(rs)
            return
        for rs in self._selecting(pod):
            self._enqueue(rs)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return  # a resync: nothing changed
        labels_changed = old.metadata.labels != new.metadata.labels
        if new.metadata.deletion_timestamp is not None:
            # Graceful deletion: the pod stops counting now, not when it is gone.
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_ref = old.metadata.controller_ref()
        new_ref = new.metadata.controller_ref()
        ref_changed = old_ref != new_ref
        if ref_changed and old_ref is not None:
            previous = resolve_controller(self.replica_sets, old.metadata.namespace, old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            rs = self._owner(new)
            if rs is not None:
                if ref_changed or labels_changed:
                    self._enqueue(rs)
                else:
                    self._enqueue_status_change(rs)
            return
        if labels_changed or ref_changed:
            for rs in self._selecting(new):
                self._enqueue(rs)

    def _pod_deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        rs = self._owner(pod)
        if rs is None:
            return
        self.expectations.deletion_observed(rs.key, pod.metadata.uid)
        self._enqueue(rs)

    def _selecting(self, pod: Pod) -> list[Replicated]:
        """ReplicaSets whose selector matches an orphan pod (candidates to adopt
        it). An empty selector matches nothing here, as in Kubernetes."""
        labels = pod.metadata.labels
        found = []
        for rs in self.replica_sets.cache.list(pod.metadata.namespace):
            selector = label_selector(rs)
            if (selector.match_labels or selector.match_expressions) and self._selector(rs).matches(
                labels
            ):
                found.append(rs)
        return found

    # -- reconcile -------------------------------------------------------------------

    async def reconcile(self, request: Request) -> Result:
        key: Key = (request.namespace, request.name)
        rs = self.replica_sets.cache.get(request.name, request.namespace)
        if rs is None or rs.metadata.uid in self._gone:
            self.expectations.forget(key)
            self._written.pop(key, None)
            return Result()
        counted = self._counted_status(key, rs)
        if counted is not None:
            return await self._write_counted_status(key, rs, *counted)
        selector = self._selector(rs)
        candidates = [p for p in owned_and_orphans(self.pods, rs) if is_pod_active(p)]
        # Decided before any await, on the same cache state as `candidates`.
        needs_sync = self._cache_is_trustworthy(key, rs, candidates)
        claimed = await claim(self.client, rs, selector, candidates)
        if claimed.errors:
            raise claimed.errors[0]
        pods = claimed.claimed
        manage_error: Exception | None = None
        cache_behind = False
        if needs_sync and rs.metadata.deletion_timestamp is None:
            try:
                cache_behind = not await self._manage_replicas(key, rs, pods)
            except ApiError as error:
                manage_error = error
        now = self.clock.now()
        status = calculate_status(rs, pods, manage_error, now)
        try:
            rs = await update_status(self.client, rs, status)
        except NotFound:
            # Deleted, though the cache does not show it yet. Acting on it again
            # would create pods the garbage collector deletes at once, whose
            # deletions wake this set again: a loop that never lets time pass.
            self._gone.add(rs.metadata.uid)
            self.expectations.forget(key)
            return Result()
        if manage_error is not None:
            raise manage_error
        wait = next_availability_check(rs, pods, self.clock.now())
        if wait is not None:
            wait += AVAILABILITY_SLACK
        if not needs_sync:
            wait = EXPECTATIONS_RECHECK if wait is None else min(wait, EXPECTATIONS_RECHECK)
        if cache_behind:
            wait = STALE_CACHE_RECHECK if wait is None else min(wait, STALE_CACHE_RECHECK)
        if wait is not None:
            return Result(requeue_after=wait)
        return Result()

    def _counted_status(self, key: Key, rs: Replicated) -> tuple[Status, bool] | None:
        """(status, waiting for expectations) from the running counts
        (`controllers.replicaset.tally`) when the full sync could only
        recount: on a cache that has not gone back in time, either as many
        active pods as replicas with expectations met, or expectations still
        pending (not expired), so nothing may be created or deleted; and all
        pods matching the selector, no orphans to adopt, nothing
        time-dependent (minReadySeconds), the set not being deleted. None
        otherwise: the full sync decides."""
        if rs.metadata.deletion_timestamp is not None or rs.spec.min_ready_seconds:
            return None
        tally = self.tally.owner(rs.metadata.uid)
        if tally is None or self.pods.last_revision < self._newest_pod_revision:
            return None
        adds, deletes = self.expectations.pending(key)
        waiting = adds > 0 or bool(deletes)
        if waiting:
            if self.expectations.satisfied(key):
                return None  # expired: whether to trust the cache needs the pods
        elif tally.active != rs.spec.replicas:
            return None
        cache = self.pods.cache
        if cache.index_size(CONTROLLER_INDEX, orphan_key(rs.metadata.namespace)):
            return None
        selector = self._selector(rs)
        fully_labeled = 0
        for labels, count in tally.label_sets.values():
            if not selector.matches(labels):
                return None  # the full sync releases it
            if fully_labeled_by(rs, labels):
                fully_labeled += count
        self._newest_pod_revision = self.pods.last_revision
        status = status_from_counts(
            rs, tally.active, fully_labeled, tally.ready, tally.ready, None, self.clock.now()
        )
        if detector.enabled:
            self._check_counted(rs, status)
        return status, waiting

    def _check_counted(self, rs: Replicated, status: Status) -> None:
        """Under the mutation detector (the test suite), prove the counted
        status equal to the full recount."""
        pods = [p for p in owned_and_orphans(self.pods, rs) if is_pod_active(p)]
        full = calculate_status(rs, pods, None, self.clock.now())
        if full != status:
            raise AssertionError(
                f"counted status of {rs.metadata.namespace}/{rs.metadata.name} "
                f"differs from the recount: {status!r} != {full!r}"
            )

    async def _write_counted_status(
        self, key: Key, rs: Replicated, status: Status, waiting: bool
    ) -> Result:
        try:
            await update_status(self.client, rs, status)
        except NotFound:
            self._gone.add(rs.metadata.uid)
            self.expectations.forget(key)
            return Result()
        return Result(requeue_after=EXPECTATIONS_RECHECK) if waiting else Result()

    def _cache_is_trustworthy(self, key: Key, rs: Replicated, candidates: list[Pod]) -> bool:
        revision = self.pods.last_revision
        if revision < self._newest_pod_revision:
            # The pod cache went back in time (a relist served by a lagging
            # apiserver): it may lack pods this controller has already seen,
            # created even, so acting on it could create them again.
            return False
        self._newest_pod_revision = revision
        adds, deletes = self.expectations.pending(key)
        if adds <= 0 and not deletes:
            return True
        if not self.expectations.satisfied(key):
            return False
        # Expired: trust the cache only if it reflects this controller's writes.
        if self.pods.last_revision < self._written.get(key, 0):
            stale = True
        else:
            stale = any(p.metadata.uid in deletes for p in candidates)
        if stale:
            self._log.warning(
                "expectations expired but the pod cache has not caught up; waiting",
                replicaset=f"{rs.metadata.namespace}/{rs.metadata.name}",
                pending_creations=adds,
                pending_deletions=len(deletes),
            )
            return False
        return True

    async def _manage_replicas(self, key: Key, rs: Replicated, pods: list[Pod]) -> bool:
        """Create or delete the difference. False if creating had to wait for
        the pod cache to catch up with the API."""
        diff = len(pods) - rs.spec.replicas
        if diff < 0:
            if not await self._still_exists(rs):
                return True
            if not await self._cache_shows_api_pods(rs, pods):
                return False
            await self._create_pods(key, rs, min(-diff, self.burst_replicas))
        elif diff > 0:
            await self._delete_pods(key, rs, pods, min(diff, self.burst_replicas))
        return True

    async def _cache_shows_api_pods(self, rs: Replicated, pods: list[Pod]) -> bool:
        """Before this incarnation first creates pods for `rs`: whether the API
        holds no more of its active pods than the cache shows. Expectations
        and the cache's revision cover what this incarnation did; nothing
        covers a first list served from a lagging snapshot (after a restart),
        which may lack pods an earlier incarnation created."""
        uid = rs.metadata.uid
        if uid in self._confirmed:
            return True
        listed = await self.client.list(
            Pod, namespace=rs.metadata.namespace, label_selector=self._selector(rs)
        )
        in_api = sum(
            1
            for pod in listed.items
            if is_pod_active(pod)
            and (ref := pod.metadata.controller_ref()) is not None
            and ref.uid == uid
        )
        if in_api > len(pods):
            return False
        self._confirmed.add(uid)
        return True

    async def _still_exists(self, rs: Replicated) -> bool:
        """Whether the API still holds this ReplicaSet (same uid, not being
        deleted). The cache may still show one whose delete event is lost or
        late; pods created for it would only be garbage collected."""
        current = await current_incarnation(self.client, rs)
        if current is not None:
            return current.metadata.deletion_timestamp is None
        self._gone.add(rs.metadata.uid)
        return False

    async def _create_pods(self, key: Key, rs: Replicated, count: int) -> None:
        self.expectations.expect_creations(key, count)
        prototype = self._prototype(rs)
        client = self.client
        written = self._written
        record = self.recorder.record

        async def create_one() -> None:
            try:
                pod = await client.create(prototype)
            except ServerTimeout as error:
                # The pod may well have been created: expect its event like any
                # other's (if none comes, the expectation expires). Counting it
                # as not created would let a sync on a lagging cache create it again.
                record(rs, "Warning", "FailedCreate", f"Error creating: {error}")
                return
            except Forbidden as error:
                if "being terminated" in str(error):
                    return  # the namespace is going away: every create would fail
                record(rs, "Warning", "FailedCreate", f"Error creating: {error}")
                raise
            except ApiError as error:
                record(rs, "Warning", "FailedCreate", f"Error creating: {error}")
                raise
            record(rs, "Normal", "SuccessfulCreate", f"Created pod: {pod.metadata.name}")
            revision = int(pod.metadata.resource_version)
            if revision > written.get(key, 0):
                written[key] = revision

        successes, error = await slow_start_batch(count, create_one)
        # No event will come for creations that failed or were never tried.
        for _ in range(count - successes):
            self.expectations.creation_observed(key)
        if error is not None:
            raise error

    async def _delete_pods(self, key: Key, rs: Replicated, pods: list[Pod], count: int) -> None:
        victims = pods_to_delete(pods, self._related_pods(rs), count, self.clock.now())
        self.expectations.expect_deletions(key, [p.metadata.uid for p in victims])
        deleted, first_error = await delete_pods(self.client, victims, self.expectations, key)
        for pod in deleted:
            self.recorder.record(
                rs, "Normal", "SuccessfulDelete", f"Deleted pod: {pod.metadata.name}"
            )
        if first_error is not None:
            self.recorder.record(rs, "Warning", "FailedDelete", f"Error deleting: {first_error}")
            raise first_error

    def _related_pods(self, rs: Replicated) -> list[Pod]:
        """Pods of this ReplicaSet and of its siblings under the same controller,
        for ranking by how crowded their nodes are. Kubernetes ranks a set
        without a controller against nothing; here it ranks against itself."""
        ref = rs.metadata.controller_ref()
        if ref is None:
            return self.pods.cache.by_index(CONTROLLER_INDEX, rs.metadata.uid)
        related: list[Pod] = []
        for sibling in self.replica_sets.cache.by_index(CONTROLLER_INDEX, ref.uid):
            related.extend(self.pods.cache.by_index(CONTROLLER_INDEX, sibling.metadata.uid))
        return related

    # -- per-ReplicaSet caches of derived objects ----------------------------------------

    def _selector(self, rs: Replicated) -> Selector:
        uid = rs.metadata.uid
        cached = self._selectors.get(uid)
        if cached is None or cached[0] is not rs.spec.selector:
            cached = (rs.spec.selector, from_label_selector(label_selector(rs)))
            self._selectors[uid] = cached
        return cached[1]

    def _prototype(self, rs: Replicated) -> Pod:
        """The pod to create for `rs`: the store copies it on create, so one
        prototype serves every creation until the template changes."""
        uid = rs.metadata.uid
        template = rs.spec.template
        cached = self._prototypes.get(uid)
        if cached is not None and cached[0] is template:
            return cached[1]
        meta = template.metadata
        prototype = Pod(
            metadata=ObjectMeta(
                generate_name=f"{rs.metadata.name}-",
                namespace=rs.metadata.namespace,
                labels=meta.labels,
                annotations=meta.annotations,
                finalizers=meta.finalizers,
                owner_references=[new_controller_ref(rs)],
            ),
            spec=template.spec,
        )
        self._prototypes[uid] = (template, prototype)
        return prototype


def setup(
    manager: Manager,
    *,
    workers: int = 5,
    burst_replicas: int = BURST_REPLICAS,
    expectations: Expectations | None = None,
) -> ReplicaSetController:
    """Create the ReplicaSet controller on `manager`'s informers and add it."""
    rsc = ReplicaSetController(
        manager.client,
        manager.factory,
        manager.clock,
        manager.rng,
        workers=workers,
        burst_replicas=burst_replicas,
        expectations=expectations,
    )
    manager.add(rsc.controller)
    manager.add_runnable(rsc.recorder.run)
    return rsc


def setup_replication_controller(
    manager: Manager, *, workers: int = 5, burst_replicas: int = BURST_REPLICAS
) -> ReplicaSetController:
    """Create the ReplicationController controller (kube-controller-manager's
    `replicationcontroller`) on `manager`'s informers and add it."""
    rcc = ReplicaSetController(
        manager.client,
        manager.factory,
        manager.clock,
        manager.rng,
        workers=workers,
        burst_replicas=burst_replicas,
        name="replicationcontroller",
        kind=ReplicationController,
    )
    manager.add(rcc.controller)
    manager.add_runnable(rcc.recorder.run)
    return rcc
