"""The Deployment controller: rolls a Deployment's pod template out through
ReplicaSets (kube-controller-manager's deployment controller).

A sync of one Deployment, level-triggered from informer caches:

1. Claim ReplicaSets: owned ones its selector still matches, plus matching
   orphans (adopted); owned ones that stopped matching are released.
2. Deleted Deployment: only the status is kept up to date. Otherwise the
   Progressing condition records a pause or a resume.
3. Paused, or `spec.replicas` changed (a scaling event): scale, proportionally
   across the ReplicaSets of a rollout in progress, and update the status.
4. Otherwise one step of the strategy: `RollingUpdate`
   (`controllers.deployment.rolling`) or `Recreate`
   (`controllers.deployment.recreate`), then status and progress.

Reads are consistent with the controller's own writes: a sync waits (does
nothing; the event of that write will trigger it again) until the informers
have seen the last ReplicaSet and Deployment writes of the previous sync, so
a rollout step never builds on a cache that does not show the step before.
A cache can still miss changes (lost watch events are only recovered by a
relist): before a write that raises the ReplicaSets' total size, the sync
confirms its view with a direct list from the API, and if the API disagrees,
syncs again from the listed ReplicaSets (`DeploymentSync.confirm_view`), so
replicas + maxSurge holds whatever the cache shows. Likewise a new ReplicaSet
is created only after reading the Deployment from the API, and a Deployment
the API says is gone is not synced again until the informer shows the deletion
(ReplicaSets made for it would be garbage collected, waking it again).

Rollback and pause are not controller work: they are edits of the Deployment
(`controllers.deployment.rollout`), as `kubectl rollout undo` makes them.

Neighbours: `engine.controller`, `controllers.common.ownership`, the other
modules of this package; the ReplicaSet controller does the pod work.
"""

from __future__ import annotations

import random
from typing import Final

from controllers.common.ownership import (
    CONTROLLER_INDEX,
    claim,
    controller_or_orphan,
    ensure_indexer,
    owned_and_orphans,
    resolve_controller,
)
from controllers.deployment.recreate import rollout_recreate
from controllers.deployment.rolling import rollout_rolling
from controllers.deployment.sync import DeploymentGone, DeploymentSync, StaleReplicaSets
from engine.api import Deployment, LabelSelector, Pod, ReplicaSet
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.events import EventRecorder
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.logging import get_logger
from engine.manager import Manager
from engine.selectors import Selector, from_label_selector

__all__ = ["DeploymentController", "setup"]

CATCH_UP_RECHECK: Final = 1.0
"""If the event of the last write never came, look again after this long."""

Key = tuple[str, str]


class DeploymentController:
    """The reconciler of Deployments; `controller` is its engine `Controller`."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        rng: random.Random | None = None,
        *,
        workers: int = 5,
        name: str = "deployment",
    ) -> None:
        self.client = client
        self.clock = clock
        self.recorder = EventRecorder(client, clock, "deployment-controller")
        self.rng = rng or random.Random(0)
        self.deployments = factory.informer(Deployment)
        self.replica_sets = factory.informer(ReplicaSet)
        self.pods = factory.informer(Pod)
        ensure_indexer(self.replica_sets, CONTROLLER_INDEX, controller_or_orphan)
        ensure_indexer(self.pods, CONTROLLER_INDEX, controller_or_orphan)
        self.controller = Controller(name, self, clock=clock, workers=workers)
        self.controller.informers.extend((self.deployments, self.replica_sets, self.pods))
        self.deployments.add_event_handler(
            EventHandler(
                add=self._enqueue, update=self._deployment_updated, delete=self._deployment_deleted
            )
        )
        self.replica_sets.add_event_handler(
            EventHandler(add=self._rs_added, update=self._rs_updated, delete=self._rs_deleted)
        )
        self.pods.add_event_handler(EventHandler(delete=self._pod_deleted))
        self._log = get_logger("deployment")
        self._selectors: dict[str, tuple[LabelSelector, Selector]] = {}
        # Store revisions of the last writes of a sync: (ReplicaSets, Deployment).
        self._written: dict[Key, tuple[int, int]] = {}
        # uids of Deployments the API said are gone while the cache still shows
        # them (their delete event lost or late): never synced again.
        self._gone: set[str] = set()

    # -- event handlers ----------------------------------------------------------------

    def _enqueue(self, d: Deployment) -> None:
        self.controller.enqueue(Request(Deployment, d.metadata.namespace, d.metadata.name))

    def _deployment_updated(self, old: Deployment, new: Deployment) -> None:
        self._enqueue(new)

    def _deployment_deleted(self, obj: Deployment | DeletedFinalStateUnknown[Deployment]) -> None:
        d = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self._written.pop(d.key, None)
        self._gone.discard(d.metadata.uid)
        self._selectors.pop(d.metadata.uid, None)
        self._enqueue(d)

    def _owner(self, rs: ReplicaSet) -> Deployment | None:
        return resolve_controller(
            self.deployments, rs.metadata.namespace, rs.metadata.controller_ref()
        )

    def _rs_added(self, rs: ReplicaSet) -> None:
        if rs.metadata.deletion_timestamp is not None:
            self._rs_deleted(rs)
            return
        if rs.metadata.controller_ref() is not None:
            d = self._owner(rs)
            if d is not None:
                self._enqueue(d)
            return
        for d in self._selecting(rs):
            self._enqueue(d)

    def _rs_updated(self, old: ReplicaSet, new: ReplicaSet) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        old_ref = old.metadata.controller_ref()
        new_ref = new.metadata.controller_ref()
        if old_ref != new_ref and old_ref is not None:
            previous = resolve_controller(self.deployments, old.metadata.namespace, old_ref)
            if previous is not None:
                self._enqueue(previous)
        if new_ref is not None:
            d = self._owner(new)
            if d is not None:
                self._enqueue(d)
            return
        if old.metadata.labels != new.metadata.labels or old_ref != new_ref:
            for d in self._selecting(new):
                self._enqueue(d)

    def _rs_deleted(self, obj: ReplicaSet | DeletedFinalStateUnknown[ReplicaSet]) -> None:
        rs = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        d = self._owner(rs)
        if d is not None:
            self._enqueue(d)

    def _pod_deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        """Recreate waits for the last old pod to be gone."""
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        rs = resolve_controller(
            self.replica_sets, pod.metadata.namespace, pod.metadata.controller_ref()
        )
        if rs is None:
            return
        d = self._owner(rs)
        if d is not None and d.spec.strategy.type == "Recreate":
            self._enqueue(d)

    def _selecting(self, rs: ReplicaSet) -> list[Deployment]:
        labels = rs.metadata.labels
        found = []
        for d in self.deployments.cache.list(rs.metadata.namespace):
            selector = d.spec.selector
            if (selector.match_labels or selector.match_expressions) and self._selector(d).matches(
                labels
            ):
                found.append(d)
        return found

    def _selector(self, d: Deployment) -> Selector:
        uid = d.metadata.uid
        cached = self._selectors.get(uid)
        if cached is None or cached[0] is not d.spec.selector:
            cached = (d.spec.selector, from_label_selector(d.spec.selector))
            self._selectors[uid] = cached
        return cached[1]

    # -- reconcile -----------------------------------------------------------------------

    async def reconcile(self, request: Request) -> Result:
        key: Key = (request.namespace, request.name)
        d = self.deployments.cache.get(request.name, request.namespace)
        if d is None or d.metadata.uid in self._gone:
            self._written.pop(key, None)
            return Result()
        rs_written, d_written = self._written.get(key, (0, 0))
        if (
            self.replica_sets.last_revision < rs_written
            or self.deployments.last_revision < d_written
        ):
            return Result(requeue_after=CATCH_UP_RECHECK)
        selector = d.spec.selector
        if not selector.match_labels and not selector.match_expressions:
            # Selects everything: refuse to act (validation normally prevents it).
            self._log.warning(
                "deployment with an empty selector ignored",
                deployment=f"{d.metadata.namespace}/{d.metadata.name}",
            )
            return Result()
        s = await self._claim(d, owned_and_orphans(self.replica_sets, d))
        try:
            try:
                await self._sync(s)
            except StaleReplicaSets as stale:
                # The cache missed changes (its events were lost, or lag): do the
                # sync again from what the API listed.
                again = await self._claim(s.d, stale.listed)
                again.last_rs_write = s.last_rs_write
                again.last_deployment_write = s.last_deployment_write
                s = again
                await self._sync(s)
        except StaleReplicaSets:
            return Result(requeue=True)  # changing under our feet: try again shortly
        except DeploymentGone:
            self._gone.add(d.metadata.uid)
            return Result()
        finally:
            self._written[key] = (
                s.last_rs_write or rs_written,
                s.last_deployment_write or d_written,
            )
        if s.requeue:
            return Result(requeue=True)
        return Result(requeue_after=s.requeue_after)

    async def _claim(self, d: Deployment, candidates: list[ReplicaSet]) -> DeploymentSync:
        claimed = await claim(self.client, d, self._selector(d), candidates)
        if claimed.errors:
            raise claimed.errors[0]
        return DeploymentSync(self.client, self.clock, d, claimed.claimed, self.recorder)

    async def _sync(self, s: DeploymentSync) -> None:
        if s.d.metadata.deletion_timestamp is not None:
            new_rs, old_rss = await s.new_and_old(create=False)
            await s.sync_status([*old_rss, *([new_rs] if new_rs else [])], new_rs)
            return
        await s.check_paused_conditions()
        if s.d.spec.paused:
            await s.sync()
            return
        if await s.is_scaling_event() and not await s.scaling_needs_rollout():
            await s.sync()
            return
        if s.d.spec.strategy.type == "Recreate":
            pods_by_rs = {
                rs.metadata.uid: self.pods.cache.by_index(CONTROLLER_INDEX, rs.metadata.uid)
                for rs in s.replica_sets
            }
            await rollout_recreate(s, pods_by_rs)
        else:
            await rollout_rolling(s)


def setup(manager: Manager, *, workers: int = 5) -> DeploymentController:
    """Create the Deployment controller on `manager`'s informers and add it."""
    dc = DeploymentController(
        manager.client, manager.factory, manager.clock, manager.rng, workers=workers
    )
    manager.add(dc.controller)
    manager.add_runnable(dc.recorder.run)
    return dc
