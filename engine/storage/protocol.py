"""The `Storage` protocol: versioned keyspaces under the store, etcd's role.

`engine.store.Store` is kube-apiserver's registry layer (defaults, admission,
validation, strategies, subresources, watch fan-out); what it keeps, and the
revision each version was written at, sits behind this protocol, as
kube-apiserver's sits on etcd. The contract:

* One `revision` counter for the whole storage. Every write (put or delete,
  in any keyspace) is one change at a revision higher than every earlier
  one; revisions strictly increase but need not be contiguous. A stored
  object's `metadata.resourceVersion` is the revision of the write that
  stored it (etcd's mod_revision).
* One `Keyspace` per kind (`Storage.keyspace(info)`), keyed by (namespace,
  name) (namespace "" for cluster-scoped kinds). `get` and `list` read the
  current state, or the state at an earlier `revision`; `list` is in key
  order.
* Writes are transactions with a precondition on the key's current version:
  `put(obj, expected=E)` stores `obj` only if the key currently holds `E`
  (None: the key is absent, a create), `delete(obj, expected=E)` removes the
  key only if it holds `E`; otherwise `Conflict` (409) and nothing changes.
  `E` is the version the caller read: an implementation compares its
  resourceVersion (etcd: `txn(mod_revision(key) == E.resourceVersion)`), the
  memory one compares identity (stored versions are immutable and unique).
* `revision=` names the revision the caller stamped `obj` with (the store
  stamps objects before validating them, as they will be stored). It must
  be higher than `Storage.revision`. The memory storage writes at that
  revision; a backend whose server assigns revisions (etcd) writes at its
  own and returns the object restamped. Callers use the returned `Change`.
* Every write is a `Change`, retained in the keyspace's history window.
  `changes(since)` lists the retained changes after `since`, oldest first;
  `watch(since, sink)` calls `sink` with every change after `since`, first
  the retained ones, then each later one as it commits, exactly once and in
  revision order, until the returned cancel function is called. A revision
  older than the history kept (`compacted`: changes at or below it are gone)
  raises `Gone` (410), and so does a read at such a revision; the client
  relists, as after an etcd compaction. `compact(revision)` drops the history
  at or below `revision` in every keyspace.

An etcd v3 backend maps one to one: a keyspace is a key prefix
(`/registry/<group>/<plural>/`), `revision` is the header revision,
resourceVersion is mod_revision, `put`/`delete` are one `Txn` comparing
mod_revision (create_revision == 0 for a create), `get`/`list` at a revision
are ranges with `revision=`, `watch` is an etcd watch with
`start_revision=since + 1` whose ErrCompacted becomes Gone, `compact` is
etcd's compaction. Nothing above the protocol would change. `restore`
(load a store's objects without recording changes) is what a journal-backed
start needs (`engine.durable`); an etcd backend, whose state survives
restarts by itself, implements it as a no-op check.

Neighbours: `engine.storage.memory` (the in-memory implementation, the
default), `engine.store` (the only caller), `engine.watchcache` (subscribes
with `watch`), `engine.durable` (journals changes beside the memory storage).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from engine.api.base import Resource, copied
from engine.registry import KindInfo
from engine.watch import EventType, WatchEvent

__all__ = ["Change", "Key", "Keyspace", "SharedStorage", "Storage", "Unwatch", "stamped"]

R = TypeVar("R", bound=Resource)

Key = tuple[str, str]
"""(namespace, name); namespace "" for cluster-scoped kinds."""

Unwatch = Callable[[], None]
"""Ends a `Keyspace.watch`."""


@dataclass(slots=True)
class Change:
    """One committed write: the watch event it is (ADDED, MODIFIED, or DELETED
    with the object's last state stamped with the deletion's revision), that
    object and its revision (the event's, kept beside it for the write path's
    sake), and the version it replaced (None for a create)."""

    event: WatchEvent[Any]
    object: Resource
    previous: Resource | None
    revision: int

    @property
    def type(self) -> EventType:
        return self.event.type


class Keyspace(Protocol):
    """The versions of one kind's objects (see the module docstring)."""

    @property
    def compacted(self) -> int:
        """Changes at or below this revision are gone from the history."""
        ...

    def get(self, key: Key, *, revision: int | None = None) -> Resource | None:
        """The object at `key` now, or at `revision`; None if absent then."""
        ...

    def list(self, namespace: str | None = None, *, revision: int | None = None) -> list[Resource]:
        """The objects (of one namespace, or all) now or at `revision`, in key order."""
        ...

    def values(self) -> Iterable[Resource]:
        """The current objects in any order, not copied (never mutate them)."""
        ...

    def __len__(self) -> int: ...

    def put(self, obj: Resource, *, expected: Resource | None, revision: int) -> Change:
        """Store `obj` at its key if the key holds `expected` (None: absent)."""
        ...

    def delete(self, obj: Resource, *, expected: Resource | None, revision: int) -> Change:
        """Remove `obj`'s key if it holds `expected`; `obj` is its last state."""
        ...

    def changes(self, since: int) -> Iterable[Change]:
        """The retained changes after `since`, oldest first; Gone if compacted."""
        ...

    def watch(self, since: int | None, sink: Callable[[Change], None]) -> Unwatch:
        """Call `sink` with every change after `since` (None: from now on)."""
        ...


class Storage(Protocol):
    """Keyspaces and the one revision counter over them (see the module docstring)."""

    @property
    def revision(self) -> int:
        """The revision of the last write."""
        ...

    def keyspace(self, info: KindInfo) -> Keyspace:
        """The keyspace of a kind, made empty on first use."""
        ...

    def drop(self, info: KindInfo) -> None:
        """Forget a kind's keyspace and its history (its watches end first)."""
        ...

    def compact(self, revision: int) -> None:
        """Drop every keyspace's history at or below `revision`."""
        ...

    def restore(self, objects: Iterable[tuple[KindInfo, Resource]], revision: int) -> int:
        """Replace everything with `objects` (stored versions, with their
        resourceVersions), recording no change; nothing before the result
        (the highest of `revision` and theirs) is retained. Returns it."""
        ...


@runtime_checkable
class SharedStorage(Storage, Protocol):
    """A storage other writers write too (etcd under several apiservers): their
    changes reach its watches like the store's own, and `on_remote`, set by
    the store, is called with each of them so its write observers see them."""

    on_remote: Callable[[Change], None] | None


def stamped(obj: R, revision: int) -> R:
    """`obj` with `metadata.resourceVersion` set to `revision` (a copy)."""
    meta = copied(obj.metadata, {"resource_version": str(revision)})
    return copied(obj, {"metadata": meta})
