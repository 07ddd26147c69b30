"""Test support for the garbage collector and namespace controller tests: a
running cluster core (store, client, manager, collector), owner references,
and a record of the order objects left the store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from pydantic import Field

from controllers import garbagecollector
from controllers.garbagecollector import GarbageCollector
from engine.api import core
from engine.api.base import KubeModel, OwnerReference, Resource
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.controller import Controller
from engine.manager import Manager
from engine.registry import kind
from engine.store import Store, WriteRecord
from engine.workqueue import WorkQueueStatistics


class WidgetSpec(KubeModel):
    size: int = 0


@kind("gc.kubeloop.dev/v1", "Widget")
class Widget(Resource):
    """A custom kind, to show custom kinds own and are owned like built-in ones."""

    spec: WidgetSpec = Field(default_factory=WidgetSpec)


def owner_ref(owner: Resource, *, block: bool | None = None) -> OwnerReference:
    meta = owner.metadata
    return OwnerReference(
        api_version=owner.api_version,
        kind=owner.kind,
        name=meta.name,
        uid=meta.uid,
        block_owner_deletion=block,
    )


def configmap(
    name: str,
    *owners: OwnerReference,
    namespace: str = "default",
    finalizers: tuple[str, ...] = (),
) -> core.ConfigMap:
    return core.ConfigMap(
        metadata={
            "name": name,
            "namespace": namespace,
            "owner_references": list(owners),
            "finalizers": list(finalizers),
        }
    )


def pod(name: str, *owners: OwnerReference, namespace: str = "default") -> core.Pod:
    """An unbound pod: deleting it removes it at once (no kubelet involved)."""
    return core.Pod(
        metadata={"name": name, "namespace": namespace, "owner_references": list(owners)},
        spec={"containers": [{"name": "main", "image": "busybox"}]},
    )


def widget(name: str, *owners: OwnerReference, namespace: str = "default") -> Widget:
    return Widget(metadata={"name": name, "namespace": namespace, "owner_references": list(owners)})


@dataclass
class Removals:
    """Objects in the order they left the store, as (kind, namespace, name)."""

    store: Store
    order: list[tuple[str, str, str]] = field(default_factory=list)

    def __call__(self, record: WriteRecord) -> None:
        obj = record.object
        if self.store.try_get(type(obj), record.name, record.namespace or None) is None:
            self.order.append((record.kind, record.namespace, record.name))

    def index(self, kind_name: str, name: str, namespace: str = "default") -> int:
        return self.order.index((kind_name, namespace, name))

    def names(self) -> list[str]:
        return [name for _, _, name in self.order]


@dataclass
class Cluster:
    clock: VirtualClock
    store: Store
    client: LocalClient
    manager: Manager
    gc: GarbageCollector
    removals: Removals
    extra_controllers: list[Controller]

    def names(self, model: type[Resource], namespace: str | None = None) -> list[str]:
        return [obj.metadata.name for obj in self.store.list(model, namespace).items]

    async def settle(self, limit: float = 600.0) -> None:
        """Let virtual time run until the controllers have nothing left to do."""
        waited = 0.0
        while waited < limit:
            await self.clock.sleep(0.5)
            waited += 0.5
            if all(_idle(c.queue.statistics()) for c in self.gc_controllers()):
                return
        raise AssertionError(f"the controllers did not settle within {limit}s")

    def gc_controllers(self) -> list[Controller]:
        return [self.gc.delete_controller, self.gc.orphan_controller, *self.extra_controllers]


def _idle(stats: WorkQueueStatistics) -> bool:
    return stats.depth == 0 and stats.processing == 0 and stats.waiting_delayed == 0


@asynccontextmanager
async def running_cluster(
    clock: VirtualClock, *setups: Callable[[Manager], object]
) -> AsyncIterator[Cluster]:
    """A store and a manager running the garbage collector (plus whatever the
    `setups` add), on virtual time."""
    store = Store(clock=clock)
    removals = Removals(store)
    store.observers.append(removals)
    client = LocalClient(store)
    manager = Manager(client, clock=clock)
    gc = garbagecollector.setup(manager)
    for setup in setups:
        setup(manager)
    extra = [c for c in manager.controllers if c not in gc_own(gc)]
    async with manager:
        yield Cluster(clock, store, client, manager, gc, removals, extra)


def gc_own(gc: GarbageCollector) -> list[Controller]:
    return [gc.delete_controller, gc.orphan_controller]
