"""Mutation detector: proves that nobody changes a shared object in place.

Objects handed out by the store, the watch bus and informer caches are shared
by every reader. Models are frozen, so attribute assignment already fails; the
detector catches what freezing cannot: changes inside the dicts and lists of an
object (`pod.metadata.labels["x"] = "y"`). When enabled, the store records a
deep snapshot of each object it writes (and so hands out).

It reports a mutation as client-go's cache mutation detector
(KUBE_CACHE_MUTATION_DETECTOR) does, without anyone asking: client-go compares
its copies every second and panics. Here the check points are the store's own
calls, so nothing runs on a timer and a virtual-time run stays deterministic:

* each store write records what it stored, then `after_write` compares the
  version the write replaced and, every `SAMPLE_EVERY` writes, the next
  current object (a round robin over the versions no write has replaced, so
  each is compared again and again while writes go on);
* `update(obj)` of the stored object itself (changed in place, so the store
  would see no change) compares it with `verify(obj)` and raises at once;
* `check()` compares every recorded object: the test suite's conftest calls it
  after each test, and `runtime.cluster.Cluster` when it exits;
* once a change is found the detector is *tripped*: it logs the error at
  once, and `raise_if_tripped()`, which the store calls on entry to every call
  (reads included) and `Cluster.wait_for` on every wake-up, raises
  `MutationDetected` naming the object, to whoever calls next, until `reset()`.

It is meant for tests: it costs two or three serialisations per write and keeps every
version it recorded. Enable it with `enable()`, `detector.enabled = True`, or
the environment variable `KUBELOOP_MUTATION_DETECTOR=1`.

Neighbours: `engine.store` records into it and raises from it; the test
suite's conftest turns it on for every test and checks after each one.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any

from pydantic import BaseModel

from engine.logging import get_logger

__all__ = ["SAMPLE_EVERY", "MutationDetected", "MutationDetector", "detector"]

SAMPLE_EVERY = 2
"""Every this many store writes, one current object is compared (besides the
version each write replaces). The round robin runs over the versions no write
has replaced yet (the ones caches hold), so each is compared again within
`SAMPLE_EVERY` times as many writes as there are objects. (A comparison costs
a serialisation; this keeps the test suite's cost of the detector small.)"""

_log = get_logger("mutation")


class MutationDetected(AssertionError):
    """A shared object changed after it was handed out."""


class MutationDetector:
    """Keeps (object, snapshot) pairs; see the module docstring for when it compares."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self.failure: MutationDetected | None = None
        self._seen: dict[int, tuple[BaseModel, Any]] = {}
        self._order: list[int] = []  # ids in recording order, for `check()`
        self._ring: deque[int] = deque()  # the round robin; replaced ids drop out
        self._replaced: set[int] = set()
        self._writes = 0

    def enable(self) -> None:
        self.enabled = True

    def record(self, obj: BaseModel) -> None:
        """Remember `obj` as it is now; later changes to it are reported."""
        if self.enabled and id(obj) not in self._seen:
            self._seen[id(obj)] = (obj, _snapshot(obj))
            self._order.append(id(obj))
            self._ring.append(id(obj))

    def after_write(self, previous: BaseModel | None) -> None:
        """Compare what a write replaced, plus a sample of the recorded objects.
        Never raises (the write has happened): a change trips the detector."""
        if not self.enabled:
            return
        suspects = []
        if previous is not None:
            suspects.append(id(previous))
            self._replaced.add(id(previous))
        self._writes += 1
        ring = self._ring
        while ring and self._writes % SAMPLE_EVERY == 0:
            key = ring.popleft()
            if key in self._replaced:
                continue  # `check()` still compares it; the round robin lets it go
            suspects.append(key)
            ring.append(key)
            break
        changed = self._changed(suspects)
        if changed:
            self._trip(changed)

    def verify(self, obj: BaseModel) -> None:
        """Compare one recorded object now; raise MutationDetected if it changed."""
        self._compare([id(obj)])

    def check(self) -> None:
        """Compare every recorded object; raise MutationDetected naming those that changed."""
        self._compare(self._order)

    def raise_if_tripped(self) -> None:
        """Raise the mutation found earlier, if any (every later call too)."""
        if self.failure is not None:
            raise MutationDetected(*self.failure.args)

    def reset(self) -> None:
        """Forget every recorded object, and a mutation found."""
        self._seen.clear()
        self._order.clear()
        self._ring.clear()
        self._replaced.clear()
        self.failure = None

    def __len__(self) -> int:
        return len(self._seen)

    def _compare(self, ids: list[int]) -> None:
        self.raise_if_tripped()
        changed = self._changed(ids)
        if changed:
            self._trip(changed)
            self.raise_if_tripped()

    def _changed(self, ids: list[int]) -> list[BaseModel]:
        changed = []
        for key in ids:
            entry = self._seen.get(key)
            if entry is not None and _snapshot(entry[0]) != entry[1]:
                changed.append(entry[0])
        return changed

    def _trip(self, changed: list[BaseModel]) -> None:
        if self.failure is not None:
            return
        names = ", ".join(_describe(o) for o in changed[:10])
        self.failure = MutationDetected(
            f"{len(changed)} shared object(s) were changed in place: {names}. "
            "Objects from the store, watches and informer caches are shared: "
            "copy the parts you change with model_copy(update=...) instead."
        )
        _log.error("mutation detected", error=str(self.failure))


def _snapshot(obj: BaseModel) -> Any:
    return obj.model_dump(mode="python", round_trip=True)


def _describe(obj: BaseModel) -> str:
    meta = getattr(obj, "metadata", None)
    name = getattr(meta, "name", "?")
    namespace = getattr(meta, "namespace", "")
    kind = getattr(obj, "kind", type(obj).__name__)
    return f"{kind} {namespace + '/' if namespace else ''}{name}"


detector = MutationDetector(enabled=os.environ.get("KUBELOOP_MUTATION_DETECTOR", "") == "1")
"""The process-wide detector the store records into."""
