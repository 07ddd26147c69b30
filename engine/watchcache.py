"""The watch cache's fan-out: every change of a kind, delivered to its watchers.

One `Fanout` per kind holds the open watchers of that kind and delivers each
committed change to those whose namespace and selectors it concerns, the way
kube-apiserver's watch cache (the cacher) serves many watches from one
storage watch:

* A watcher without selectors gets the change as it is (one shared
  `WatchEvent` for all of them: nothing is copied per watcher).
* With a label or field selector, an object that starts matching is ADDED to
  that watcher's view, one that stops matching is DELETED from it (stamped
  with the revision of the change that made it leave), one that matches
  before and after is MODIFIED, and the rest is not delivered.
* `open` starts a watcher: it first receives the changes after the revision
  it asked for (read from the storage's history by the caller), then every
  later one, exactly once and in revision order.

Delivery never blocks the writer: `Watcher.push` appends to a bounded buffer
and cuts a reader that falls too far behind off with Gone (`engine.watch`).

Neighbours: `engine.store` (creates one per kind and opens watches),
`engine.storage` (the changes: `Keyspace.watch` calls `publish`, `changes`
replays history), `engine.watch` (`Watcher`, `WatchEvent`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

from engine.api.base import Resource
from engine.clock import Clock
from engine.fieldselectors import FieldSelector
from engine.selectors import Selector
from engine.storage.protocol import Change, stamped
from engine.watch import ADDED, DELETED, Watcher, WatchEvent

__all__ = ["Fanout"]


class Fanout:
    """The open watchers of one kind (see the module docstring)."""

    __slots__ = ("watchers",)

    def __init__(self) -> None:
        self.watchers: list[Watcher[Any]] = []

    def publish(self, change: Change) -> None:
        """Deliver one committed change to every watcher it concerns."""
        event = change.event
        namespace = change.object.metadata.namespace
        for watcher in self.watchers:
            if watcher.namespace is not None and watcher.namespace != namespace:
                continue
            if watcher.label_selector is None and watcher.field_selector is None:
                watcher.push(event)
            else:
                push_filtered(watcher, event, change.previous)

    def open(
        self,
        *,
        history: Iterable[Change],
        namespace: str | None,
        label_selector: Selector | None,
        field_selector: FieldSelector | None,
        capacity: int,
        clock: Clock,
        current_revision: Callable[[], int],
        bookmark_interval: float | None,
    ) -> Watcher[Any]:
        """A new watcher, given `history` (the changes after the revision it
        starts from, oldest first) before any later change."""
        watcher: Watcher[Any] = Watcher(
            capacity=capacity,
            namespace=namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            clock=clock,
            current_revision=current_revision,
            on_close=self._discard,
            bookmark_interval=bookmark_interval,
        )
        for change in history:
            event = change.event
            obj = change.object
            if watcher.namespace is not None and obj.metadata.namespace != watcher.namespace:
                continue
            if watcher.label_selector is None and watcher.field_selector is None:
                watcher.push(event)
            else:
                push_filtered(watcher, event, change.previous)
        if not watcher.stopped:
            self.watchers.append(watcher)
        return watcher

    def stop_all(self) -> None:
        """End every watch (the kind stopped being served, or the store was restored)."""
        for watcher in list(self.watchers):
            watcher.stop()

    def _discard(self, watcher: Watcher[Any]) -> None:
        with contextlib.suppress(ValueError):
            self.watchers.remove(watcher)

    def __len__(self) -> int:
        return len(self.watchers)


def matches(watcher: Watcher[Any], obj: Resource | None) -> bool:
    """Whether `obj` is in the view of a watcher's selectors."""
    if obj is None:
        return False
    sel = watcher.label_selector
    if sel is not None and not sel.matches(obj.metadata.labels):
        return False
    fsel = watcher.field_selector
    return fsel is None or bool(fsel.matches(obj))


def push_filtered(watcher: Watcher[Any], event: WatchEvent[Any], previous: Resource | None) -> None:
    """Deliver a change to a watcher with selectors, as the change looks from
    its view."""
    # An object that starts or stops matching a selector is ADDED to or
    # DELETED from that watcher's view, as the apiserver's watch cache does.
    now = event.type != DELETED and matches(watcher, event.object)
    before = matches(watcher, previous) if event.type != ADDED else False
    if event.type == DELETED:
        now, before = False, matches(watcher, event.object)
    if now and before:
        watcher.push(event)
    elif now:
        watcher.push(WatchEvent(ADDED, event.object, event.revision))
    elif before:
        gone = event.object if event.type == DELETED else previous
        assert gone is not None
        if event.type != DELETED:
            gone = stamped(gone, event.revision)
        watcher.push(WatchEvent(DELETED, gone, event.revision))
