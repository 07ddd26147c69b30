"""The event recorder: writes core/v1 Events (the scheduler's Scheduled,
FailedScheduling, Preempted; the workload controllers' SuccessfulCreate,
SuccessfulDelete, FailedCreate, ScalingReplicaSet, ...; the kubelet's
Pulled, Created, Started, Killing, BackOff, Unhealthy, ...) in the
background, in the legacy core/v1 form client-go's `record` package writes
(`count`, `firstTimestamp`, `lastTimestamp`, `source`).

What gets written, and as what, is client-go's EventCorrelator
(`engine.eventcorrelator`): an identical repeat is folded into the existing
object with a rising `count`; similar events (same object and reason,
different messages) past 10 in 10 minutes become one combined event
`(combined from similar events): ...`; a token bucket per involved object
(25 events at once, then one per 5 minutes) drops the rest (a Job creating
10,000 pods records its first 25 SuccessfulCreate events, not 10,000;
those dropped are counted in `filtered`). All on the injected clock; an
event's timestamps are the time it was recorded, not written.

`record()` never blocks and never fails (a reconcile or a kubelet sync never
fails because of an event): it appends to a bounded buffer that `run()`
drains through the client. Events are best effort, as in client-go (whose
broadcaster drops events when its buffer is full): writing yields to the
component's own work. While `busy()` says the component has work queued
(the scheduler: pods to place; a kubelet pool: kubelets to process), the
recorder waits for an idle moment unless `high_water` events are pending;
past `limit` pending events the oldest are dropped (counted in `dropped`).
A write that fails is logged and forgotten.
Names are `<object>.<hex>` like Kubernetes', made unique with a sequence so
virtual-time runs replay exactly. Events of cluster-scoped objects (Nodes)
go to the `default` namespace, as client-go puts them.

Neighbours: `controllers.scheduler.scheduler` (owns and runs one),
`plugins.default_preemption` (records Preempted), each workload controller
(runs one beside its workers), `runtime.kubelet` (one per kubelet, or one
per node pool), `engine.eventcorrelator`, `engine.api.core.Event`; the
store expires Events after `event_ttl` (`engine.store`).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from engine.api.base import ObjectMeta, Resource, copied
from engine.api.core import Event, EventSource, ObjectReference
from engine.client import Client
from engine.clock import Clock
from engine.eventcorrelator import (
    COMBINED_PREFIX,
    LRU_SIZE,
    EventAggregator,
    ObjectKey,
    SpamFilter,
)
from engine.logging import get_logger

__all__ = ["EventRecorder", "object_reference"]

log = get_logger("events")
_MAX_PENDING: Final = 20_000
_HIGH_WATER: Final = 10_000
_REFERENCES: Final = 4096
"""How many involved-object references are kept for sharing (then forgotten at once)."""

# An identical event: object, field path, type, reason, message (client-go's
# getEventKey); a combined event: object, type, reason (its aggregate key).
_EventKey = tuple[ObjectKey, str, str, str, str]


@dataclass(slots=True)
class _Pending:
    # The involved object's identity only: holding the object itself would keep
    # every revision a busy component recorded about alive until written.
    target: ObjectKey
    resource_version: str
    type: str
    reason: str
    message: str
    field_path: str | None
    host: str | None
    time: datetime
    key: _EventKey


def object_reference(obj: Resource) -> ObjectReference:
    """A reference to `obj` as Events and status lists carry it."""
    meta = obj.metadata
    return ObjectReference(
        api_version=obj.api_version,
        kind=obj.kind,
        namespace=meta.namespace or None,
        name=meta.name,
        uid=meta.uid or None,
        resource_version=meta.resource_version or None,
    )


class EventRecorder:
    """Background writer of Events for one component."""

    def __init__(
        self,
        client: Client | None,
        clock: Clock,
        component: str,
        *,
        busy: Callable[[], bool] = lambda: False,
        high_water: int = _HIGH_WATER,
        limit: int = _MAX_PENDING,
    ) -> None:
        self.client = client
        self.clock = clock
        self.component = component
        self.busy = busy
        self.high_water = high_water
        self.limit = limit
        self.aggregator = EventAggregator()
        self.spam_filter = SpamFilter()
        self._pending: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._seen: OrderedDict[_EventKey, Event] = OrderedDict()
        self._sequence = 0
        self._sources: dict[str | None, EventSource] = {}
        self._references: dict[tuple[ObjectKey, str, str | None], ObjectReference] = {}
        epoch = clock.now()
        self._template = Event(
            metadata=ObjectMeta(name="template", namespace="default"),
            involved_object=ObjectReference(
                api_version="v1",
                kind="Pod",
                namespace="default",
                name="template",
                uid="template",
                resource_version="1",
                field_path="template",
            ),
            reason="Template",
            message="template",
            type="Normal",
            source=EventSource(component=component, host="template"),
            first_timestamp=epoch,
            last_timestamp=epoch,
            count=1,
            reporting_component=component,
            reporting_instance="template",
        )
        self.dropped = 0
        self.written = 0
        self.filtered = 0
        self.combined = 0
        self.failed = 0

    def record(
        self,
        obj: Resource,
        type_: str,
        reason: str,
        message: str,
        *,
        field_path: str | None = None,
        host: str | None = None,
    ) -> None:
        """Record that `reason` happened to `obj` (a sub-object of it with
        `field_path`, e.g. `spec.containers{web}`); `host` is the node the
        reporting component runs on (the kubelet's)."""
        try:
            self._record(obj, type_, reason, message, field_path, host)
        except Exception as error:  # an event must never fail its caller
            self.failed += 1
            log.warning("event not recorded", reason=reason, error=repr(error))

    def _record(
        self,
        obj: Resource,
        type_: str,
        reason: str,
        message: str,
        field_path: str | None,
        host: str | None,
    ) -> None:
        meta = obj.metadata
        target: ObjectKey = (
            host or "",
            obj.kind,
            meta.namespace,
            meta.name,
            meta.uid,
            obj.api_version,
        )
        now = self.clock.monotonic()
        key: _EventKey
        if self.aggregator.aggregate((target, type_, reason), message, now):
            self.combined += 1
            message = COMBINED_PREFIX + message
            key = (target, "", type_, reason, COMBINED_PREFIX)
        else:
            key = (target, field_path or "", type_, reason, message)
        if not self.spam_filter.allow(target, now):
            self.filtered += 1
            return
        if len(self._pending) >= self.limit:
            self._pending.popleft()
            self.dropped += 1
        self._pending.append(
            _Pending(
                target,
                meta.resource_version,
                type_,
                reason,
                message,
                field_path,
                host,
                self.clock.now(),
                key,
            )
        )
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._pending)

    def notify_idle(self) -> None:
        """The component has nothing to do right now: a good time to write."""
        self._idle.set()

    async def run(self) -> None:
        pending = self._pending
        while True:
            if not pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            while pending:
                if len(pending) < self.high_water and self.busy():
                    self._idle.clear()
                    await self._idle.wait()
                    continue
                await self._write(pending.popleft())

    async def flush(self) -> None:
        """Write everything buffered now (tests and shutdown)."""
        while self._pending:
            await self._write(self._pending.popleft())

    async def _write(self, item: _Pending) -> None:
        if self.client is None:
            return
        key = item.key
        previous = self._seen.get(key)
        try:
            if previous is not None:
                updated = previous.model_copy(
                    update={
                        "count": (previous.count or 1) + 1,
                        "last_timestamp": item.time,
                        "message": item.message,
                    }
                )
                stored = await self.client.update(updated)
            else:
                stored = await self.client.create(self._new_event(item))
        except Exception as error:  # best effort: never let one event stop the writer
            self._seen.pop(key, None)
            self.failed += 1
            log.debug("event not written", reason=item.reason, error=repr(error))
            return
        self.written += 1
        self._seen[key] = stored
        self._seen.move_to_end(key)
        if len(self._seen) > LRU_SIZE:
            self._seen.popitem(last=False)

    def _source(self, host: str | None) -> EventSource:
        """One shared (immutable) EventSource per host."""
        source = self._sources.get(host)
        if source is None:
            source = self._sources[host] = EventSource(component=self.component, host=host)
        return source

    def _reference(self, item: _Pending) -> ObjectReference:
        """The involved object's reference, shared by the events about one
        revision of one (sub-)object: a kubelet's Pulling, Pulled, Created and
        Started name the same container of the same pod revision."""
        key = (item.target, item.resource_version, item.field_path)
        reference = self._references.get(key)
        if reference is None:
            _, kind, namespace, name, uid, api_version = item.target
            reference = copied(
                self._template.involved_object,
                {
                    "api_version": api_version,
                    "kind": kind,
                    "namespace": namespace or None,
                    "name": name,
                    "uid": uid or None,
                    "resource_version": item.resource_version or None,
                    "field_path": item.field_path,
                },
            )
            if len(self._references) >= _REFERENCES:
                self._references.clear()
            self._references[key] = reference
        return reference

    def _new_event(self, item: _Pending) -> Event:
        # Built from the template by shallow copies, not validated field by
        # field: every part comes from this recorder, and the store validates
        # the whole at the boundary. The copies share the template's
        # fields-set, which keeps a written Event small.
        self._sequence += 1
        now = item.time
        namespace, name = item.target[2], item.target[3]
        nanos = int(now.timestamp() * 1e9) + self._sequence
        template = self._template
        reference = self._reference(item)
        metadata = copied(
            template.metadata, {"name": f"{name}.{nanos:x}", "namespace": namespace or "default"}
        )
        return copied(
            template,
            {
                "metadata": metadata,
                "involved_object": reference,
                "reason": item.reason,
                "message": item.message,
                "type": item.type,
                "source": self._source(item.host),
                "first_timestamp": now,
                "last_timestamp": now,
                "reporting_instance": item.host,
            },
        )
