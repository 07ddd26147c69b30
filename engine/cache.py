"""The informer cache: objects of one kind keyed by (namespace, name), with
indexes kept up to date on every change.

An index is a function from an object to the index values it belongs under
(`index_by_namespace`, `index_pods_by_node`, `index_by_owner_uid`, ...). The
cache stores the objects the store handed out, without copying: what `get`,
`list` and `by_index` return is shared and must not be changed.

Neighbours: `engine.informer` owns one `Indexer` per informer and is its only
writer; controllers read through the informer.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Generic, TypeVar

from engine.api.base import Resource

__all__ = [
    "IndexFunc",
    "Indexer",
    "ObjectKey",
    "index_by_controller_uid",
    "index_by_labels",
    "index_by_namespace",
    "index_by_owner_uid",
    "index_pods_by_node",
]

R = TypeVar("R", bound=Resource)
ObjectKey = tuple[str, str]
IndexFunc = Callable[[Any], Iterable[str]]


def index_by_namespace(obj: Resource) -> tuple[str, ...]:
    return (obj.metadata.namespace,)


def index_by_labels(obj: Resource) -> list[str]:
    """One value per label, `key=value`, to find objects carrying a label."""
    return [f"{k}={v}" for k, v in obj.metadata.labels.items()]


def index_by_owner_uid(obj: Resource) -> list[str]:
    return [ref.uid for ref in obj.metadata.owner_references]


def index_by_controller_uid(obj: Resource) -> tuple[str, ...]:
    ref = obj.metadata.controller_ref()
    return (ref.uid,) if ref is not None else ()


def index_pods_by_node(obj: Any) -> tuple[str, ...]:
    """Pods by spec.nodeName; unbound pods are indexed under ""."""
    return (obj.spec.node_name or "",)


_READS: dict[IndexFunc, str] = {
    index_by_namespace: "",
    index_by_labels: "metadata",
    index_by_owner_uid: "metadata",
    index_by_controller_uid: "metadata",
    index_pods_by_node: "spec",
}
"""What the built-in index functions read: nothing but the key (""), or one
part of the object. A new version that holds the very same part (a status
update shares metadata and spec) belongs under the same values, so the
cache skips calling the function twice on each event."""


class Indexer(Generic[R]):
    """A keyed object cache with secondary indexes."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[ObjectKey, R] = {}
        self._funcs: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[ObjectKey]]] = {}
        # The keys under one index value in order, kept from one read to the
        # next until that value gains or loses a key: controllers read the
        # same owner's objects on every sync, while most events (status
        # writes) change no index membership.
        self._ordered: dict[tuple[str, str], builtins.list[ObjectKey]] = {}
        for name, func in (indexers or {"namespace": index_by_namespace}).items():
            self.add_indexer(name, func)

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        """Add an index; existing objects are indexed at once. Adding the same
        function under the same name again (informers are shared) is a no-op."""
        if name in self._funcs:
            if self._funcs[name] is func:
                return
            raise ValueError(f"index {name!r} already exists with another function")
        self._funcs[name] = func
        index: dict[str, set[ObjectKey]] = {}
        self._indices[name] = index
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)

    # -- writes (the informer only) -------------------------------------------------

    def upsert(self, obj: R) -> R | None:
        """Insert or replace; returns the previous object under that key."""
        meta = obj.metadata
        key = (meta.namespace, meta.name)
        old = self._items.get(key)
        self._items[key] = obj
        if self._funcs:
            self._reindex(key, old, obj)
        return old

    def remove(self, key: ObjectKey) -> R | None:
        old = self._items.pop(key, None)
        if old is not None and self._funcs:
            self._reindex(key, old, None)
        return old

    def _reindex(self, key: ObjectKey, old: R | None, new: R | None) -> None:
        for name, func in self._funcs.items():
            if old is not None and new is not None:
                part = _READS.get(func)
                if part is not None and (not part or old.__dict__[part] is new.__dict__[part]):
                    continue
            old_values = func(old) if old is not None else ()
            new_values = func(new) if new is not None else ()
            if old_values == new_values:
                continue
            index = self._indices[name]
            ordered = self._ordered
            for value in old_values:
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]
                    ordered.pop((name, value), None)
            for value in new_values:
                index.setdefault(value, set()).add(key)
                ordered.pop((name, value), None)

    # -- reads ------------------------------------------------------------------------

    def get(self, name: str, namespace: str = "") -> R | None:
        return self._items.get((namespace, name))

    def get_by_key(self, key: ObjectKey) -> R | None:
        return self._items.get(key)

    def list(self, namespace: str | None = None) -> builtins.list[R]:
        """Objects sorted by key, in one namespace or all of them."""
        if namespace is None:
            return [self._items[k] for k in sorted(self._items)]
        if "namespace" not in self._indices:
            return [self._items[k] for k in sorted(self._items) if k[0] == namespace]
        return self.by_index("namespace", namespace)

    def by_index(self, index_name: str, value: str) -> builtins.list[R]:
        """Objects under one index value, sorted by key (deterministic order)."""
        try:
            index = self._indices[index_name]
        except KeyError:
            raise KeyError(f"no index named {index_name!r}") from None
        keys = index.get(value)
        if not keys:
            return []
        ordered = self._ordered.get((index_name, value))
        if ordered is None:
            ordered = self._ordered[(index_name, value)] = sorted(keys)
        items = self._items
        return [items[k] for k in ordered]

    def index_size(self, index_name: str, value: str) -> int:
        """How many objects are under one index value (without listing them)."""
        try:
            index = self._indices[index_name]
        except KeyError:
            raise KeyError(f"no index named {index_name!r}") from None
        keys = index.get(value)
        return len(keys) if keys else 0

    def index_values(self, index_name: str) -> builtins.list[str]:
        return sorted(self._indices[index_name])

    def list_keys(self) -> builtins.list[ObjectKey]:
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[R]:
        return iter(list(self._items.values()))

    def __contains__(self, key: object) -> bool:
        return key in self._items
