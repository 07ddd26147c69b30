"""The service account controller: makes the `default` ServiceAccount of every
namespace that is not terminating, when the namespace appears and again when
the ServiceAccount is deleted, as Kubernetes' serviceaccounts-controller does.

Level-triggered: a reconcile reads the namespace and the ServiceAccount from
the informers' caches and creates the ServiceAccount only if the namespace
is active and it is missing; AlreadyExists (a create the cache has not seen
yet) and a namespace that went away or started terminating meanwhile are
not errors.

Neighbours: `engine.admission.serviceaccount` (pods default to this
ServiceAccount and are refused when the one they name is missing),
`engine.controller` (the Controller it runs in), `engine.manager`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from engine.admission.serviceaccount import DEFAULT_SERVICE_ACCOUNT, service_account_model
from engine.api import core, load_builtin_kinds
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import AlreadyExists, Forbidden, NotFound
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager
from engine.registry import REGISTRY, Registry

__all__ = ["ServiceAccountController", "setup"]

log = get_logger("serviceaccount")


def _namespace_of_default(obj: Any) -> Iterable[Request]:
    """A change to a namespace's `default` ServiceAccount concerns the namespace."""
    if obj.metadata.name == DEFAULT_SERVICE_ACCOUNT:
        yield Request(core.Namespace, "", obj.metadata.namespace)


class DefaultDeleted:
    """Predicate: only the deletion of a `default` ServiceAccount needs a reconcile
    (its creation and updates need nothing)."""

    def create(self, obj: Any) -> bool:
        return False

    def update(self, old: Any, new: Any) -> bool:
        return False

    def delete(self, obj: Any) -> bool:
        return True


class Active:
    """Predicate: namespaces being deleted get no new ServiceAccount."""

    def create(self, obj: Any) -> bool:
        return obj.metadata.deletion_timestamp is None

    def update(self, old: Any, new: Any) -> bool:
        return False  # a namespace's updates never remove its ServiceAccount

    def delete(self, obj: Any) -> bool:
        return False


class ServiceAccountController:
    """Keeps a `default` ServiceAccount in every active namespace."""

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
        self.model = service_account_model(registry)
        self.namespaces = factory.informer(core.Namespace)
        self.accounts = factory.informer(self.model)
        self.controller = Controller("serviceaccount", self, clock=clock, workers=workers)
        self.controller.for_kind(self.namespaces, Active())
        self.controller.watches(self.accounts, _namespace_of_default, DefaultDeleted())

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)

    async def reconcile(self, request: Request) -> Result:
        namespace = self.namespaces.cache.get(request.name)
        if namespace is None or namespace.metadata.deletion_timestamp is not None:
            return Result()
        if self.accounts.cache.get(DEFAULT_SERVICE_ACCOUNT, request.name) is not None:
            return Result()
        account = self.model.model_validate(
            {"metadata": {"name": DEFAULT_SERVICE_ACCOUNT, "namespace": request.name}}
        )
        try:
            await self.client.create(account)
        except AlreadyExists:
            return Result()
        except (NotFound, Forbidden):
            return Result()  # the namespace is gone or terminating: nothing to serve
        log.info("default service account created", namespace=request.name)
        return Result()


def setup(
    manager: Manager, *, registry: Registry = REGISTRY, workers: int = 1
) -> ServiceAccountController:
    """Build a service account controller on `manager`'s client, informers and
    clock, and add it to the manager."""
    controller = ServiceAccountController(
        manager.client, manager.factory, clock=manager.clock, registry=registry, workers=workers
    )
    controller.register(manager)
    return controller
