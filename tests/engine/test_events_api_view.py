"""events.k8s.io/v1 Event is a view of the core/v1 Events the recorders write
(one storage, as in Kubernetes): `regarding`, `note`, `deprecatedCount`...;
and an events.k8s.io Event created through the view is a core Event."""

from __future__ import annotations

from typing import Any

from engine.api.core import Event, Pod
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.events import EventRecorder
from engine.manifests import parse_object
from engine.registry import REGISTRY
from engine.store import Store


def _v1_model() -> Any:
    return REGISTRY.lookup("events.k8s.io/v1", "Event").model


async def test_recorded_events_read_through_events_k8s_io(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    recorder = EventRecorder(LocalClient(store), clock, "kubelet")
    pod = Pod.model_validate(
        {
            "metadata": {"name": "web", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        }
    )
    for _ in range(2):
        recorder.record(pod, "Warning", "BackOff", "Back-off restarting failed container app")
    await recorder.flush()
    [view] = store.list(_v1_model(), "default").items
    doc = view.to_dict()
    assert doc["apiVersion"] == "events.k8s.io/v1"
    assert doc["regarding"]["name"] == "web" and doc["regarding"]["uid"] == "u1"
    assert doc["note"] == "Back-off restarting failed container app"
    assert (doc["reason"], doc["type"], doc["deprecatedCount"]) == ("BackOff", "Warning", 2)
    assert doc["deprecatedSource"] == {"component": "kubelet"}
    assert doc["reportingController"] == "kubelet"
    assert "involvedObject" not in doc and "message" not in doc


def test_an_events_k8s_io_event_is_stored_as_a_core_event() -> None:
    store = Store()
    store.create(
        parse_object(
            {
                "apiVersion": "events.k8s.io/v1",
                "kind": "Event",
                "metadata": {"name": "e1", "namespace": "default"},
                "eventTime": "2024-01-01T00:00:00.000000Z",
                "reportingController": "example.com/controller",
                "reportingInstance": "i1",
                "action": "Scale",
                "reason": "Scaled",
                "type": "Normal",
                "note": "scaled to 3",
                "series": {"count": 4, "lastObservedTime": "2024-01-01T00:05:00.000000Z"},
                "regarding": {"kind": "Deployment", "name": "web", "namespace": "default"},
            }
        )
    )
    core = store.get(Event, "e1", "default")
    assert core.message == "scaled to 3" and core.reporting_component == "example.com/controller"
    assert core.involved_object.kind == "Deployment"
    assert core.series is not None and core.series.count == 4
    view = store.get(_v1_model(), "e1", "default").to_dict()
    assert view["note"] == "scaled to 3" and view["series"]["count"] == 4
