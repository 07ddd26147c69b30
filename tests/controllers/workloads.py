"""Test support for the ReplicaSet and Deployment controller tests: manifests
for pods, ReplicaSets and Deployments, and a running cluster core (store,
client, manager with both controllers, the scheduler/kubelet stand-in)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import anyio

from controllers import replicaset
from controllers.common import is_pod_active, is_pod_ready
from controllers.deployment import DeploymentController
from controllers.replicaset import ReplicaSetController
from engine.api import Deployment, Pod, ReplicaSet
from engine.client import Client, LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store
from tests.controllers.standin import StandIn


def template(app: str, image: str = "nginx:1.25", **extra_labels: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app, **extra_labels}},
        "spec": {"containers": [{"name": "main", "image": image}]},
    }


def replica_set(
    name: str, replicas: int, *, app: str | None = None, image: str = "nginx:1.25", **spec: Any
) -> ReplicaSet:
    app = app or name
    obj = parse_object(
        {
            "apiVersion": "apps/v1",
            "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": app}},
                "template": template(app, image),
                **spec,
            },
        }
    )
    assert isinstance(obj, ReplicaSet)
    return obj


def deployment(name: str, replicas: int, *, image: str = "nginx:1.25", **spec: Any) -> Deployment:
    obj = parse_object(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": template(name, image),
                **spec,
            },
        }
    )
    assert isinstance(obj, Deployment)
    return obj


def bare_pod(name: str, labels: dict[str, str], **spec: Any) -> Pod:
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": labels},
            "spec": {"containers": [{"name": "main", "image": "nginx:1.25"}], **spec},
        }
    )
    assert isinstance(obj, Pod)
    return obj


def pods_of(store: Store, owner: ReplicaSet, *, active_only: bool = True) -> list[Pod]:
    """The pods `owner` controls, straight from the store."""
    uid = owner.metadata.uid
    found = []
    for pod in store.objects(Pod):
        ref = pod.metadata.controller_ref()
        if ref is not None and ref.uid == uid and (is_pod_active(pod) or not active_only):
            found.append(pod)
    return sorted(found, key=lambda p: p.metadata.name)


def ready_pods(pods: Sequence[Pod]) -> list[Pod]:
    return [p for p in pods if is_pod_ready(p)]


@dataclass
class Cluster:
    store: Store
    client: LocalClient
    clock: VirtualClock
    manager: Manager
    replicasets: ReplicaSetController
    deployments: DeploymentController
    standin: StandIn

    async def settle(self, seconds: float = 5.0) -> None:
        """Let virtual time pass so that everything reacts."""
        await self.clock.sleep(seconds)


@asynccontextmanager
async def running(
    clock: VirtualClock,
    *,
    seed: int = 0,
    nodes: Sequence[str] = ("node-1", "node-2", "node-3"),
    standin: bool = True,
    writer: Callable[[LocalClient], Client] | None = None,
    reader: Callable[[LocalClient], Client] | None = None,
    replicaset_options: dict[str, Any] | None = None,
    **standin_options: Any,
) -> AsyncIterator[Cluster]:
    """A store, the controllers and (unless `standin=False`) the stand-in, all
    running until the block ends. `writer` wraps the client the controllers
    write through (e.g. to fail creates), `reader` the one their informers read
    through (e.g. to delay watches)."""
    store = Store(clock=clock, rng=random.Random(seed))
    client = LocalClient(store)
    manager = Manager(reader(client) if reader else client, clock=clock, rng=random.Random(seed))
    rsc = replicaset.ReplicaSetController(
        writer(client) if writer else client,
        manager.factory,
        clock,
        manager.rng,
        **(replicaset_options or {}),
    )
    manager.add(rsc.controller)
    dc = DeploymentController(
        writer(client) if writer else client, manager.factory, clock, manager.rng
    )
    manager.add(dc.controller)
    stand_in = StandIn(client, clock, nodes=nodes, **standin_options)
    async with manager, anyio.create_task_group() as tg:
        if standin:
            tg.start_soon(stand_in.run)
        yield Cluster(store, client, clock, manager, rsc, dc, stand_in)
        tg.cancel_scope.cancel()


def with_image(d: Deployment, image: str) -> Deployment:
    """`d` with its (single) container's image changed."""
    template = d.spec.template
    containers = [template.spec.containers[0].model_copy(update={"image": image})]
    spec = template.spec.model_copy(update={"containers": containers})
    new_template = template.model_copy(update={"spec": spec})
    return d.model_copy(update={"spec": d.spec.model_copy(update={"template": new_template})})


async def set_image(c: Cluster, name: str, image: str) -> Deployment:
    d = c.store.get(Deployment, name, "default")
    return await c.client.update(with_image(d, image))


def deployment_pods(store: Store, d: Deployment, *, active_only: bool = True) -> list[Pod]:
    """Pods of every ReplicaSet the Deployment controls."""
    owned = [
        rs
        for rs in store.objects(ReplicaSet)
        if (ref := rs.metadata.controller_ref()) is not None and ref.uid == d.metadata.uid
    ]
    pods: list[Pod] = []
    for rs in owned:
        pods.extend(pods_of(store, rs, active_only=active_only))
    return sorted(pods, key=lambda p: p.metadata.name)


def owned_replica_sets(store: Store, d: Deployment) -> list[ReplicaSet]:
    return sorted(
        (
            rs
            for rs in store.objects(ReplicaSet)
            if (ref := rs.metadata.controller_ref()) is not None and ref.uid == d.metadata.uid
        ),
        key=lambda rs: rs.metadata.name,
    )


def image_of(pod: Pod) -> str:
    return pod.spec.containers[0].image or ""
