"""Planted bugs: three broken controllers and the fuzz targets that must catch
them (acceptance 3 of issue 7). Each is correct without faults; one fault class
breaks it.

* `NoExpectationsReplicaSet`: the built-in controller with every guard against
  a stale pod cache removed (no expectations, no time-travel check, no count
  in the API before its first creation). Under delayed pod watches it syncs
  twice before its first pods show up, and creates them again:
  `safety:replicaset-within-replicas`.
* `EventCountingPodCounter` (beside the built-in ReplicaSet controller): acts
  on events, not on current state: it counts each ReplicaSet's pods up and down
  from pod events, ignoring the "deleted while you were away" tombstones a
  relist delivers. A lost deletion event is never made up for: `liveness:esr`
  (the count stays wrong forever).
* `OneShotReplicaSet`: creates the pods a ReplicaSet lacks by its own count,
  then writes the new count into an annotation: two writes per reconcile, and
  not idempotent. A crash between them makes the next incarnation create those
  pods again: `safety:replicaset-within-replicas`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis import strategies as st

from controllers.common.ownership import new_controller_ref
from controllers.common.pods import is_pod_active
from controllers.replicaset import ReplicaSetController
from controllers.replicaset.status import calculate_status, update_status
from engine.api import ConfigMap, ObjectMeta, Pod, ReplicaSet
from engine.client import Client
from engine.controller import Controller, Request, Result
from engine.errors import NotFound
from engine.informer import DeletedFinalStateUnknown, EventHandler
from engine.manager import Manager
from runtime.cluster import NodePool
from runtime.simulation.liveness import DESIRED, DesiredContext, Difference
from runtime.simulation.targets import FuzzTarget

MARK = "planted.kubeloop.dev/pods-created"


class NoExpectationsReplicaSet(ReplicaSetController):
    def _cache_is_trustworthy(self, key: Any, rs: Any, candidates: list[Pod]) -> bool:
        return True

    async def _cache_shows_api_pods(self, rs: Any, pods: list[Pod]) -> bool:
        return True


def no_expectations_setup(manager: Manager) -> NoExpectationsReplicaSet:
    rsc = NoExpectationsReplicaSet(manager.client, manager.factory, manager.clock, manager.rng)
    manager.add(rsc.controller)
    return rsc


def _pod_for(rs: ReplicaSet) -> Pod:
    template = rs.spec.template
    return Pod(
        metadata=ObjectMeta(
            generate_name=f"{rs.metadata.name}-",
            namespace=rs.metadata.namespace,
            labels=template.metadata.labels,
            owner_references=[new_controller_ref(rs)],
        ),
        spec=template.spec,
    )


def _controller(pod: Pod) -> str | None:
    ref = pod.metadata.controller_ref()
    return ref.name if ref is not None and ref.kind == "ReplicaSet" else None


class EventCountingPodCounter:
    """Keeps a ConfigMap `<replicaset>-pods` with the number of the set's active
    pods, counted up and down from pod events rather than from the cache. The
    bug: the tombstones a relist delivers for pods deleted while events were
    being lost are ignored, so a lost deletion is never counted."""

    def __init__(self, manager: Manager) -> None:
        self.client: Client = manager.client
        self.pods = manager.factory.informer(Pod)
        self.counts: dict[tuple[str, str], int] = {}
        self.controller = Controller("podcounter", self, clock=manager.clock)
        self.pods.add_event_handler(
            EventHandler(add=self._added, update=self._updated, delete=self._deleted)
        )
        manager.add(self.controller)

    def _count(self, pod: Pod, delta: int) -> None:
        owner = _controller(pod)
        if owner is None:
            return
        key = (pod.metadata.namespace, owner)
        self.counts[key] = self.counts.get(key, 0) + delta
        self.controller.enqueue(Request(ConfigMap, key[0], f"{owner}-pods"))

    def _added(self, pod: Pod) -> None:
        if is_pod_active(pod):
            self._count(pod, +1)

    def _updated(self, old: Pod, new: Pod) -> None:
        if is_pod_active(old) and not is_pod_active(new):
            self._count(new, -1)

    def _deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            return  # the bug
        if is_pod_active(obj):
            self._count(obj, -1)

    async def reconcile(self, request: Request) -> Result:
        owner = request.name.removesuffix("-pods")
        data = {"pods": str(self.counts.get((request.namespace, owner), 0))}
        try:
            current = await self.client.get(ConfigMap, request.name, namespace=request.namespace)
        except NotFound:
            meta = ObjectMeta(name=request.name, namespace=request.namespace)
            await self.client.create(ConfigMap(metadata=meta, data=data))
            return Result()
        if current.data != data:
            await self.client.update(current.model_copy(update={"data": data}))
        return Result()


def pod_counts(ctx: DesiredContext) -> Iterator[Difference]:
    """Each ReplicaSet's `<name>-pods` ConfigMap holds its number of active pods."""
    for rs in ctx.objects(ReplicaSet):
        active = sum(1 for p in ctx.view.pods_of(rs.metadata.uid) if is_pod_active(p))
        counted = ctx.store.try_get(ConfigMap, f"{rs.metadata.name}-pods", rs.metadata.namespace)
        have = counted.data.get("pods", "0") if counted is not None else "0"
        if have != str(active):
            name = f"{rs.metadata.name}-pods"
            yield Difference(
                "ConfigMap", rs.metadata.namespace, name, "data.pods", have, str(active)
            )


COUNTING = DESIRED.copy()
COUNTING.register("pod-counts", pod_counts)


class OneShotReplicaSet:
    """Reads current state (no cache: nothing is ever stale here), creates the
    pods a ReplicaSet lacks by its own count, then records the new count in an
    annotation: two writes, and not idempotent. A crash between them makes the
    next incarnation create those pods again."""

    def __init__(self, manager: Manager) -> None:
        self.client: Client = manager.client
        self.clock = manager.clock
        self.controller = Controller("replicaset", self, clock=manager.clock)
        self.controller.for_kind(manager.factory.informer(ReplicaSet))
        self.controller.owns(manager.factory.informer(Pod), ReplicaSet)
        manager.add(self.controller)

    async def reconcile(self, request: Request) -> Result:
        try:
            rs = await self.client.get(ReplicaSet, request.name, namespace=request.namespace)
        except NotFound:
            return Result()
        selector = ",".join(f"{k}={v}" for k, v in rs.spec.selector.match_labels.items())
        listed = await self.client.list(Pod, namespace=request.namespace, label_selector=selector)
        pods = [
            p
            for p in listed.items
            if (ref := p.metadata.controller_ref()) is not None
            and ref.uid == rs.metadata.uid
            and is_pod_active(p)
        ]
        created = int(rs.metadata.annotations.get(MARK, "0"))
        if created < rs.spec.replicas:
            for _ in range(rs.spec.replicas - created):
                await self.client.create(_pod_for(rs))
            annotations = {**rs.metadata.annotations, MARK: str(rs.spec.replicas)}
            meta = rs.metadata.model_copy(update={"annotations": annotations})
            rs = await self.client.update(rs.model_copy(update={"metadata": meta}))
            return Result(requeue=True)
        for pod in pods[rs.spec.replicas :]:
            await self.client.delete(Pod, pod.metadata.name, namespace=pod.metadata.namespace)
        if created != rs.spec.replicas:
            annotations = {**rs.metadata.annotations, MARK: str(rs.spec.replicas)}
            meta = rs.metadata.model_copy(update={"annotations": annotations})
            rs = await self.client.update(rs.model_copy(update={"metadata": meta}))
        pods = pods[: rs.spec.replicas]
        await update_status(self.client, rs, calculate_status(rs, pods, None, self.clock.now()))
        return Result()


def simple_replica_sets(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """A ReplicaSet whose only variable is its size: the planted bugs are about
    counting pods, and small draws keep finding and shrinking them quick."""
    app = {"app": f"replicaset-{name}"}
    return st.integers(0, 3).map(
        lambda replicas: {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": app},
                "template": {
                    "metadata": {"labels": app},
                    "spec": {
                        "terminationGracePeriodSeconds": 0,
                        "containers": [
                            {
                                "name": "c0",
                                "image": "nginx:1.27",
                                "resources": {"requests": {"cpu": "100m"}},
                            }
                        ],
                    },
                },
            },
        }
    )


_SMALL = dict(
    workloads=simple_replica_sets,
    workload_names=("web", "api"),
    controllers=("scheduler", "replicaset"),
    fault_controllers=("replicaset",),
    informers=("Pod", "ReplicaSet"),
    desired_checks=("replicasets", "pods"),
    esr_bound=120.0,
    esr_window=10.0,
    max_nodes=1,
    node_pools=(NodePool(count=1),),
)

NO_EXPECTATIONS = FuzzTarget(
    name="planted-no-expectations",
    custom_controllers={"replicaset": no_expectations_setup},
    fault_kinds=("watch_delay",),
    rules=frozenset({"apply", "scale", "inject", "wait"}),
    ref="tests.simulation.planted:NO_EXPECTATIONS",
    **_SMALL,  # type: ignore[arg-type]
)

EVENT_DRIVEN = FuzzTarget(
    name="planted-event-driven",
    custom_controllers={"podcounter": EventCountingPodCounter},
    fault_kinds=("watch_drop",),
    rules=frozenset({"apply", "delete_pod", "inject", "wait"}),
    desired_registry=COUNTING,
    ref="tests.simulation.planted:EVENT_DRIVEN",
    **{  # type: ignore[arg-type]
        **_SMALL,
        "controllers": ("scheduler", "replicaset", "podcounter"),
        "fault_controllers": ("podcounter",),
        "desired_checks": ("replicasets", "pods", "pod-counts"),
    },
)

ONE_SHOT = FuzzTarget(
    name="planted-one-shot",
    custom_controllers={"replicaset": OneShotReplicaSet},
    fault_kinds=("controller_crash",),
    rules=frozenset({"apply", "inject"}),
    ref="tests.simulation.planted:ONE_SHOT",
    **_SMALL,  # type: ignore[arg-type]
)

ONE_NODE = (NodePool(count=1),)
