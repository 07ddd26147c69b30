"""The resource quota controller: a ResourceQuota's `status.hard` is its
`spec.hard`, and `status.used` what the namespace's objects charge against it
(`engine.quota`), recounted from the API.

A quota is recounted when it is created or its spec changes, when a pod,
service, configmap, secret or claim of its namespace is created or deleted
or a pod finishes (the replenishment Kubernetes does for these kinds), and
every `SYNC_PERIOD` seconds (Kubernetes' `--resource-quota-sync-period`
default), which catches changes of every other counted kind. Namespaces
without quotas cost one index lookup per event.

Admission (`engine.admission.resourcequota`) charges creates to
`status.used` as they happen; this controller gives back what deleted and
finished objects held. Level-triggered: each reconcile counts from scratch.

Neighbours: `engine.quota` (what objects charge), `engine.controller`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from engine import quota
from engine.admission.resourcequota import quota_model
from engine.api import core, load_builtin_kinds
from engine.api.base import Resource
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import Conflict, NotFound
from engine.informer import InformerFactory, SharedInformer
from engine.manager import Manager
from engine.registry import REGISTRY, Registry

__all__ = ["SYNC_PERIOD", "ResourceQuotaController", "setup"]

SYNC_PERIOD = 300.0
REPLENISHED = (core.Pod, core.Service, core.ConfigMap, core.Secret, core.PersistentVolumeClaim)


class SpecChanged:
    """Predicate: a quota's own status writes need no recount."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return bool(old.spec != new.spec)

    def delete(self, obj: Any) -> bool:
        return False


class UsageChanged:
    """Predicate: creates, deletes, and pods reaching a terminal phase."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return isinstance(new, core.Pod) and quota.is_counted(old) != quota.is_counted(new)

    def delete(self, obj: Any) -> bool:
        return True


class ResourceQuotaController:
    """Keeps ResourceQuota statuses."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        *,
        clock: Clock,
        registry: Registry = REGISTRY,
        workers: int = 1,
    ) -> None:
        if registry is REGISTRY:
            load_builtin_kinds()
        self.client = client
        self.registry = registry
        self.model = quota_model(registry)
        self.quotas: SharedInformer[Any] = factory.informer(self.model)
        self.controller = Controller("resourcequota", self, clock=clock, workers=workers)
        self.controller.for_kind(self.quotas, SpecChanged())
        for kind in REPLENISHED:
            self.controller.watches(factory.informer(kind), self._quotas_of, UsageChanged())

    def _quotas_of(self, obj: Resource) -> Iterable[Request]:
        for q in self.quotas.cache.by_index("namespace", obj.metadata.namespace):
            yield Request(self.model, q.metadata.namespace, q.metadata.name)

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)

    async def reconcile(self, request: Request) -> Result:
        try:
            current = await self.client.get(self.model, request.name, namespace=request.namespace)
        except NotFound:
            return Result()
        spec: dict[str, Any] = getattr(current, "spec", None) or {}
        hard = quota.quantities(spec.get("hard"))
        kinds = {quota.kind_of(name, self.registry) for name in hard} - {None}
        objects = {}
        for kind in kinds:
            if kind is not None:
                objects[kind] = (await self.client.list(kind, namespace=request.namespace)).items
        used = quota.usage(objects, self.registry, spec, hard)
        status = {
            **(getattr(current, "status", None) or {}),
            "hard": {n: str(v) for n, v in sorted(hard.items())},
            "used": {n: str(v) for n, v in sorted(used.items())},
        }
        if status != getattr(current, "status", None):
            # On a conflict a newer version is coming, and the next pass counts again.
            with contextlib.suppress(Conflict, NotFound):
                await self.client.update_status(current.model_copy(update={"status": status}))
        return Result(requeue_after=SYNC_PERIOD)


def setup(
    manager: Manager, *, registry: Registry = REGISTRY, workers: int = 1
) -> ResourceQuotaController:
    """Build a resource quota controller on `manager`'s client, informers and
    clock, and add it to the manager."""
    controller = ResourceQuotaController(
        manager.client, manager.factory, clock=manager.clock, registry=registry, workers=workers
    )
    controller.register(manager)
    return controller
