"""The disruption controller (kube-controller-manager's `disruption`): keeps
each PodDisruptionBudget's status (`controllers.disruption.budget`) current
as its pods come, go, and turn ready or not.

A pod event enqueues the budgets of its namespace whose selector matches it;
pod status changes coalesce for a short window. The scale of a pod's
controller is read from informer caches: Deployment (through its
ReplicaSet), ReplicaSet, ReplicationController, StatefulSet.

Neighbours: `controllers.disruption.budget`; `engine.eviction` (which spends
budgets this controller recomputes).
"""

from __future__ import annotations

from typing import Any, Final

from controllers.disruption.budget import NoController, compute_status, failed_status
from engine.api import (
    Deployment,
    LabelSelector,
    Pod,
    PodDisruptionBudget,
    ReplicaSet,
    ReplicationController,
    StatefulSet,
)
from engine.api.base import OwnerReference
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.manager import Manager
from engine.selectors import Selector, from_label_selector

__all__ = ["DisruptionController", "setup"]

POD_STATUS_BATCH_SECONDS: Final = 0.2
_SLACK: Final = 0.001


class DisruptionController:
    """The reconciler of PodDisruptionBudgets; `controller` is its engine `Controller`."""

    def __init__(
        self, client: Client, factory: InformerFactory, clock: Clock, *, workers: int = 2
    ) -> None:
        self.client = client
        self.clock = clock
        self.recorder = EventRecorder(client, clock, "controllermanager")
        self.budgets = factory.informer(PodDisruptionBudget)
        self.pods = factory.informer(Pod)
        self.owners: dict[str, Any] = {
            "Deployment": factory.informer(Deployment),
            "ReplicaSet": factory.informer(ReplicaSet),
            "ReplicationController": factory.informer(ReplicationController),
            "StatefulSet": factory.informer(StatefulSet),
        }
        self.controller = Controller("disruption", self, clock=clock, workers=workers)
        self.controller.for_kind(self.budgets)
        self.controller.informers.append(self.pods)
        self.controller.informers.extend(self.owners.values())
        self.pods.add_event_handler(
            EventHandler(add=self._pod_changed, update=self._pod_updated, delete=self._pod_gone)
        )
        self._selectors: dict[str, tuple[LabelSelector, Selector]] = {}

    def _selector(self, pdb: PodDisruptionBudget) -> Selector | None:
        spec_selector = pdb.spec.selector
        if spec_selector is None:
            return None
        cached = self._selectors.get(pdb.metadata.uid)
        if cached is None or cached[0] is not spec_selector:
            cached = (spec_selector, from_label_selector(spec_selector))
            self._selectors[pdb.metadata.uid] = cached
        return cached[1]

    def _budgets_of(self, pod: Pod, delay: float = 0.0) -> None:
        for pdb in self.budgets.cache.list(pod.metadata.namespace):
            selector = self._selector(pdb)
            if selector is not None and selector.matches(pod.metadata.labels):
                request = Request(PodDisruptionBudget, pdb.metadata.namespace, pdb.metadata.name)
                if delay:
                    self.controller.queue.add_after(request, delay)
                else:
                    self.controller.enqueue(request)

    def _pod_changed(self, pod: Pod) -> None:
        self._budgets_of(pod)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if old.metadata.labels != new.metadata.labels:
            self._budgets_of(old)
            self._budgets_of(new)
        elif old.metadata.deletion_timestamp != new.metadata.deletion_timestamp:
            self._budgets_of(new)
        else:
            self._budgets_of(new, POD_STATUS_BATCH_SECONDS)

    def _pod_gone(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        self._budgets_of(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    def _scale_of(self, pod: Pod) -> tuple[str, int] | None:
        ref = pod.metadata.controller_ref()
        owner = self._resolve(pod.metadata.namespace, ref)
        if owner is None:
            return None
        if isinstance(owner, ReplicaSet):
            parent = self._resolve(pod.metadata.namespace, owner.metadata.controller_ref())
            if isinstance(parent, Deployment):
                owner = parent
        return owner.metadata.uid, owner.spec.replicas

    def _resolve(self, namespace: str, ref: OwnerReference | None) -> Any:
        if ref is None:
            return None
        informer = self.owners.get(ref.kind)
        if informer is None:
            return None
        owner = informer.cache.get(ref.name, namespace)
        return owner if owner is not None and owner.metadata.uid == ref.uid else None

    async def reconcile(self, request: Request) -> Result:
        pdb = self.budgets.cache.get(request.name, request.namespace)
        if pdb is None:
            return Result()
        selector = self._selector(pdb)
        pods = (
            [
                p
                for p in self.pods.cache.list(pdb.metadata.namespace)
                if selector.matches(p.metadata.labels)
            ]
            if selector is not None
            else []
        )
        if not pods:
            self.recorder.record(pdb, "Normal", "NoPods", "No matching pods found")
        now = self.clock.now()
        recheck: float | None = None
        try:
            status, recheck = compute_status(pdb, pods, self._scale_of, now)
        except NoController as error:
            self.recorder.record(pdb, "Warning", "NoControllers", str(error))
            self.recorder.record(
                pdb,
                "Warning",
                "CalculateExpectedPodCountFailed",
                f"Failed to calculate the number of expected pods: {error}",
            )
            status = failed_status(pdb, str(error), now)
        if status != pdb.status:
            try:
                await self.client.update_status(pdb.model_copy(update={"status": status}))
            except NotFound:
                return Result()
            except Conflict:
                return Result(requeue=True)  # an eviction spent the budget meanwhile
        if recheck is not None:
            return Result(requeue_after=recheck + _SLACK)
        return Result()


def setup(manager: Manager, *, workers: int = 2) -> DisruptionController:
    """Create the disruption controller on `manager`'s informers and add it."""
    dc = DisruptionController(manager.client, manager.factory, manager.clock, workers=workers)
    manager.add(dc.controller)
    manager.add_runnable(dc.recorder.run)
    return dc
