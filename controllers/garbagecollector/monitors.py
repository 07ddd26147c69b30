"""Monitors: one shared informer per registered kind, feeding the dependency graph.

Kubernetes' garbage collector discovers every deletable resource and keeps a
monitor (an informer) on each, re-running discovery periodically so resources
added later (CRDs) are collected too. Here the kinds are the registry's:
`sync()` adds a monitor for every kind it does not watch yet and resolves
virtual graph nodes whose kind has just been registered; `run()` calls it
every `period` seconds of the injected clock.

Not monitored: Events (core and events.k8s.io), as Kubernetes' collector
ignores them by default (`DefaultIgnoredResources`): nothing is collected
through them, and a watch would put every Event through the graph. Nor
the schema-backed built-in kinds (`engine.catalogue.SchemaResource`:
RBAC objects, StorageClasses, NetworkPolicies...). An informer per such kind
would put some forty idle watches (and their bookmark timers) into every
cluster, for kinds no built-in controller creates; their objects are not
garbage-collected through owner references yet.

Handlers only update the graph (quick, synchronous), as the informer contract
asks. Informers come from the shared factory, so the collector costs no extra
list or watch for kinds other controllers already watch.

Neighbours: `controllers.garbagecollector.graph` (what is fed),
`engine.informer.InformerFactory` (where informers come from),
`controllers.garbagecollector.collector` (runs `run()` beside its workers).
"""

from __future__ import annotations

from typing import Any

from controllers.garbagecollector.graph import DependencyGraph
from engine.api.base import Resource
from engine.catalogue import SchemaResource
from engine.clock import Clock
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory, SharedInformer
from engine.registry import KindInfo, Registry

__all__ = ["Monitors"]

_EVENT_GROUPS = ("", "events.k8s.io")


class Monitors:
    """Keeps an informer on every kind of `registry`, each wired to `graph`."""

    def __init__(
        self,
        factory: InformerFactory,
        graph: DependencyGraph,
        registry: Registry,
        *,
        clock: Clock,
        period: float = 30.0,
    ) -> None:
        self.factory = factory
        self.graph = graph
        self.registry = registry
        self.clock = clock
        self.period = period
        self.informers: dict[type[Resource], SharedInformer[Any]] = {}
        self._handler: EventHandler[Resource] = EventHandler(
            add=graph.observe, update=self._updated, delete=self._deleted
        )

    def _updated(self, old: Resource, new: Resource) -> None:
        if old.metadata.uid != new.metadata.uid:
            # A relist after lost events shows an object deleted and created
            # again under its name as one update: the old one is gone, and its
            # dependents must be looked at (they would otherwise wait for ever).
            self.graph.observe_deleted(old)
        self.graph.observe(new)

    def _deleted(self, obj: Resource | DeletedFinalStateUnknown[Resource]) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        self.graph.observe_deleted(obj)

    def sync(self) -> list[KindInfo]:
        """Watch every kind registered since the last sync; returns the new ones."""
        added = []
        for info in self.registry:
            if (
                info.model in self.informers
                or (info.kind == "Event" and info.group in _EVENT_GROUPS)
                or issubclass(info.model, SchemaResource)
                or info.read_only  # aggregated (metrics): no owners, no watch
            ):
                continue
            informer = self.factory.informer(info.model)
            informer.add_event_handler(self._handler)
            self.informers[info.model] = informer
            added.append(info)
        self.graph.resolve_kinds()
        return added

    @property
    def synced(self) -> bool:
        return all(informer.has_synced for informer in self.informers.values())

    async def wait_for_sync(self) -> None:
        for informer in list(self.informers.values()):
            await informer.wait_for_sync()

    async def run(self) -> None:
        """Pick up newly registered kinds every `period` seconds, until cancelled."""
        while True:
            await self.clock.sleep(self.period)
            self.sync()
