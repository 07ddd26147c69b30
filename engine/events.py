"""The event recorder: writes core/v1 Events (the scheduler's Scheduled,
FailedScheduling, Preempted; the workload controllers' SuccessfulCreate,
SuccessfulDelete, FailedCreate, Completed, BackoffLimitExceeded, ...) in the
background, folding repeats of the same
event into one object with a rising `count`, as client-go's recorder does.

`record()` never blocks and never fails: it appends to a bounded buffer that
`run()` drains through the client. Events are best effort, as in client-go
(whose broadcaster drops events when its buffer is full): writing yields to
the component's own work. While `busy()` says the component has work queued
(the scheduler: pods to place), the recorder waits for an idle moment unless
`high_water` events are pending; past `limit` pending events the oldest are
dropped (counted in `dropped`).
Names are `<object>.<hex>` like Kubernetes', made unique with a sequence so
virtual-time runs replay exactly.

Like client-go's EventSourceObjectSpamFilter, each involved object has a
token bucket (25 events at once, then one per 5 minutes of the injected
clock): a Job creating 10,000 pods records its first 25 SuccessfulCreate
events, not 10,000 (those filtered are counted in `filtered`).

Neighbours: `controllers.scheduler.scheduler` (owns and runs one),
`plugins.default_preemption` (records Preempted), the job, cronjob,
statefulset, daemonset and disruption controllers (each runs one beside its
workers), `engine.api.core.Event`.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from engine.api.base import ObjectMeta, Resource
from engine.api.core import Event, EventSource, ObjectReference
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError
from engine.logging import get_logger

__all__ = ["EventRecorder", "object_reference"]

log = get_logger("events")
_MAX_PENDING: Final = 20_000
_HIGH_WATER: Final = 10_000
_MAX_REMEMBERED: Final = 4096
SPAM_BURST: Final = 25
SPAM_REFILL_SECONDS: Final = 300.0


@dataclass(slots=True)
class _Pending:
    involved: Resource
    type: str
    reason: str
    message: str


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
        self._pending: deque[_Pending] = deque()
        self._wakeup = asyncio.Event()
        self._idle = asyncio.Event()
        self._seen: OrderedDict[tuple[str, str, str, str], Event] = OrderedDict()
        self._sequence = 0
        self.dropped = 0
        self.written = 0
        self.filtered = 0
        # Per involved object (uid or name): (tokens, clock reading when counted).
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def _allowed(self, obj: Resource) -> bool:
        key = obj.metadata.uid or obj.metadata.name
        now = self.clock.monotonic()
        tokens, since = self._buckets.pop(key, (float(SPAM_BURST), now))
        tokens = min(float(SPAM_BURST), tokens + (now - since) / SPAM_REFILL_SECONDS)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > _MAX_REMEMBERED:
            self._buckets.popitem(last=False)
        return allowed

    def record(self, obj: Resource, type_: str, reason: str, message: str) -> None:
        if not self._allowed(obj):
            self.filtered += 1
            return
        if len(self._pending) >= self.limit:
            self._pending.popleft()
            self.dropped += 1
        self._pending.append(_Pending(obj, type_, reason, message))
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._pending)

    def notify_idle(self) -> None:
        """The scheduler has nothing to do right now: a good time to write."""
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
        now = self.clock.now()
        meta = item.involved.metadata
        key = (meta.uid or meta.name, item.type, item.reason, item.message)
        previous = self._seen.get(key)
        try:
            if previous is not None:
                updated = previous.model_copy(
                    update={"count": (previous.count or 1) + 1, "last_timestamp": now}
                )
                stored = await self.client.update(updated)
            else:
                self._sequence += 1
                nanos = int(now.timestamp() * 1e9) + self._sequence
                event = Event(
                    metadata=ObjectMeta(
                        name=f"{meta.name}.{nanos:x}", namespace=meta.namespace or "default"
                    ),
                    involved_object=object_reference(item.involved),
                    reason=item.reason,
                    message=item.message,
                    type=item.type,
                    source=EventSource(component=self.component),
                    first_timestamp=now,
                    last_timestamp=now,
                    count=1,
                    reporting_component=self.component,
                )
                stored = await self.client.create(event)
        except ApiError as error:
            self._seen.pop(key, None)
            log.debug("event not written", reason=item.reason, error=str(error))
            return
        self.written += 1
        self._seen[key] = stored
        self._seen.move_to_end(key)
        if len(self._seen) > _MAX_REMEMBERED:
            self._seen.popitem(last=False)
