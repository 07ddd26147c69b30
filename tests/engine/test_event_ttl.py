"""Events expire an hour after their last write (kube-apiserver's --event-ttl),
on the store's clock: a repeat extends the time to live, the expiry is a
DELETED watch event like any delete, and restored Events get a full hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from engine.api.core import ConfigMap, Event
from engine.clock import DEFAULT_EPOCH, Clock
from engine.store import EVENT_TTL_SECONDS, Store
from engine.watch import DELETED


class StepClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def now(self) -> datetime:
        return DEFAULT_EPOCH + timedelta(seconds=self.seconds)

    def monotonic(self) -> float:
        return self.seconds


def _event(name: str, count: int = 1) -> Event:
    return Event.model_validate(
        {
            "metadata": {"name": name, "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web-0", "namespace": "default"},
            "reason": "Started",
            "message": "Started container web",
            "count": count,
        }
    )


def _store(**options: Any) -> tuple[Store, StepClock]:
    clock = StepClock()
    return Store(clock=cast(Clock, clock), **options), clock


def _touch(store: Store, name: str) -> None:
    """Any write: expiry is checked after writes."""
    store.create(ConfigMap.model_validate({"metadata": {"name": name}}))


def test_an_event_lives_an_hour_after_its_last_write() -> None:
    store, clock = _store()
    store.create(_event("web-0.a"))
    watcher = store.watch(Event, since=store.revision)
    clock.seconds = EVENT_TTL_SECONDS - 1
    _touch(store, "one")
    assert store.get(Event, "web-0.a", "default")
    clock.seconds = EVENT_TTL_SECONDS
    _touch(store, "two")
    assert store.list(Event).items == []
    events = watcher.drain()
    assert [(e.type, e.object.metadata.name if e.object else None) for e in events] == [
        (DELETED, "web-0.a")
    ]


def test_a_repeated_event_lives_an_hour_after_its_last_count() -> None:
    store, clock = _store()
    first = store.create(_event("web-0.b"))
    clock.seconds = 1800
    store.update(first.model_copy(update={"count": 2}))
    clock.seconds = EVENT_TTL_SECONDS + 1
    _touch(store, "one")
    assert store.get(Event, "web-0.b", "default").count == 2
    clock.seconds = 1800 + EVENT_TTL_SECONDS
    _touch(store, "two")
    assert list(store.objects(Event)) == []


def test_many_events_expire_in_the_order_they_were_written() -> None:
    store, clock = _store(event_ttl=60.0)
    for i in range(5):
        clock.seconds = i * 10
        store.create(_event(f"e{i}"))
    clock.seconds = 85
    _touch(store, "now")
    assert sorted(e.metadata.name for e in store.objects(Event)) == ["e3", "e4"]


def test_without_a_ttl_events_are_kept() -> None:
    store, clock = _store(event_ttl=None)
    store.create(_event("kept"))
    clock.seconds = 10 * EVENT_TTL_SECONDS
    _touch(store, "later")
    assert store.get(Event, "kept", "default")


def test_restored_events_get_a_full_time_to_live() -> None:
    store, clock = _store()
    event = store.create(_event("restored"))
    clock.seconds = 3000
    again, again_clock = _store()
    again_clock.seconds = 3000
    again.restore(list(store.all_objects()), store.revision)
    assert again.get(Event, "restored", "default") == event
    again_clock.seconds = 3000 + EVENT_TTL_SECONDS - 1
    _touch(again, "one")
    assert again.get(Event, "restored", "default")
    again_clock.seconds = 3000 + EVENT_TTL_SECONDS
    _touch(again, "two")
    assert list(again.objects(Event)) == []
