"""The StatefulSet controller (kube-controller-manager's statefulset
controller): informers on StatefulSets, their pods, ControllerRevisions and
PersistentVolumeClaims; each change enqueues the owning set; a reconcile
claims the set's pods (adopting matching orphans named `<set>-<ordinal>`,
releasing pods that stopped matching), runs one sync
(`controllers.statefulset.control`) and writes the status.

Pod events coalesce for a short window into one reconcile, as ReplicaSets'
status changes do: a set's sync reads all its pods. The set's own status
writes do not wake it.

Neighbours: `controllers.statefulset.control`, `controllers.common`
(ownership, history), `engine.events` (the Events it records).
"""

from __future__ import annotations

from typing import Any, Final

from controllers.common.ownership import (
    CONTROLLER_INDEX,
    claim,
    controller_or_orphan,
    ensure_indexer,
    orphan_key,
)
from controllers.common.selectors import SelectorCache
from controllers.statefulset.control import sync_stateful_set
from controllers.statefulset.facts import PodFactsCache
from controllers.statefulset.status import unconverged_reason
from engine.api import ControllerRevision, PersistentVolumeClaim, Pod, StatefulSet
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.manager import Manager
from engine.selectors import from_label_selector

__all__ = ["StatefulSetController", "setup"]

POD_STATUS_BATCH_SECONDS: Final = 0.5
"""Pod events within this window coalesce into one reconcile of their set (a
set's sync reads all its pods; on virtual time the wait costs nothing)."""


STALE_CACHE_RECHECK: Final = 0.5
"""How soon to look again when the cache lags this controller's own status write."""
UNSETTLED_RECHECK: Final = 10.0
"""While a set has not converged, it is synced at least this often."""


class _SpecOrDeletionChanged:
    """Set updates that need a sync: the spec (generation) or deletion changed."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: StatefulSet, new: StatefulSet) -> bool:
        return (
            old.metadata.generation != new.metadata.generation
            or old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
            or old.metadata.uid != new.metadata.uid
        )

    def delete(self, obj: Any) -> bool:
        return True


class StatefulSetController:
    """The reconciler of StatefulSets; `controller` is its engine `Controller`."""

    def __init__(
        self, client: Client, factory: InformerFactory, clock: Clock, *, workers: int = 5
    ) -> None:
        self.client = client
        self.clock = clock
        self.sets = factory.informer(StatefulSet)
        self.pods = factory.informer(Pod)
        self.revisions = factory.informer(ControllerRevision)
        self.claims = factory.informer(PersistentVolumeClaim)
        ensure_indexer(self.pods, CONTROLLER_INDEX, controller_or_orphan)
        ensure_indexer(self.revisions, CONTROLLER_INDEX, controller_or_orphan)
        self.recorder = EventRecorder(client, clock, "statefulset-controller")
        self.controller = Controller("statefulset", self, clock=clock, workers=workers)
        # Its own status writes do not wake a set: only spec and deletion changes.
        self.controller.for_kind(self.sets, _SpecOrDeletionChanged())
        self.controller.owns(self.revisions, StatefulSet)
        self.controller.informers.extend((self.pods, self.claims))
        self.pods.add_event_handler(
            EventHandler(add=self._pod_event, update=self._pod_updated, delete=self._pod_deleted)
        )
        self.facts = PodFactsCache()
        self._selectors = SelectorCache()
        # Per set uid: the resourceVersion of this controller's last status write.
        self._status_written: dict[str, int] = {}

    def _pod_event(self, pod: Pod) -> None:
        ref = pod.metadata.controller_ref()
        if ref is not None and ref.kind == "StatefulSet":
            request = Request(StatefulSet, pod.metadata.namespace, ref.name)
            self.controller.queue.add_after(request, POD_STATUS_BATCH_SECONDS)
            return
        if ref is None:  # an orphan a set may adopt
            for sts in self.sets.cache.list(pod.metadata.namespace):
                if from_label_selector(sts.spec.selector).matches(pod.metadata.labels):
                    self.controller.enqueue(Request.for_object(sts))

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if old.metadata.controller_ref() != new.metadata.controller_ref():
            self._pod_event(old)
        self._pod_event(new)

    def _pod_deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        self._pod_event(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    async def reconcile(self, request: Request) -> Result:
        sts = self.sets.cache.get(request.name, request.namespace)
        if sts is None:
            return Result()
        if int(sts.metadata.resource_version) < self._status_written.get(sts.metadata.uid, 0):
            # The cache has not caught up with this controller's own status
            # write: its status would compare equal to a stale one and the
            # write that is needed would be skipped. Those events do not wake
            # a set, so look again shortly.
            return Result(requeue_after=STALE_CACHE_RECHECK)
        name = sts.metadata.name
        selector = self._selectors.of(sts.metadata.uid, sts.spec.selector)
        of = self.facts.of
        owned = [
            (p, f)
            for p in self.pods.cache.by_index(CONTROLLER_INDEX, sts.metadata.uid)
            if (f := of(name, selector, p)).ordinal >= 0
        ]
        orphans = [
            p
            for p in self.pods.cache.by_index(CONTROLLER_INDEX, orphan_key(sts.metadata.namespace))
            if of(name, selector, p).ordinal >= 0
        ]
        pods = owned
        if orphans or not all(f.matches for _, f in owned):
            # Adopt matching orphans, release pods that stopped matching.
            candidates = [p for p, _ in owned] + orphans
            claimed = await claim(self.client, sts, selector, candidates)
            if claimed.errors:
                raise claimed.errors[0]
            pods = [(p, of(name, selector, p)) for p in claimed.claimed]
        revisions = self.revisions.cache.by_index(CONTROLLER_INDEX, sts.metadata.uid)
        claims = {
            c.metadata.name: c
            for c in self.claims.cache.list(sts.metadata.namespace)
            if _claim_of(c, name)
        }
        outcome = await sync_stateful_set(
            self.client, self.recorder, sts, pods, revisions, claims, self.clock.now()
        )
        status = outcome.status
        if status != sts.status:
            try:
                written = await self.client.update_status(sts.model_copy(update={"status": status}))
            except NotFound:
                return Result()
            except Conflict:
                return Result(requeue=True)
            self._status_written[sts.metadata.uid] = int(written.metadata.resource_version)
        if outcome.error is not None:
            raise outcome.error
        wait = outcome.requeue_after
        if unconverged_reason(sts.model_copy(update={"status": status})) is not None:
            # Not there yet: look again even if no event comes (one may have
            # been computed from a cache that was behind, as after a relist
            # from a lagging apiserver, and nothing else would wake the set).
            wait = UNSETTLED_RECHECK if wait is None else min(wait, UNSETTLED_RECHECK)
        return Result(requeue_after=wait) if wait is not None else Result()


def _claim_of(claim: PersistentVolumeClaim, set_name: str) -> bool:
    """Whether a claim's name has the shape `<template>-<set>-<ordinal>`."""
    head, _, digits = claim.metadata.name.rpartition("-")
    return digits.isdigit() and head.endswith(f"-{set_name}")


def setup(manager: Manager, *, workers: int = 5) -> StatefulSetController:
    """Create the StatefulSet controller on `manager`'s informers and add it."""
    ssc = StatefulSetController(manager.client, manager.factory, manager.clock, workers=workers)
    manager.add(ssc.controller)
    manager.add_runnable(ssc.recorder.run)
    return ssc
