"""client-go's EventCorrelator: which Events get written, and as what.

Role: the pure decision part of the event recorder (`engine.events`), with
client-go's defaults (`tools/record/events_cache.go`), all time from the
injected clock:

* **Aggregation** (`EventAggregator`): events *similar* to each other (same
  source, involved object, type and reason; any message) are counted per
  group over a rolling 10 minutes. Once a group has seen 10 distinct
  messages, each further one is written as a single combined event whose
  message is `(combined from similar events): <latest message>` (one object
  with a rising `count`, instead of one object per message). A group quiet
  for more than 10 minutes starts over.
* **Counting**: `event_key` identifies *identical* events (same source,
  involved object and field path, type, reason and message); the recorder
  folds each repeat into the existing object (`count` + 1, `lastTimestamp`).
* **Spam filter** (`SpamFilter`): a token bucket per source and involved
  object (25 at once, then one every 5 minutes); events past it are dropped.

Every cache is an LRU of 4,096 entries, as client-go's, so memory stays
bounded however many objects a simulation touches.

Neighbours: `engine.events` (the recorder that applies these), `engine.clock`.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Final

__all__ = [
    "AGGREGATE_MAX_EVENTS",
    "AGGREGATE_WINDOW_SECONDS",
    "COMBINED_PREFIX",
    "LRU_SIZE",
    "SPAM_BURST",
    "SPAM_REFILL_SECONDS",
    "EventAggregator",
    "ObjectKey",
    "SpamFilter",
]

LRU_SIZE: Final = 4096
AGGREGATE_MAX_EVENTS: Final = 10
AGGREGATE_WINDOW_SECONDS: Final = 600.0
COMBINED_PREFIX: Final = "(combined from similar events): "
SPAM_BURST: Final = 25
SPAM_REFILL_SECONDS: Final = 300.0

ObjectKey = tuple[str, str, str, str, str, str]
"""(source host, kind, namespace, name, uid, apiVersion) of an involved object."""


@dataclass(slots=True)
class _Group:
    messages: dict[str, None] = field(default_factory=dict)  # an ordered set
    last_seen: float = 0.0


class EventAggregator:
    """Combines similar events (see the module docstring)."""

    def __init__(
        self,
        *,
        max_events: int = AGGREGATE_MAX_EVENTS,
        window: float = AGGREGATE_WINDOW_SECONDS,
        size: int = LRU_SIZE,
    ) -> None:
        if max_events < 1:
            raise ValueError(f"max_events must be at least 1, not {max_events}")
        self.max_events = max_events
        self.window = window
        self.size = size
        self._groups: OrderedDict[tuple[ObjectKey, str, str], _Group] = OrderedDict()

    def aggregate(self, group_key: tuple[ObjectKey, str, str], message: str, now: float) -> bool:
        """Note `message` in its group at monotonic time `now`; True when the
        event is to be written as the group's combined event."""
        groups = self._groups
        group = groups.pop(group_key, None)
        if group is None or now - group.last_seen > self.window:
            group = _Group()
        group.messages[message] = None
        group.last_seen = now
        groups[group_key] = group
        if len(groups) > self.size:
            groups.popitem(last=False)
        if len(group.messages) < self.max_events:
            return False
        # Keep the set at most max_events - 1 large (client-go pops one).
        del group.messages[next(iter(group.messages))]
        return True


class SpamFilter:
    """client-go's EventSourceObjectSpamFilter: a token bucket per object."""

    def __init__(
        self,
        *,
        burst: int = SPAM_BURST,
        refill_seconds: float = SPAM_REFILL_SECONDS,
        size: int = LRU_SIZE,
    ) -> None:
        self.burst = float(burst)
        self.refill_seconds = refill_seconds
        self.size = size
        # Per object: (tokens, clock reading when counted).
        self._buckets: OrderedDict[ObjectKey, tuple[float, float]] = OrderedDict()

    def allow(self, key: ObjectKey, now: float) -> bool:
        buckets = self._buckets
        tokens, since = buckets.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - since) / self.refill_seconds)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        buckets[key] = (tokens, now)
        if len(buckets) > self.size:
            buckets.popitem(last=False)
        return allowed
