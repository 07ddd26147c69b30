"""`ClusterView`: indexes over the store that oracles share, kept current by
one store observer.

The store answers gets and lists; oracles checked after every write also need
"the pods bound to this node", "the pods this ReplicaSet controls", "the
objects this uid owns" without scanning every pod. The view keeps those
indexes, updated from each `WriteRecord` before any invariant looks at it.
Iteration orders are sorted, never hash orders.

Neighbours: `runtime.simulation.invariants` and `runtime.simulation.liveness`
(read it), `engine.store` (what it indexes).
"""

from __future__ import annotations

from engine.api.base import Resource
from engine.api.core import Pod
from engine.store import Store, WriteRecord

__all__ = ["ClusterView", "ObjectRef"]

Key = tuple[str, str]
ObjectRef = tuple[type[Resource], str, str]
"""(kind, namespace, name) of a stored object."""


class ClusterView:
    """Pods by node and by controller, objects by uid, children by owner uid."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.pods_by_node: dict[str, dict[Key, Pod]] = {}
        self.pods_by_controller: dict[str, dict[Key, Pod]] = {}
        self.by_uid: dict[str, ObjectRef] = {}
        self.owners: dict[str, tuple[str, ...]] = {}
        self.children: dict[str, dict[str, None]] = {}
        for info in store.kinds():
            for obj in store.objects(info.model):
                self._add(obj)

    def __call__(self, record: WriteRecord) -> None:
        previous = record.previous
        if previous is not None:
            self._remove(previous)
        if not record.removed:
            self._add(record.object)

    def _add(self, obj: Resource) -> None:
        meta = obj.metadata
        uid = meta.uid
        self.by_uid[uid] = (type(obj), meta.namespace, meta.name)
        if meta.owner_references:
            owners = tuple(ref.uid for ref in meta.owner_references)
            self.owners[uid] = owners
            for owner in owners:
                self.children.setdefault(owner, {})[uid] = None
        if isinstance(obj, Pod):
            key = obj.key
            if obj.spec.node_name:
                self.pods_by_node.setdefault(obj.spec.node_name, {})[key] = obj
            ref = meta.controller_ref()
            if ref is not None:
                self.pods_by_controller.setdefault(ref.uid, {})[key] = obj

    def _remove(self, obj: Resource) -> None:
        meta = obj.metadata
        uid = meta.uid
        self.by_uid.pop(uid, None)
        for owner in self.owners.pop(uid, ()):
            siblings = self.children.get(owner)
            if siblings is not None:
                siblings.pop(uid, None)
                if not siblings:
                    del self.children[owner]
        if isinstance(obj, Pod):
            key = obj.key
            if obj.spec.node_name:
                _discard(self.pods_by_node, obj.spec.node_name, key)
            ref = meta.controller_ref()
            if ref is not None:
                _discard(self.pods_by_controller, ref.uid, key)

    # -- queries ---------------------------------------------------------------------------

    def pods_on(self, node: str) -> list[Pod]:
        pods = self.pods_by_node.get(node)
        return [pods[k] for k in sorted(pods)] if pods else []

    def pods_of(self, controller_uid: str) -> list[Pod]:
        pods = self.pods_by_controller.get(controller_uid)
        return [pods[k] for k in sorted(pods)] if pods else []

    def children_of(self, uid: str) -> list[str]:
        return sorted(self.children.get(uid, ()))

    def lookup(self, uid: str) -> Resource | None:
        ref = self.by_uid.get(uid)
        if ref is None:
            return None
        kind, namespace, name = ref
        return self.store.try_get(kind, name, namespace or None)


def _discard(index: dict[str, dict[Key, Pod]], bucket: str, key: Key) -> None:
    pods = index.get(bucket)
    if pods is not None:
        pods.pop(key, None)
        if not pods:
            del index[bucket]
