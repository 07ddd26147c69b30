"""The StatefulSet controller (kube-controller-manager's statefulset
controller): informers on StatefulSets, their pods, ControllerRevisions and
PersistentVolumeClaims; each change enqueues the owning set; a reconcile
claims the set's pods (adopting matching orphans named `<set>-<ordinal>`,
releasing pods that stopped matching), runs one sync
(`controllers.statefulset.control`) and writes the status.

Pod status changes coalesce for a short window into one reconcile, as for
ReplicaSets: a set's sync reads all its pods.

Neighbours: `controllers.statefulset.control`, `controllers.common`
(ownership, history), `engine.events` (the Events it records).
"""

from __future__ import annotations

from typing import Final

from controllers.common.ownership import (
    CONTROLLER_INDEX,
    claim,
    controller_or_orphan,
    ensure_indexer,
    orphan_key,
)
from controllers.statefulset.control import sync_stateful_set
from controllers.statefulset.facts import PodFacts, PodFactsCache
from engine.api import ControllerRevision, PersistentVolumeClaim, Pod, StatefulSet
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import InformerFactory
from engine.manager import Manager
from engine.selectors import from_label_selector

__all__ = ["StatefulSetController", "setup"]

POD_STATUS_BATCH_SECONDS: Final = 0.5
"""Pod updates within this window coalesce into one reconcile of their set."""


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
        self.controller.for_kind(self.sets)
        self.controller.owns(self.pods, StatefulSet, update_delay=POD_STATUS_BATCH_SECONDS)
        self.controller.owns(self.revisions, StatefulSet)
        self.controller.informers.append(self.claims)
        self.facts = PodFactsCache()

    async def reconcile(self, request: Request) -> Result:
        sts = self.sets.cache.get(request.name, request.namespace)
        if sts is None:
            return Result()
        name = sts.metadata.name
        selector = from_label_selector(sts.spec.selector)
        facts_cache = self.facts

        def facts(pod: Pod) -> PodFacts:
            return facts_cache.of(name, pod)

        owned = self.pods.cache.by_index(CONTROLLER_INDEX, sts.metadata.uid)
        orphans = self.pods.cache.by_index(CONTROLLER_INDEX, orphan_key(sts.metadata.namespace))
        orphans = [p for p in orphans if facts(p).ordinal >= 0]
        owned = [p for p in owned if facts(p).ordinal >= 0]
        pods = owned
        if orphans or not all(selector.matches(p.metadata.labels) for p in owned):
            # Adopt matching orphans, release pods that stopped matching.
            claimed = await claim(self.client, sts, selector, owned + orphans)
            if claimed.errors:
                raise claimed.errors[0]
            pods = claimed.claimed
        revisions = self.revisions.cache.by_index(CONTROLLER_INDEX, sts.metadata.uid)
        claims = {
            c.metadata.name: c
            for c in self.claims.cache.list(sts.metadata.namespace)
            if _claim_of(c, name)
        }
        outcome = await sync_stateful_set(
            self.client, self.recorder, sts, pods, revisions, claims, self.clock.now(), facts
        )
        status = outcome.status
        if status != sts.status:
            try:
                await self.client.update_status(sts.model_copy(update={"status": status}))
            except NotFound:
                return Result()
            except Conflict:
                return Result(requeue=True)
        if outcome.error is not None:
            raise outcome.error
        if outcome.requeue_after is not None:
            return Result(requeue_after=outcome.requeue_after)
        return Result()


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
