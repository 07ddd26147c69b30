"""Past states of the store, so reads can be served as they were N revisions
or T seconds ago (stale-state faults).

`StoreHistory` is a store observer that keeps, per object, every version it
had (or its removal) by revision, plus a (time, revision) checkpoint per
distinct virtual instant. `revision_lagging(revisions=, seconds=)` turns a lag
into the revision a lagging apiserver would serve; `get`/`list` answer as of
that revision, with the same label and field selector semantics as the store.

Memory grows with the number of writes: it is meant for fuzzing-sized
clusters, and is only attached when stale-read faults are enabled.

Neighbours: `runtime.simulation.chaos` (serves stale reads from it),
`engine.store` (what it mirrors).
"""

from __future__ import annotations

import bisect
from typing import Any

from engine.api.base import Resource
from engine.clock import Clock
from engine.fieldselectors import parse_field_selector
from engine.selectors import Selector, from_label_selector, parse_selector
from engine.store import Store, WriteRecord

__all__ = ["StoreHistory"]

_Versions = tuple[list[int], list[Resource | None]]


class StoreHistory:
    """Every version of every object, by revision (see the module docstring)."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._kinds: dict[type[Resource], dict[tuple[str, str], _Versions]] = {}
        self._times: list[float] = []
        self._revisions: list[int] = []
        self.revision = 0
        self.oldest = 0
        """The oldest revision it can answer as of: where it was seeded (before
        that, objects changed since are known only in their seeded version)."""

    def seed(self, store: Store) -> None:
        """Start from what `store` holds now."""
        for info in store.kinds():
            for obj in store.objects(info.model):
                self._add(type(obj), obj.key, int(obj.metadata.resource_version), obj)
        self.revision = self.oldest = store.revision
        self._checkpoint(store.revision)

    def __call__(self, record: WriteRecord) -> None:
        obj = record.object
        self._add(type(obj), obj.key, record.revision, None if record.removed else obj)
        self.revision = record.revision
        self._checkpoint(record.revision)

    def _add(
        self, kind: type[Resource], key: tuple[str, str], revision: int, obj: Resource | None
    ) -> None:
        versions = self._kinds.setdefault(kind, {}).get(key)
        if versions is None:
            versions = ([], [])
            self._kinds[kind][key] = versions
        versions[0].append(revision)
        versions[1].append(obj)

    def _checkpoint(self, revision: int) -> None:
        now = self.clock.monotonic()
        if self._times and self._times[-1] == now:
            self._revisions[-1] = revision
        else:
            self._times.append(now)
            self._revisions.append(revision)

    # -- lag -> revision ------------------------------------------------------------

    def revision_at_time(self, t: float) -> int:
        """The last revision written at or before virtual time `t` (`oldest`
        for a time before the history began)."""
        index = bisect.bisect_right(self._times, t) - 1
        return self._revisions[index] if index >= 0 else self.oldest

    def revision_lagging(self, *, revisions: int = 0, seconds: float = 0.0) -> int:
        """The revision a reader lagging by `revisions` and by `seconds` sees
        (the older of the two), never older than `oldest`: an apiserver lagging
        further back than the cluster's start serves what it started with, not
        an empty store (no namespaces, no nodes)."""
        by_count = self.revision - max(0, revisions)
        if seconds > 0:
            by_count = min(by_count, self.revision_at_time(self.clock.monotonic() - seconds))
        return max(self.oldest, by_count)

    # -- reads as of a revision ----------------------------------------------------------

    def get(
        self, kind: type[Resource], namespace: str, name: str, revision: int
    ) -> Resource | None:
        versions = self._kinds.get(kind, {}).get((namespace, name))
        return None if versions is None else _at(versions, revision)

    def list(
        self,
        kind: type[Resource],
        revision: int,
        *,
        namespace: str | None = None,
        label_selector: Any = None,
        field_selector: Any = None,
    ) -> list[Resource]:
        """Objects of `kind` as they were at `revision`, sorted by (namespace, name)."""
        labels = _label_selector(label_selector)
        fields = (
            parse_field_selector(field_selector, kind.kind_name)
            if isinstance(field_selector, str) and field_selector.strip()
            else (field_selector if not isinstance(field_selector, str) else None)
        )
        out = []
        for key, versions in sorted(self._kinds.get(kind, {}).items()):
            if namespace is not None and key[0] != namespace:
                continue
            obj = _at(versions, revision)
            if obj is None:
                continue
            if labels is not None and not labels.matches(obj.metadata.labels):
                continue
            if fields is not None and not fields.matches(obj):
                continue
            out.append(obj)
        return out


def _at(versions: _Versions, revision: int) -> Resource | None:
    index = bisect.bisect_right(versions[0], revision) - 1
    return versions[1][index] if index >= 0 else None


def _label_selector(value: Any) -> Selector | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_selector(value) if value.strip() else None
    if isinstance(value, Selector):
        return value
    return from_label_selector(value)
