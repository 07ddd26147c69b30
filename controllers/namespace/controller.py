"""The namespace lifecycle controller (kube-controller-manager's namespace controller).

Deleting a namespace only marks it: the store sets its deletionTimestamp and
phase Terminating, refuses new content in it, and keeps it while
`spec.finalizers` holds `kubernetes`. This controller does the rest: for a
terminating namespace it deletes every namespaced object in it, of every
registered kind (`controllers.namespace.content`), reports progress in status
conditions (`controllers.namespace.conditions`), and once nothing is left
removes the `kubernetes` finalizer, upon which the store removes the
namespace (unless other finalizers still hold it).

While objects remain (graceful pod deletion, finalizers), it checks again
after half the time the slowest graceful deletion still needs plus one second,
as Kubernetes does; failed deletions are retried with backoff.

Neighbours: `engine.strategies` (the store side of the namespace lifecycle),
`engine.controller` (the Controller it runs in), `engine.manager`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from controllers.namespace.conditions import namespace_conditions
from controllers.namespace.content import ContentDeleter, ContentReport
from engine.api import core, load_builtin_kinds
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import Conflict, NotFound
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager
from engine.registry import REGISTRY, Registry
from engine.strategies import NAMESPACE_FINALIZER

__all__ = ["ContentDeletionFailed", "NamespaceController", "setup"]

log = get_logger("namespace")
CONFLICT_RETRIES = 5


class ContentDeletionFailed(Exception):
    """Some content of a terminating namespace could not be deleted (retried)."""


class BeingDeleted:
    """Predicate: only namespaces marked for deletion need this controller."""

    def create(self, obj: Any) -> bool:
        return obj.metadata.deletion_timestamp is not None

    def update(self, old: Any, new: Any) -> bool:
        return new.metadata.deletion_timestamp is not None

    def delete(self, obj: Any) -> bool:
        return False


class NamespaceController:
    """Empties terminating namespaces, then lets the store remove them."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        *,
        clock: Clock,
        registry: Registry = REGISTRY,
        workers: int = 2,
    ) -> None:
        if registry is REGISTRY:
            load_builtin_kinds()
        self.client = client
        self.clock = clock
        self.content = ContentDeleter(client, registry, clock=clock)
        self.informer = factory.informer(core.Namespace)
        self.controller = Controller("namespace", self, clock=clock, workers=workers)
        self.controller.for_kind(self.informer, BeingDeleted())

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)

    async def reconcile(self, request: Request) -> Result:
        try:
            namespace = await self.client.get(core.Namespace, request.name)
        except NotFound:
            return Result()
        meta = namespace.metadata
        if meta.deletion_timestamp is None or NAMESPACE_FINALIZER not in namespace.spec.finalizers:
            return Result()
        report = await self.content.delete_content(meta.name)
        await self._report(namespace, report)
        if report.failures:
            failures = "; ".join(report.failures)
            raise ContentDeletionFailed(
                f"namespace {meta.name}: failed to delete some content: {failures}"
            )
        if report.remaining:
            log.info(
                "namespace content remaining",
                namespace=meta.name,
                remaining=report.remaining,
                finalizers=report.finalizers,
            )
            return Result(requeue_after=report.estimate / 2 + 1)
        await self._finalize(meta.name)
        return Result()

    async def _report(self, namespace: core.Namespace, report: ContentReport) -> None:
        status = namespace.status
        conditions = namespace_conditions(status.conditions, report, self.clock.now())
        if conditions == status.conditions:
            return
        new_status = status.model_copy(update={"conditions": conditions})
        # On a conflict a newer version is coming, and the next pass reports again.
        with contextlib.suppress(Conflict, NotFound):
            await self.client.update_status(namespace.model_copy(update={"status": new_status}))

    async def _finalize(self, name: str) -> None:
        """Remove the `kubernetes` finalizer (the store then removes the namespace)."""
        for _ in range(CONFLICT_RETRIES):
            try:
                namespace = await self.client.get(core.Namespace, name)
            except NotFound:
                return
            finalizers = namespace.spec.finalizers
            if NAMESPACE_FINALIZER not in finalizers:
                return
            kept = [f for f in finalizers if f != NAMESPACE_FINALIZER]
            spec = namespace.spec.model_copy(update={"finalizers": kept})
            try:
                await self.client.update(namespace.model_copy(update={"spec": spec}))
            except NotFound:
                return
            except Conflict:
                continue
            log.info("namespace finalized", namespace=name)
            return
        raise Conflict(f"namespace {name}: still conflicting after {CONFLICT_RETRIES} tries")


def setup(
    manager: Manager, *, registry: Registry = REGISTRY, workers: int = 2
) -> NamespaceController:
    """Build a namespace controller on `manager`'s client, informers and clock,
    and add it to the manager."""
    controller = NamespaceController(
        manager.client, manager.factory, clock=manager.clock, registry=registry, workers=workers
    )
    controller.register(manager)
    return controller
