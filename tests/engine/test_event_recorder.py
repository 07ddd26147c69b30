"""The event recorder on the virtual clock: identical repeats fold into one
Event with a rising count, similar events (one reason, many messages) past 10
in 10 minutes are combined, a noisy object is throttled by the spam filter,
Events expire after the store's TTL, and nothing the recorder meets (a failed
write, a broken object) reaches its caller."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from engine.api.core import ConfigMap, Event, Pod
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.eventcorrelator import COMBINED_PREFIX, EventAggregator, SpamFilter
from engine.events import EventRecorder
from engine.store import EVENT_TTL_SECONDS, Store


def _pod(name: str = "web-0") -> Pod:
    return Pod.model_validate(
        {
            "metadata": {"name": name, "namespace": "default", "uid": f"uid-{name}"},
            "spec": {"containers": [{"name": "web", "image": "nginx"}]},
        }
    )


def _setup(clock: VirtualClock) -> tuple[Store, EventRecorder]:
    store = Store(clock=clock)
    return store, EventRecorder(LocalClient(store), clock, "kubelet")


def _events(store: Store) -> list[Event]:
    return sorted(store.list(Event, "default").items, key=lambda e: e.metadata.name)


async def test_identical_repeats_fold_into_one_event_with_a_count(clock: VirtualClock) -> None:
    store, recorder = _setup(clock)
    pod = _pod()
    first = clock.now()
    for _ in range(3):
        recorder.record(pod, "Warning", "BackOff", "Back-off restarting failed container web")
        await clock.advance(10)
    await recorder.flush()
    [event] = _events(store)
    assert (event.type, event.reason, event.count) == ("Warning", "BackOff", 3)
    assert event.message == "Back-off restarting failed container web"
    assert event.first_timestamp == first
    assert event.last_timestamp == first + timedelta(seconds=20)  # recorded, not written, time
    assert event.involved_object.kind == "Pod" and event.involved_object.uid == "uid-web-0"
    assert event.source is not None and event.source.component == "kubelet"


async def test_sub_objects_and_hosts_are_kept_apart(clock: VirtualClock) -> None:
    store, recorder = _setup(clock)
    pod = _pod()
    recorder.record(pod, "Normal", "Started", "Started", field_path="spec.containers{a}", host="n1")
    recorder.record(pod, "Normal", "Started", "Started", field_path="spec.containers{b}", host="n1")
    await recorder.flush()
    events = _events(store)
    assert sorted(e.involved_object.field_path or "" for e in events) == [
        "spec.containers{a}",
        "spec.containers{b}",
    ]
    assert all(e.source is not None and e.source.host == "n1" for e in events)
    assert all(e.reporting_instance == "n1" for e in events)


async def test_similar_events_past_ten_are_combined(clock: VirtualClock) -> None:
    store, recorder = _setup(clock)
    pod = _pod()
    for i in range(12):
        recorder.record(pod, "Warning", "Unhealthy", f"Readiness probe failed: attempt {i}")
        await clock.advance(1)
    await recorder.flush()
    events = _events(store)
    plain = [e for e in events if not (e.message or "").startswith(COMBINED_PREFIX)]
    combined = [e for e in events if (e.message or "").startswith(COMBINED_PREFIX)]
    assert len(plain) == 9
    assert [(e.message, e.count) for e in combined] == [
        (COMBINED_PREFIX + "Readiness probe failed: attempt 11", 3)
    ]
    assert recorder.combined == 3


async def test_a_quiet_group_starts_over_after_ten_minutes(clock: VirtualClock) -> None:
    aggregator = EventAggregator()
    group: Any = (("", "Pod", "default", "p", "u", "v1"), "Warning", "Unhealthy")
    assert [aggregator.aggregate(group, f"m{i}", float(i)) for i in range(10)][-1] is True
    assert aggregator.aggregate(group, "again", 9.0 + 600.0) is True  # within the window
    assert aggregator.aggregate(group, "fresh", 9.0 + 600.0 + 601.0) is False


async def test_a_noisy_object_is_throttled_and_refills(clock: VirtualClock) -> None:
    store, recorder = _setup(clock)
    pod = _pod()
    for _ in range(30):
        recorder.record(pod, "Normal", "SuccessfulCreate", "Created pod: x")
    assert recorder.filtered == 5
    await clock.advance(300)
    recorder.record(pod, "Normal", "SuccessfulCreate", "Created pod: x")
    recorder.record(pod, "Normal", "SuccessfulCreate", "Created pod: x")
    assert recorder.filtered == 6
    recorder.record(_pod("other"), "Normal", "SuccessfulCreate", "Created pod: x")
    await recorder.flush()
    counts = sorted((e.involved_object.name, e.count) for e in _events(store))
    assert counts == [("other", 1), ("web-0", 26)]


def test_the_spam_filter_has_one_bucket_per_object() -> None:
    spam = SpamFilter(burst=2, refill_seconds=10.0)
    a: Any = ("", "Pod", "default", "a", "ua", "v1")
    b: Any = ("", "Pod", "default", "b", "ub", "v1")
    assert [spam.allow(a, 0.0) for _ in range(3)] == [True, True, False]
    assert spam.allow(b, 0.0)
    assert spam.allow(a, 10.0) and not spam.allow(a, 10.0)


async def test_events_expire_after_the_ttl(clock: VirtualClock) -> None:
    store, recorder = _setup(clock)
    recorder.record(_pod(), "Normal", "Pulled", "Container image already present on machine")
    await recorder.flush()
    assert len(_events(store)) == 1
    await clock.advance(EVENT_TTL_SECONDS - 1)
    store.create(ConfigMap.model_validate({"metadata": {"name": "a", "namespace": "default"}}))
    assert len(_events(store)) == 1
    await clock.advance(2)
    store.create(ConfigMap.model_validate({"metadata": {"name": "b", "namespace": "default"}}))
    assert _events(store) == []


class _FailingClient(LocalClient):
    async def create(self, obj: Any, **kwargs: Any) -> Any:
        raise RuntimeError("apiserver on fire")


async def test_a_failed_write_never_reaches_the_caller(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    recorder = EventRecorder(_FailingClient(store), clock, "test")
    recorder.record(_pod(), "Normal", "Started", "Started container web")
    await recorder.flush()
    assert recorder.failed == 1 and recorder.written == 0


async def test_recording_never_raises(clock: VirtualClock) -> None:
    _, recorder = _setup(clock)
    broken: Any = object()
    recorder.record(broken, "Normal", "Started", "Started container web")
    assert recorder.failed == 1 and len(recorder) == 0


@pytest.mark.parametrize("max_events", [0, -1])
def test_the_aggregator_refuses_a_useless_threshold(max_events: int) -> None:
    with pytest.raises(ValueError, match="max_events"):
        EventAggregator(max_events=max_events)
