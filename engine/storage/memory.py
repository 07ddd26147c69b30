"""The in-memory `Storage`: dicts of objects and a bounded history per kind.

The default storage of every `Store`. A keyspace is a dict from (namespace,
name) to the stored (immutable, shared) object, and a deque of its last
`history_size` changes; a change that falls off the deque raises the
keyspace's `compacted` revision, so watches and reads from before it are
Gone (410). Reads at an earlier revision undo the retained changes after it,
newest first (each change keeps the version it replaced). Writes cost a dict
store, a deque append and the subscribers' calls; nothing is copied unless a
caller hands in an object not stamped with the write's revision (it never
does: `revision=` states that it did).

Single-threaded, as the store is: a write's precondition check and its
effect cannot interleave with another write, so comparing the stored version
by identity is the whole transaction.

Neighbours: `engine.storage.protocol` (the contract this implements),
`engine.store` (its user), `engine.watchcache` (the subscriber of each
keyspace).
"""

from __future__ import annotations

import builtins
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from engine.api.base import Resource
from engine.errors import Conflict, Gone
from engine.registry import KindInfo
from engine.storage.protocol import Change, Key, Unwatch
from engine.watch import ADDED, DELETED, MODIFIED, WatchEvent

__all__ = ["MemoryKeyspace", "MemoryStorage"]

DEFAULT_HISTORY_SIZE = 20_000
"""Changes kept per kind (the watch cache's window)."""


class MemoryStorage:
    """The in-memory implementation of `engine.storage.Storage`."""

    __slots__ = ("_floor", "_spaces", "history_size", "revision")

    def __init__(self, *, history_size: int = DEFAULT_HISTORY_SIZE) -> None:
        if history_size < 1:
            raise ValueError(f"history_size must be at least 1, got {history_size}")
        self.history_size = history_size
        self.revision = 0
        """The revision of the last write (or of the restored state)."""
        self._floor = 0  # nothing at or below this is retained (a restore)
        self._spaces: dict[type[Resource], MemoryKeyspace] = {}

    def keyspace(self, info: KindInfo) -> MemoryKeyspace:
        space = self._spaces.get(info.model)
        if space is None:
            space = self._spaces[info.model] = MemoryKeyspace(self, info)
        return space

    def drop(self, info: KindInfo) -> None:
        self._spaces.pop(info.model, None)

    def compact(self, revision: int) -> None:
        if revision > self.revision:
            raise ValueError(f"cannot compact at {revision}, after the current {self.revision}")
        for space in self._spaces.values():
            space._compact(revision)

    def restore(self, objects: Iterable[tuple[KindInfo, Resource]], revision: int) -> int:
        self._spaces.clear()
        highest = revision
        self._floor = revision
        for info, obj in objects:
            space = self.keyspace(info)
            space.objects[obj.key] = obj
            highest = max(highest, int(obj.metadata.resource_version or 0))
        self.revision = highest
        self._floor = highest
        for space in self._spaces.values():
            space.compacted = highest
        return highest


class MemoryKeyspace:
    """One kind's objects, history and subscribers (see the module docstring)."""

    __slots__ = ("_sinks", "compacted", "history", "info", "objects", "storage")

    def __init__(self, storage: MemoryStorage, info: KindInfo) -> None:
        self.storage = storage
        self.info = info
        self.objects: dict[Key, Resource] = {}
        self.history: deque[Change] = deque()
        self.compacted = storage._floor  # changes with revision <= compacted are gone
        self._sinks: list[Callable[[Change], None]] = []

    # -- reads ---------------------------------------------------------------------------

    def get(self, key: Key, *, revision: int | None = None) -> Resource | None:
        if revision is None or revision >= self.storage.revision:
            return self.objects.get(key)
        return self._at(revision).get(key)

    def list(self, namespace: str | None = None, *, revision: int | None = None) -> list[Resource]:
        if revision is None or revision >= self.storage.revision:
            objects = self.objects
        else:
            objects = self._at(revision)
        if namespace is None:
            keys = sorted(objects)
        else:
            keys = sorted(key for key in objects if key[0] == namespace)
        return [objects[key] for key in keys]

    def values(self) -> Iterable[Resource]:
        return self.objects.values()

    def __len__(self) -> int:
        return len(self.objects)

    def _at(self, revision: int) -> dict[Key, Resource]:
        """The objects as they were at `revision`: the retained changes after it, undone."""
        self._check(revision)
        objects = dict(self.objects)
        for change in reversed(self.history):
            if change.revision <= revision:
                break
            key = change.object.key
            if change.previous is None:
                objects.pop(key, None)
            else:
                objects[key] = change.previous
        return objects

    def _check(self, revision: int) -> None:
        if revision < self.compacted:
            raise Gone(
                f"too old resource version: {revision} (the oldest retained for "
                f"{self.info.plural} is {self.compacted})"
            )

    # -- writes --------------------------------------------------------------------------

    def put(self, obj: Resource, *, expected: Resource | None, revision: int) -> Change:
        objects = self.objects
        key = obj.key
        if objects.get(key) is not expected:
            raise self._conflict(key)
        storage = self.storage
        if revision <= storage.revision:
            raise ValueError(f"revision {revision} is not after {storage.revision}")
        storage.revision = revision
        objects[key] = obj
        event_type = ADDED if expected is None else MODIFIED
        change = Change(WatchEvent(event_type, obj, revision), obj, expected, revision)
        return self._record(change)

    def delete(self, obj: Resource, *, expected: Resource | None, revision: int) -> Change:
        objects = self.objects
        key = obj.key
        if expected is None or objects.get(key) is not expected:
            raise self._conflict(key)
        storage = self.storage
        if revision <= storage.revision:
            raise ValueError(f"revision {revision} is not after {storage.revision}")
        storage.revision = revision
        del objects[key]
        change = Change(WatchEvent(DELETED, obj, revision), obj, expected, revision)
        return self._record(change)

    def _record(self, change: Change) -> Change:
        """Keep a committed change in the history window and hand it to the subscribers."""
        history = self.history
        history.append(change)
        if len(history) > self.storage.history_size:
            self.compacted = history.popleft().revision
        for sink in self._sinks:
            sink(change)
        return change

    def _conflict(self, key: Key) -> Conflict:
        namespace, name = key
        where = f"{namespace}/{name}" if namespace else name
        return Conflict(
            f'Operation cannot be fulfilled on {self.info.plural} "{where}": the object '
            "has been modified; please apply your changes to the latest version and try again"
        )

    def _compact(self, revision: int) -> None:
        history = self.history
        while history and history[0].revision <= revision:
            history.popleft()
        self.compacted = max(self.compacted, revision)

    # -- watch ---------------------------------------------------------------------------

    def changes(self, since: int) -> builtins.list[Change]:
        self._check(since)
        return [change for change in self.history if change.revision > since]

    def watch(self, since: int | None, sink: Callable[[Change], None]) -> Unwatch:
        if since is not None:
            for change in self.changes(since):
                sink(change)
        self._sinks.append(sink)
        return lambda: _discard(self._sinks, sink)


def _discard(items: list[Any], item: Any) -> None:
    if item in items:
        items.remove(item)
