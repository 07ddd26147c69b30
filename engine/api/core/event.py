"""core/v1 Event: a report that something happened to an object
(`involvedObject`), deduplicated by `count` and `lastTimestamp`. kubeloop uses
the core/v1 shape only (events.k8s.io is not modelled).

Neighbours: the event recorder (writer), `kubectl describe`-style readers.
"""

from __future__ import annotations

from datetime import datetime

from engine.api.base import KubeModel, Resource
from engine.api.core.common import ObjectReference
from engine.api.integers import Int32
from engine.registry import kind

__all__ = ["Event", "EventSeries", "EventSource"]


class EventSource(KubeModel):
    component: str | None = None
    host: str | None = None


class EventSeries(KubeModel):
    count: Int32 | None = None
    last_observed_time: datetime | None = None


@kind("v1", "Event", plural="events", namespaced=True, status_subresource=False)
class Event(Resource):
    involved_object: ObjectReference
    reason: str | None = None
    message: str | None = None
    source: EventSource | None = None
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None
    count: Int32 | None = None
    type: str | None = None
    event_time: datetime | None = None
    series: EventSeries | None = None
    action: str | None = None
    related: ObjectReference | None = None
    reporting_component: str | None = None
    reporting_instance: str | None = None
