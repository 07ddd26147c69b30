"""Pod garbage collection: pods of nodes that no longer exist, and finished
pods beyond the threshold.

Role: kube-controller-manager's pod garbage collector. Every `check_period`
(20 s):

* Terminated pods (Succeeded or Failed): when there are more than
  `terminated_threshold` (kube-controller-manager's
  `--terminated-pod-gc-threshold`, 12,500; 0 turns this off), the oldest
  (by creation time) beyond it are deleted.
* Orphaned pods: it looks for node names that pods are bound to but that
  have no Node; once such a node has been missing for `quarantine` (40 s)
  its pods get DisruptionTarget=True (reason DeletionByPodGC), a pod not
  yet finished is marked Failed (so a Job counts it, whatever its
  podReplacementPolicy), and they are force-deleted (grace period 0): no
  kubelet is left to finish a graceful deletion.
* Unscheduled terminating pods: a pod being deleted that was never bound
  (a finalizer, such as a Job's tracking finalizer, keeps it) is marked
  Failed with DisruptionTarget and force-deleted the same way
  (Kubernetes' gcUnscheduledTerminating).

Neighbours: `controllers.nodelifecycle.config` (quarantine),
`controllers.nodelifecycle.controller` (shares the informers).
"""

from __future__ import annotations

import contextlib

from engine.api import core
from engine.cache import index_pods_by_node
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError, Conflict, NotFound
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager

__all__ = ["OrphanPodCollector"]

log = get_logger("podgc")
NODE_INDEX = "spec.nodeName"
TERMINATED_INDEX = "podgc.terminated"
UNSCHEDULED_TERMINATING_INDEX = "podgc.unscheduled-terminating"
_FINISHED = ("Succeeded", "Failed")


def _terminated(pod: core.Pod) -> tuple[str, ...]:
    """Indexed under "" when finished and not being deleted: each pass counts
    them without a scan of every pod."""
    if pod.status.phase in _FINISHED and pod.metadata.deletion_timestamp is None:
        return ("",)
    return ()


def _unscheduled_terminating(pod: core.Pod) -> tuple[str, ...]:
    """Indexed under "" when being deleted, never bound, and not finished."""
    if (
        pod.metadata.deletion_timestamp is not None
        and not pod.spec.node_name
        and pod.status.phase not in _FINISHED
    ):
        return ("",)
    return ()


class OrphanPodCollector:
    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        *,
        clock: Clock,
        quarantine: float = 40.0,
        check_period: float = 20.0,
        terminated_threshold: int = 12_500,
    ) -> None:
        self.client = client
        self.clock = clock
        self.quarantine = quarantine
        self.check_period = check_period
        self.terminated_threshold = terminated_threshold
        self.nodes = factory.informer(core.Node)
        self.pods = factory.informer(core.Pod)
        with contextlib.suppress(ValueError):
            self.pods.add_indexer(NODE_INDEX, index_pods_by_node)
        self.pods.add_indexer(TERMINATED_INDEX, _terminated)
        self.pods.add_indexer(UNSCHEDULED_TERMINATING_INDEX, _unscheduled_terminating)
        self._missing_since: dict[str, float] = {}
        self.deleted = 0

    def register(self, manager: Manager) -> None:
        manager.add_runnable(self.run)

    async def run(self) -> None:
        await self.nodes.wait_for_sync()
        await self.pods.wait_for_sync()
        while True:
            try:
                await self.collect_terminated()
                await self.collect_once()
                await self.collect_unscheduled_terminating()
            except ApiError as error:
                # Left for the next pass, as Kubernetes' podgc does.
                log.warning("orphaned pod collection failed", error=str(error), reason=error.reason)
            await self.clock.sleep(self.check_period)

    async def collect_terminated(self) -> None:
        """Delete the oldest finished pods beyond the threshold."""
        threshold = self.terminated_threshold
        if threshold <= 0:
            return
        cache = self.pods.cache
        excess = cache.index_size(TERMINATED_INDEX, "") - threshold
        if excess <= 0:
            return
        finished = cache.by_index(TERMINATED_INDEX, "")
        finished.sort(key=_creation_key)
        for pod in finished[:excess]:
            meta = pod.metadata
            with contextlib.suppress(NotFound, Conflict):
                await self.client.delete(
                    core.Pod,
                    meta.name,
                    namespace=meta.namespace,
                    grace_period_seconds=0,
                    uid=meta.uid,
                )
                self.deleted += 1
        log.info("deleted terminated pods over the threshold", count=excess, threshold=threshold)

    async def collect_once(self) -> None:
        now = self.clock.monotonic()
        missing = {
            name
            for name in self.pods.cache.index_values(NODE_INDEX)
            if name and self.nodes.cache.get(name) is None
        }
        for name in list(self._missing_since):
            if name not in missing:
                del self._missing_since[name]
        for name in sorted(missing):
            since = self._missing_since.setdefault(name, now)
            if now - since < self.quarantine:
                continue
            for pod in self.pods.cache.by_index(NODE_INDEX, name):
                await self._delete(pod)

    async def collect_unscheduled_terminating(self) -> None:
        """Pods being deleted that never reached a node (a finalizer holds
        them): no kubelet will ever finish them."""
        for pod in self.pods.cache.by_index(UNSCHEDULED_TERMINATING_INDEX, ""):
            await self._delete(pod, "PodGC: unscheduled pod being deleted")

    async def _delete(self, pod: core.Pod, message: str = "PodGC: node no longer exists") -> None:
        meta = pod.metadata
        conditions = [c for c in pod.status.conditions if c.type != "DisruptionTarget"]
        conditions.append(
            core.PodCondition(
                type="DisruptionTarget",
                status="True",
                reason="DeletionByPodGC",
                message=message,
                last_transition_time=self.clock.now(),
            )
        )
        status_update: dict[str, object] = {"conditions": conditions}
        if pod.status.phase not in _FINISHED:
            status_update["phase"] = "Failed"
        with contextlib.suppress(Conflict, NotFound):
            await self.client.update_status(
                pod.model_copy(update={"status": pod.status.model_copy(update=status_update)})
            )
        with contextlib.suppress(NotFound, Conflict):
            await self.client.delete(
                core.Pod, meta.name, namespace=meta.namespace, grace_period_seconds=0, uid=meta.uid
            )
            self.deleted += 1
            log.info(
                "deleted orphaned pod",
                namespace=meta.namespace,
                pod=meta.name,
                node=pod.spec.node_name,
            )


def _creation_key(pod: core.Pod) -> tuple[float, str]:
    created = pod.metadata.creation_timestamp
    return (created.timestamp() if created is not None else 0.0, pod.metadata.name)
