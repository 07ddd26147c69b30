"""The garbage collector's dependency graph: one node per object uid, linked
from owners to dependents by `metadata.ownerReferences`.

The graph is kube-controller-manager's GraphBuilder state. It is fed every
add, update and delete of every watched kind (`observe`, `observe_deleted`)
and answers which work follows from a change by calling two hooks:
`attempt_to_delete(node)` (check whether the object should be collected, or,
if it waits for its dependents, whether they are gone) and
`attempt_to_orphan(node)` (strip the owner from its dependents). The hooks
only enqueue; the collector does the API calls.

Invariants:

* `nodes` holds a node for every object observed and not yet seen deleted,
  plus *virtual* nodes (`observed=False`) for owners that dependents name but
  no informer has shown yet. A virtual node is checked against the API (the
  owner may not exist at all) and removed by `forget` if absent.
* `node.dependents` holds exactly the graph nodes whose current owner list
  names `node.identity.uid`, in the order they were linked (dicts, never sets,
  so every walk is deterministic).
* A node's identity (kind, namespace, name) is indexed for `named`, which is
  how the collector's reconcilers, keyed by identity, find the nodes to check.

Everything here is synchronous and quick: it runs inline in informer handlers.

Neighbours: `controllers.garbagecollector.monitors` (feeds it),
`controllers.garbagecollector.collector` (acts on the hooks and calls
`forget` for owners it found absent).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from engine.api.base import OwnerReference, Resource
from engine.errors import BadRequest
from engine.registry import Registry
from engine.strategies import FOREGROUND_FINALIZER, ORPHAN_FINALIZER

__all__ = ["DependencyGraph", "Identity", "Node"]


@dataclass(frozen=True, slots=True)
class Identity:
    """Who an object is: its coordinates and its uid."""

    api_version: str
    kind: str
    namespace: str
    name: str
    uid: str

    def matches(self, ref: OwnerReference) -> bool:
        """Whether an owner reference names this object by the same coordinates."""
        return (
            ref.uid == self.uid
            and ref.name == self.name
            and ref.kind == self.kind
            and ref.api_version == self.api_version
        )

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind} {where}{self.name} (uid {self.uid})"


class Node:
    """One object in the graph. `model` is None while the kind a virtual node was
    referenced by is not registered (it cannot be looked up until it is)."""

    __slots__ = (
        "being_deleted",
        "deleting_dependents",
        "dependents",
        "identity",
        "model",
        "observed",
        "owners",
    )

    def __init__(self, identity: Identity, model: type[Resource] | None, *, observed: bool) -> None:
        self.identity = identity
        self.model = model
        self.observed = observed
        self.owners: tuple[OwnerReference, ...] = ()
        self.dependents: dict[str, Node] = {}
        self.being_deleted = False
        # deletionTimestamp set and the foregroundDeletion finalizer present
        self.deleting_dependents = False

    @property
    def uid(self) -> str:
        return self.identity.uid

    def owner_ref(self, owner_uid: str) -> OwnerReference | None:
        for ref in self.owners:
            if ref.uid == owner_uid:
                return ref
        return None

    def blocking_dependents(self) -> list[Node]:
        """Dependents whose reference to this node has blockOwnerDeletion set.
        A node owning itself never blocks itself (that would wait forever)."""
        uid = self.identity.uid
        blocking = []
        for dep in self.dependents.values():
            if dep.identity.uid == uid:
                continue
            ref = dep.owner_ref(uid)
            if ref is not None and ref.block_owner_deletion:
                blocking.append(dep)
        return blocking

    def __repr__(self) -> str:
        state = "observed" if self.observed else "virtual"
        return f"<Node {self.identity} {state} dependents={len(self.dependents)}>"


NodeHook = Callable[[Node], None]
_IndexKey = tuple[type[Resource] | None, str, str]


class DependencyGraph:
    """Owners and dependents of every watched object, keyed by uid."""

    def __init__(
        self,
        registry: Registry,
        *,
        attempt_to_delete: NodeHook,
        attempt_to_orphan: NodeHook,
    ) -> None:
        self.registry = registry
        self._attempt_to_delete = attempt_to_delete
        self._attempt_to_orphan = attempt_to_orphan
        self.nodes: dict[str, Node] = {}
        self._by_name: dict[_IndexKey, dict[str, Node]] = {}
        # virtual nodes whose kind is not registered, waiting for `resolve_kinds`
        self.unresolved: dict[str, Node] = {}

    # -- reads --------------------------------------------------------------------------

    def get(self, uid: str) -> Node | None:
        return self.nodes.get(uid)

    def named(self, model: type[Resource], namespace: str, name: str) -> list[Node]:
        """Every node (real or virtual) with these coordinates, oldest first."""
        found = self._by_name.get((model, namespace, name))
        return list(found.values()) if found else []

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, uid: object) -> bool:
        return uid in self.nodes

    # -- changes observed by informers --------------------------------------------------

    def observe(self, obj: Resource) -> None:
        """An object was added or updated: bring its node up to date."""
        meta = obj.metadata
        node = self.nodes.get(meta.uid)
        owners = tuple(meta.owner_references)
        being_deleted = meta.deletion_timestamp is not None
        if (
            node is not None
            and node.observed
            and not being_deleted
            and not node.being_deleted
            and node.owners == owners
        ):
            return  # the common case: a spec or status change that moves nothing
        identity = Identity(obj.api_version, obj.kind, meta.namespace, meta.name, meta.uid)
        if node is None:
            node = Node(identity, type(obj), observed=True)
            self._insert(node)
            self._set_owners(node, owners)
        else:
            if not node.observed or node.identity != identity:
                self._observe_virtual(node, identity, type(obj))
            if node.owners != owners:
                self._set_owners(node, owners)
        node.being_deleted = being_deleted
        self._transitions(node, meta.finalizers)

    def observe_deleted(self, obj: Resource) -> None:
        """An object was deleted (or vanished across a relist)."""
        node = self.nodes.get(obj.metadata.uid)
        if node is not None:
            self._remove(node)

    def forget(self, node: Node, checked: Identity) -> None:
        """The collector found no object `checked` (NotFound or another uid).

        A virtual node, or a real one whose identity is what was checked (its
        delete event is still on the way), leaves the graph and its dependents
        are rechecked. A real node known under other coordinates stays; only
        the dependents that name it by the coordinates found absent are
        rechecked, since their reference is dangling."""
        current = self.nodes.get(checked.uid)
        if current is not node:
            return
        if node.observed and node.identity != checked:
            for dep in list(node.dependents.values()):
                ref = dep.owner_ref(checked.uid)
                if ref is not None and not node.identity.matches(ref):
                    self._check(dep)
            return
        self._remove(node)

    def resolve_kinds(self) -> list[Node]:
        """Virtual nodes whose kind has been registered since they were made:
        give them their model and queue them for a check. Returns them."""
        resolved = []
        for uid, node in list(self.unresolved.items()):
            model = self._model_of(node.identity.api_version, node.identity.kind)
            if model is None:
                continue
            del self.unresolved[uid]
            if self.nodes.get(uid) is not node:
                continue
            self._unindex(node)
            node.model = model
            self._index(node)
            resolved.append(node)
            self._check(node)
        return resolved

    # -- internals ----------------------------------------------------------------------

    def _check(self, node: Node) -> None:
        """Queue `node` for attempt-to-delete, or park it until its kind is known."""
        if node.model is None:
            self.unresolved[node.identity.uid] = node
        else:
            self._attempt_to_delete(node)

    def _model_of(self, api_version: str, kind: str) -> type[Resource] | None:
        try:
            return self.registry.lookup(api_version, kind).model
        except BadRequest:
            return None

    def _index(self, node: Node) -> None:
        ident = node.identity
        key = (node.model, ident.namespace, ident.name)
        self._by_name.setdefault(key, {})[ident.uid] = node

    def _unindex(self, node: Node) -> None:
        ident = node.identity
        key = (node.model, ident.namespace, ident.name)
        bucket = self._by_name.get(key)
        if bucket is not None:
            bucket.pop(ident.uid, None)
            if not bucket:
                del self._by_name[key]

    def _insert(self, node: Node) -> None:
        self.nodes[node.identity.uid] = node
        self._index(node)

    def _remove(self, node: Node) -> None:
        uid = node.identity.uid
        del self.nodes[uid]
        self._unindex(node)
        self.unresolved.pop(uid, None)
        for ref in node.owners:
            owner = self.nodes.get(ref.uid)
            if owner is None:
                continue
            owner.dependents.pop(uid, None)
            if owner.deleting_dependents:
                # one blocker fewer: the owner may be ready to go
                self._check(owner)
        for dep in list(node.dependents.values()):
            if dep is not node:
                self._check(dep)

    def _observe_virtual(self, node: Node, identity: Identity, model: type[Resource]) -> None:
        """A virtual node's object showed up: take its real coordinates, and have
        dependents that named it otherwise rechecked (their reference is wrong)."""
        for dep in list(node.dependents.values()):
            ref = dep.owner_ref(identity.uid)
            if ref is not None and not identity.matches(ref):
                self._check(dep)
        self._unindex(node)
        self.unresolved.pop(identity.uid, None)
        node.identity = identity
        node.model = model
        node.observed = True
        self._index(node)

    def _set_owners(self, node: Node, owners: tuple[OwnerReference, ...]) -> None:
        old = {ref.uid: ref for ref in node.owners}
        new = {ref.uid: ref for ref in owners}
        node.owners = owners
        for uid, ref in old.items():
            owner = self.nodes.get(uid)
            if owner is None:
                continue
            if uid not in new:
                owner.dependents.pop(node.identity.uid, None)
                if ref.block_owner_deletion:
                    self._check(owner)
            elif ref.block_owner_deletion and not new[uid].block_owner_deletion:
                self._check(owner)  # unblocked: the owner may go now
        for uid, ref in new.items():
            if uid not in old:
                self._link(node, ref)

    def _link(self, dependent: Node, ref: OwnerReference) -> None:
        """Add `dependent` to the owner named by `ref`, making a virtual owner if
        none is known; queue whatever needs a check."""
        owner = self.nodes.get(ref.uid)
        if owner is None:
            owner = self._virtual_owner(dependent, ref)
            owner.dependents[dependent.identity.uid] = dependent
            self._check(owner)  # does it exist at all?
            return
        owner.dependents[dependent.identity.uid] = dependent
        if owner.deleting_dependents:
            self._check(dependent)  # joined an owner that waits for it
        elif owner.observed and not owner.identity.matches(ref):
            self._check(dependent)  # names its owner by wrong coordinates
        elif (
            owner.observed
            and owner.identity.namespace
            and owner.identity.namespace != dependent.identity.namespace
        ):
            self._check(dependent)  # a namespaced owner in another namespace

    def _virtual_owner(self, dependent: Node, ref: OwnerReference) -> Node:
        model = self._model_of(ref.api_version, ref.kind)
        namespaced = model.namespaced if model is not None else True
        namespace = dependent.identity.namespace if namespaced else ""
        identity = Identity(ref.api_version, ref.kind, namespace, ref.name, ref.uid)
        owner = Node(identity, model, observed=False)
        self._insert(owner)
        return owner

    def _transitions(self, node: Node, finalizers: list[str]) -> None:
        """Queue the work a deletion in progress needs (level-triggered: every
        event of an object being deleted rechecks it; the queues coalesce)."""
        if not node.being_deleted:
            node.deleting_dependents = False
            return
        if ORPHAN_FINALIZER in finalizers:
            # Orphaning goes first; foreground deletion (if asked too) follows
            # once the orphan finalizer is gone and nothing depends on it.
            node.deleting_dependents = False
            self._attempt_to_orphan(node)
            return
        deleting = FOREGROUND_FINALIZER in finalizers
        started = deleting and not node.deleting_dependents
        node.deleting_dependents = deleting
        if started:
            for dep in list(node.dependents.values()):
                if dep is not node:
                    self._check(dep)
        if deleting:
            self._check(node)
