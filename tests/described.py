"""What `kubectl describe` shows under Events for one object: its Events,
oldest first (by first occurrence, then by name: one recorder's names rise)."""

from __future__ import annotations

from engine.api.core import Event
from engine.store import Store


def events_of(store: Store, kind: str, name: str) -> list[Event]:
    return sorted(
        (
            e
            for e in store.objects(Event)
            if e.involved_object.kind == kind and e.involved_object.name == name
        ),
        key=lambda e: (
            e.first_timestamp.timestamp() if e.first_timestamp else 0.0,
            e.metadata.name,
        ),
    )


def described(store: Store, kind: str, name: str) -> list[tuple[str, str, str]]:
    """(type, reason, message) of each Event about the object, oldest first."""
    return [(e.type or "", e.reason or "", e.message or "") for e in events_of(store, kind, name)]
