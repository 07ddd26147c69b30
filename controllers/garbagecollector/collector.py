"""The garbage collector: deletes objects whose owners are gone, and carries out
Foreground and Orphan deletion, as kube-controller-manager's garbagecollector.

Two engine controllers, keyed by object identity (kind, namespace, name),
work off the dependency graph (`controllers.garbagecollector.graph`), which
informers on every registered kind keep current
(`controllers.garbagecollector.monitors`):

* attempt-to-delete checks each graph node with that identity against the live
  object. An object none of whose owners exists any more (by uid) is deleted,
  with the propagation its own finalizers ask for (Background by default). An
  object with an owner in Foreground deletion is deleted too, in Foreground if
  it has dependents of its own, so deletion cascades down the tree. An owner in
  Foreground deletion (deletionTimestamp and the `foregroundDeletion`
  finalizer) loses that finalizer, and so goes, once no dependent that sets
  `blockOwnerDeletion` remains. Dependents that still have another existing
  owner survive; only their references to vanished or foreground-deleting owners
  are removed.
* attempt-to-orphan handles an owner deleted with the `orphan` finalizer: its
  reference is removed from every dependent, then the finalizer is removed.

Every decision reads the live object and the live owners (the graph only says
what to look at), and deletes with uid and resourceVersion preconditions, so a
stale graph can delay the collector but not make it delete the wrong object.
Ownership cycles cannot wedge Foreground deletion: an object whose owner waits
for it while one of its own dependents does too has its references unblocked
first (Kubernetes' rule), and an object never blocks its own deletion.

Like Kubernetes', the collector trusts its graph for "which dependents are
there": a dependent created so shortly before its owner's deletion that the
informers have not shown it yet is missed. In Foreground the owner can then go
before it (it is collected right after); in Orphan it is not orphaned but,
its owner gone, collected. Let the informers catch up (on virtual time, any
wait does) between creating dependents and deleting their owner.

Neighbours: `engine.controller` (the two Controllers), `engine.manager`
(`setup` wires everything into one), `controllers.garbagecollector.edits`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from controllers.garbagecollector.edits import (
    Edit,
    edit_live,
    unblock_owner_references,
    without_finalizer,
    without_owners,
)
from controllers.garbagecollector.graph import DependencyGraph, Identity, Node
from controllers.garbagecollector.monitors import Monitors
from engine.api import load_builtin_kinds
from engine.api.base import OwnerReference, Resource
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result, reconciler
from engine.errors import BadRequest, Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager
from engine.registry import REGISTRY, Registry
from engine.strategies import FOREGROUND_FINALIZER, ORPHAN_FINALIZER

__all__ = ["GarbageCollector", "GarbageCollectorStatistics", "UnknownOwnerKind", "setup"]

log = get_logger("garbagecollector")


class UnknownOwnerKind(Exception):
    """An owner reference names a kind that is not registered: whether the owner
    exists cannot be told yet, so the object is retried (with backoff)."""


@dataclass(frozen=True, slots=True)
class GarbageCollectorStatistics:
    nodes: int
    virtual_nodes: int
    unresolved_nodes: int
    watched_kinds: int
    deletes: int
    orphanings: int


@dataclass(slots=True)
class _Owners:
    """An object's owner references sorted by what the live owners are."""

    solid: list[OwnerReference] = field(default_factory=list)
    dangling: list[OwnerReference] = field(default_factory=list)
    waiting: list[OwnerReference] = field(default_factory=list)  # Foreground-deleting
    unknown_kind: list[OwnerReference] = field(default_factory=list)
    invalid: list[OwnerReference] = field(default_factory=list)  # namespaced owner, cluster object


class GarbageCollector:
    """The dependency graph, its monitors, and the attempt-to-delete and
    attempt-to-orphan controllers."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        *,
        clock: Clock,
        registry: Registry = REGISTRY,
        workers: int = 4,
        orphan_workers: int = 2,
        kind_sync_period: float = 30.0,
    ) -> None:
        if registry is REGISTRY:
            load_builtin_kinds()
        self.client = client
        self.clock = clock
        self.registry = registry
        self.graph = DependencyGraph(
            registry, attempt_to_delete=self._enqueue_delete, attempt_to_orphan=self._enqueue_orphan
        )
        self.monitors = Monitors(
            factory, self.graph, registry, clock=clock, period=kind_sync_period
        )
        self.delete_controller = Controller(
            "garbagecollector-attempt-to-delete",
            reconciler(self._reconcile_delete),
            clock=clock,
            workers=workers,
        )
        self.orphan_controller = Controller(
            "garbagecollector-attempt-to-orphan",
            reconciler(self._reconcile_orphan),
            clock=clock,
            workers=orphan_workers,
        )
        self.deletes = 0
        self.orphanings = 0
        self.recorder = EventRecorder(client, clock, "garbage-collector-controller")
        self.monitors.sync()

    # -- wiring ----------------------------------------------------------------------------

    def register(self, manager: Manager) -> None:
        """Add both controllers and the kind re-scan to `manager`."""
        manager.add(self.delete_controller)
        manager.add(self.orphan_controller)
        manager.add_runnable(self.monitors.run)
        manager.add_runnable(self.recorder.run)

    def sync_kinds(self) -> None:
        """Start watching kinds registered since the last scan (the periodic scan
        does this too; call it to pick up a new kind at once)."""
        self.monitors.sync()

    def statistics(self) -> GarbageCollectorStatistics:
        nodes = self.graph.nodes.values()
        return GarbageCollectorStatistics(
            nodes=len(self.graph),
            virtual_nodes=sum(1 for node in nodes if not node.observed),
            unresolved_nodes=len(self.graph.unresolved),
            watched_kinds=len(self.monitors.informers),
            deletes=self.deletes,
            orphanings=self.orphanings,
        )

    def _request(self, node: Node) -> Request:
        assert node.model is not None
        return Request(node.model, node.identity.namespace, node.identity.name)

    def _enqueue_delete(self, node: Node) -> None:
        self.delete_controller.enqueue(self._request(node))

    def _enqueue_orphan(self, node: Node) -> None:
        self.orphan_controller.enqueue(self._request(node))

    async def _wait_for_graph(self) -> None:
        # A kind picked up while running has an informer still listing; acting
        # on a partial graph could let a Foreground owner go before dependents.
        if not self.monitors.synced:
            await self.monitors.wait_for_sync()

    # -- live reads --------------------------------------------------------------------------

    async def _live(self, model: type[Resource], ident: Identity) -> Resource | None:
        """The live object with this identity's coordinates and uid, or None."""
        if model.namespaced and not ident.namespace:
            return None  # a namespaced owner named by a cluster-scoped object
        try:
            obj = await self.client.get(model, ident.name, namespace=ident.namespace or None)
        except NotFound:
            return None
        return obj if obj.metadata.uid == ident.uid else None

    async def _classify(self, obj: Resource) -> _Owners:
        owners = _Owners()
        namespace = obj.metadata.namespace
        for ref in obj.metadata.owner_references:
            try:
                info = self.registry.lookup(ref.api_version, ref.kind)
            except BadRequest:
                owners.unknown_kind.append(ref)
                continue
            if info.namespaced and not namespace:
                owners.invalid.append(ref)
                continue
            try:
                owner = await self.client.get(
                    info.model, ref.name, namespace=namespace if info.namespaced else None
                )
            except NotFound:
                owners.dangling.append(ref)
                continue
            meta = owner.metadata
            if meta.uid != ref.uid:
                owners.dangling.append(ref)
            elif meta.deletion_timestamp is not None and FOREGROUND_FINALIZER in meta.finalizers:
                owners.waiting.append(ref)
            else:
                owners.solid.append(ref)
        return owners

    # -- attempt to delete -------------------------------------------------------------------

    async def _reconcile_delete(self, request: Request) -> Result:
        await self._wait_for_graph()
        retry = False
        for node in self.graph.named(request.kind, request.namespace, request.name):
            if self.graph.get(node.uid) is node:
                retry = await self._attempt_to_delete(node) or retry
        return Result(requeue=retry)

    async def _attempt_to_delete(self, node: Node) -> bool:
        """Check one node; True asks for a retry (a virtual node whose object
        exists but has not reached the informer yet)."""
        if node.being_deleted and not node.deleting_dependents:
            return False  # on its way out; its delete event will move the graph
        assert node.model is not None
        ident = node.identity
        latest = await self._live(node.model, ident)
        if latest is None:
            self.graph.forget(node, ident)
            return False
        if not node.observed:
            return True
        if node.deleting_dependents:
            await self._finish_foreground(node)
            return False
        meta = latest.metadata
        if meta.deletion_timestamp is not None or not meta.owner_references:
            return False
        owners = await self._classify(latest)
        if owners.solid:
            stale = [*owners.dangling, *owners.waiting]
            if stale:
                # the waiting owners must not wait for an object that outlives them
                await self._edit(node, without_owners({ref.uid for ref in stale}))
            return False
        if owners.unknown_kind:
            kinds = sorted({f"{ref.kind} ({ref.api_version})" for ref in owners.unknown_kind})
            raise UnknownOwnerKind(
                f"{ident}: owner kinds not registered: {', '.join(kinds)}; retrying"
            )
        if owners.invalid:
            for ref in owners.invalid:
                self.recorder.record(
                    latest,
                    "Warning",
                    "OwnerRefInvalidNamespace",
                    f"ownerRef [{ref.api_version}/{ref.kind}, namespace: , name: {ref.name}, "
                    f'uid: {ref.uid}] does not exist in namespace ""',
                )
            log.warning(
                "cluster-scoped object names a namespaced owner; not collected",
                object=str(ident),
                owners=[ref.name for ref in owners.invalid],
            )
            return False
        dependents = [dep for dep in node.dependents.values() if dep is not node]
        if owners.waiting and dependents:
            if any(dep.deleting_dependents for dep in dependents):
                # An owner waits for this object while a dependent of it waits too:
                # a cycle, maybe. Stop blocking owners so that nobody waits forever.
                edited = await self._edit(node, unblock_owner_references)
                if edited is None:
                    self.graph.forget(node, ident)
                    return False
                latest = edited
            await self._delete(node, latest, "Foreground")
            return False
        if ORPHAN_FINALIZER in meta.finalizers:
            policy = "Orphan"
        elif FOREGROUND_FINALIZER in meta.finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        await self._delete(node, latest, policy)
        return False

    async def _finish_foreground(self, node: Node) -> None:
        """An owner in Foreground deletion: go once nothing blocks it, else push
        the blockers along."""
        blocking = node.blocking_dependents()
        if not blocking:
            await self._edit(node, without_finalizer(FOREGROUND_FINALIZER))
            return
        for dep in blocking:
            if not dep.deleting_dependents:
                self._enqueue_delete(dep)

    async def _delete(self, node: Node, latest: Resource, policy: str) -> None:
        assert node.model is not None
        ident = node.identity
        log.info("deleting", object=str(ident), propagation=policy)
        namespace = ident.namespace or None
        try:
            await self.client.delete(
                node.model,
                ident.name,
                namespace=namespace,
                propagation_policy=policy,
                uid=ident.uid,
                resource_version=latest.metadata.resource_version,
            )
        except NotFound:
            self.graph.forget(node, ident)
            return
        except Conflict:
            # Changed since read. If its owners did not change, the decision
            # stands (status churn must not starve collection); otherwise retry.
            live = await self._live(node.model, ident)
            if live is None:
                self.graph.forget(node, ident)
                return
            if live.metadata.owner_references != latest.metadata.owner_references:
                raise
            try:
                await self.client.delete(
                    node.model,
                    ident.name,
                    namespace=namespace,
                    propagation_policy=policy,
                    uid=ident.uid,
                )
            except NotFound:
                self.graph.forget(node, ident)
                return
        self.deletes += 1

    async def _edit(self, node: Node, edit: Edit) -> Resource | None:
        assert node.model is not None
        ident = node.identity
        return await edit_live(
            self.client, node.model, ident.namespace, ident.name, ident.uid, edit
        )

    # -- attempt to orphan -------------------------------------------------------------------

    async def _reconcile_orphan(self, request: Request) -> Result:
        await self._wait_for_graph()
        for node in self.graph.named(request.kind, request.namespace, request.name):
            if self.graph.get(node.uid) is node and node.observed:
                await self._orphan(node)
        return Result()

    async def _orphan(self, owner: Node) -> None:
        assert owner.model is not None
        latest = await self._live(owner.model, owner.identity)
        if latest is None:
            return  # gone already; its delete event updates the graph
        meta = latest.metadata
        if meta.deletion_timestamp is None or ORPHAN_FINALIZER not in meta.finalizers:
            return
        drop_owner = without_owners({owner.uid})
        for dep in list(owner.dependents.values()):
            if dep.model is not None and dep.observed:
                await self._edit(dep, drop_owner)
        log.info("orphaned dependents", object=str(owner.identity))
        await self._edit(owner, without_finalizer(ORPHAN_FINALIZER))
        self.orphanings += 1


def setup(
    manager: Manager,
    *,
    registry: Registry = REGISTRY,
    workers: int = 4,
    orphan_workers: int = 2,
    kind_sync_period: float = 30.0,
) -> GarbageCollector:
    """Build a garbage collector on `manager`'s client, informers and clock, and
    add it to the manager."""
    collector = GarbageCollector(
        manager.client,
        manager.factory,
        clock=manager.clock,
        registry=registry,
        workers=workers,
        orphan_workers=orphan_workers,
        kind_sync_period=kind_sync_period,
    )
    collector.register(manager)
    return collector
