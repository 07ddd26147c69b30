"""Taint-based eviction: delete pods from nodes with NoExecute taints they do not tolerate.

Role: kube-controller-manager's taint-eviction-controller (the former
NoExecuteTaintManager), as a level-triggered reconciler per pod.

Contract (Kubernetes' semantics):

* A pod on a node with NoExecute taints is deleted at once when some taint
  has no matching toleration.
* When every such taint is tolerated, the pod is deleted after the smallest
  `tolerationSeconds` among the tolerations used (counted from when this
  controller first saw the pod under those taints); a toleration without
  tolerationSeconds tolerates forever. Every pod gets `not-ready` and
  `unreachable` tolerations of 300 s from admission (DefaultTolerationSeconds),
  which is why a lost node's pods go five minutes after it is tainted.
* When the taints go (the node came back) before the time runs out, nothing
  is deleted and the clock starts over next time.
* Before deleting, the pod gets the condition DisruptionTarget=True (reason
  DeletionByTaintManager); the delete is an ordinary graceful one.

Reconciles are keyed by pod; node taint changes enqueue every pod of the
node. Waiting is a requeue_after on the controller's queue (a clock timer).

Neighbours: `controllers.nodelifecycle.controller` (puts the taints on),
`engine.controller` (the reconciler runtime).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from controllers.nodelifecycle.health import NO_EXECUTE
from engine.api import core
from engine.cache import index_pods_by_node
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager

__all__ = ["TaintEvictionController", "matching_tolerations", "min_toleration_seconds"]

log = get_logger("tainteviction")
NODE_INDEX = "spec.nodeName"


def matching_tolerations(
    taints: Iterable[core.Taint], tolerations: list[core.Toleration]
) -> list[core.Toleration] | None:
    """The tolerations used to tolerate `taints`, or None if one is not tolerated."""
    used: list[core.Toleration] = []
    for taint in taints:
        matched = [t for t in tolerations if t.tolerates(taint)]
        if not matched:
            return None
        used.extend(matched)
    return used


def min_toleration_seconds(used: list[core.Toleration]) -> float:
    """The shortest tolerationSeconds (negative counts as 0); inf if none is bounded."""
    bounded = [max(0, t.toleration_seconds) for t in used if t.toleration_seconds is not None]
    return float(min(bounded)) if bounded else math.inf


@dataclass(frozen=True, slots=True)
class _Schedule:
    since: float  # monotonic time the pod was first seen under these taints
    node: str


class TaintEvictionController:
    """Deletes pods that do not (or no longer) tolerate their node's NoExecute taints."""

    def __init__(
        self, client: Client, factory: InformerFactory, *, clock: Clock, workers: int = 2
    ) -> None:
        self.client = client
        self.clock = clock
        self.nodes = factory.informer(core.Node)
        self.pods = factory.informer(core.Pod)
        with contextlib.suppress(ValueError):
            self.pods.add_indexer(NODE_INDEX, index_pods_by_node)
        self._since: dict[str, _Schedule] = {}  # pod uid -> when its countdown started
        self.evictions = 0
        self.recorder = EventRecorder(client, clock, "taint-eviction-controller")
        self.controller = Controller("taint-eviction", self, clock=clock, workers=workers)
        self.controller.for_kind(self.pods, _OnNodeChange())
        self.controller.watches(self.nodes, self._pods_of_node, _NoExecuteChanged())

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)
        manager.add_runnable(self.recorder.run)

    def _pods_of_node(self, node: core.Node) -> list[Request]:
        return [
            Request(core.Pod, pod.metadata.namespace, pod.metadata.name)
            for pod in self.pods.cache.by_index(NODE_INDEX, node.metadata.name)
        ]

    async def reconcile(self, request: Request) -> Result:
        pod = self.pods.cache.get(request.name, request.namespace)
        if pod is None:
            return Result()
        uid = pod.metadata.uid
        node_name = pod.spec.node_name
        node = self.nodes.cache.get(node_name) if node_name else None
        taints = [t for t in node.spec.taints if t.effect == NO_EXECUTE] if node else []
        if not taints or pod.metadata.deletion_timestamp is not None or pod.is_terminal:
            self._since.pop(uid, None)
            return Result()
        used = matching_tolerations(taints, pod.spec.tolerations)
        if used is None:
            await self._evict(pod, "the pod does not tolerate the node's NoExecute taint")
            return Result()
        seconds = min_toleration_seconds(used)
        if math.isinf(seconds):
            self._since.pop(uid, None)
            return Result()
        now = self.clock.monotonic()
        schedule = self._since.get(uid)
        if schedule is None or schedule.node != node_name:
            schedule = self._since[uid] = _Schedule(now, node_name or "")
        remaining = schedule.since + seconds - now
        if remaining > 1e-9:
            return Result(requeue_after=remaining)
        await self._evict(pod, f"tolerationSeconds ({seconds:g}s) ran out")
        return Result()

    async def _evict(self, pod: core.Pod, why: str) -> None:
        meta = pod.metadata
        self._since.pop(meta.uid, None)
        self.recorder.record(
            pod,
            "Normal",
            "TaintManagerEviction",
            f"Marking for deletion Pod {meta.namespace}/{meta.name}",
        )
        conditions = [c for c in pod.status.conditions if c.type != "DisruptionTarget"]
        conditions.append(
            core.PodCondition(
                type="DisruptionTarget",
                status="True",
                reason="DeletionByTaintManager",
                message="Taint manager: deleting due to NoExecute taint",
                last_transition_time=self.clock.now(),
            )
        )
        with contextlib.suppress(Conflict, NotFound):
            await self.client.update_status(
                pod.model_copy(
                    update={"status": pod.status.model_copy(update={"conditions": conditions})}
                )
            )
        try:
            await self.client.delete(core.Pod, meta.name, namespace=meta.namespace, uid=meta.uid)
        except NotFound:
            return
        self.evictions += 1
        log.info(
            "evicting pod",
            namespace=meta.namespace,
            pod=meta.name,
            node=pod.spec.node_name,
            why=why,
        )


class _NoExecuteChanged:
    """Node events that change its NoExecute taints."""

    def create(self, obj: Any) -> bool:
        return any(t.effect == NO_EXECUTE for t in obj.spec.taints)

    def update(self, old: Any, new: Any) -> bool:
        return _no_execute(old) != _no_execute(new)

    def delete(self, obj: Any) -> bool:
        return False


class _OnNodeChange:
    """Pod events that matter here: new pods, and binding to a node."""

    def create(self, obj: Any) -> bool:
        return bool(obj.spec.node_name)

    def update(self, old: Any, new: Any) -> bool:
        return bool(new.spec.node_name) and old.spec.node_name != new.spec.node_name

    def delete(self, obj: Any) -> bool:
        return True


def _no_execute(node: core.Node) -> list[tuple[str, str | None]]:
    return sorted((t.key, t.value) for t in node.spec.taints if t.effect == NO_EXECUTE)
