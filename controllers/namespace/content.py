"""Deleting everything in a namespace: every namespaced kind of the registry,
custom kinds included (also those registered after start-up, since the
registry is read on every pass).

`ContentDeleter.delete_content(namespace)` makes one pass, as
kube-controller-manager's NamespacedResourcesDeleter does: list each kind in
the namespace, delete (Background propagation) what is not already being
deleted, and report what remains: counts per resource, the finalizers holding
objects, the errors met, and an estimate of how long graceful pod deletions
still take. Objects go at once unless finalizers or a grace period hold them,
so a pass over plain content usually leaves nothing behind.

Neighbours: `controllers.namespace.controller` (calls it and decides what to
do with the report), `controllers.namespace.conditions` (turns the report
into status conditions), `engine.registry` (the kinds).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from engine.api import core
from engine.api.base import Resource
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError, NotFound
from engine.registry import KindInfo, Registry

__all__ = ["ContentDeleter", "ContentReport", "resource_name"]


def resource_name(info: KindInfo) -> str:
    """`pods`, `replicasets.apps`: a resource as Kubernetes names it in messages."""
    return f"{info.plural}.{info.group}" if info.group else info.plural


@dataclass(frozen=True, slots=True)
class ContentReport:
    """What one pass left in a namespace."""

    remaining: dict[str, int] = field(default_factory=dict)  # resource -> objects left
    finalizers: dict[str, int] = field(default_factory=dict)  # finalizer -> objects held
    failures: list[str] = field(default_factory=list)  # "resource: error"
    estimate: float = 0.0  # seconds until the slowest graceful deletion is due

    @property
    def empty(self) -> bool:
        return not self.remaining and not self.failures


class ContentDeleter:
    """Deletes the content of namespaces, kind by kind."""

    def __init__(self, client: Client, registry: Registry, *, clock: Clock) -> None:
        self.client = client
        self.registry = registry
        self.clock = clock

    async def delete_content(self, namespace: str) -> ContentReport:
        remaining: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        failures: list[str] = []
        estimate = 0.0
        for info in self.registry:
            if not info.namespaced or info.read_only:  # read-only: served, not stored
                continue
            resource = resource_name(info)
            try:
                left = await self._delete_kind(info, namespace)
            except ApiError as error:
                failures.append(f"{resource}: {error}")
                continue
            if not left:
                continue
            remaining[resource] = len(left)
            for obj in left:
                for finalizer in obj.metadata.finalizers:
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
                estimate = max(estimate, self._time_left(obj))
        return ContentReport(remaining, finalizers, failures, estimate)

    async def _delete_kind(self, info: KindInfo, namespace: str) -> list[Resource]:
        """Delete every object of one kind in `namespace`; returns those left."""
        listed = await self.client.list(info.model, namespace=namespace)
        left: list[Resource] = []
        for obj in listed.items:
            if obj.metadata.deletion_timestamp is not None:
                left.append(obj)  # already on its way; a second delete changes nothing
                continue
            try:
                marked = await self.client.delete(
                    info.model,
                    obj.metadata.name,
                    namespace=namespace,
                    propagation_policy="Background",
                    uid=obj.metadata.uid,
                )
            except NotFound:
                continue  # gone meanwhile (the garbage collector, say)
            if marked is not None:
                left.append(marked)
        return left

    def _time_left(self, obj: Resource) -> float:
        deadline = obj.metadata.deletion_timestamp
        if not isinstance(obj, core.Pod) or deadline is None:
            return 0.0
        return max(0.0, (deadline - self.clock.now()).total_seconds())
