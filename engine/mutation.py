"""Mutation detector: proves that nobody changes a shared object in place.

Objects handed out by the store, the watch bus and informer caches are shared
by every reader. Models are frozen, so attribute assignment already fails; the
detector catches what freezing cannot: changes inside the dicts and lists of an
object (`pod.metadata.labels["x"] = "y"`). When enabled, the store records a
deep snapshot of each object it hands out, and `check()` compares every
recorded object with its snapshot.

client-go has the same tool (KUBE_CACHE_MUTATION_DETECTOR). It is meant for
tests: it costs a full serialisation per write. Enable it with `enable()` or
the environment variable `KUBELOOP_MUTATION_DETECTOR=1`.

Neighbours: `engine.store` records into it; the test suite's conftest turns it
on for every test and checks after each one.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel

__all__ = ["MutationDetected", "MutationDetector", "detector"]


class MutationDetected(AssertionError):
    """A shared object changed after it was handed out."""


class MutationDetector:
    """Keeps (object, snapshot) pairs and compares them on `check()`."""

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self._seen: dict[int, tuple[BaseModel, Any]] = {}

    def record(self, obj: BaseModel) -> None:
        """Remember `obj` as it is now; later changes to it are reported."""
        if self.enabled and id(obj) not in self._seen:
            self._seen[id(obj)] = (obj, _snapshot(obj))

    def check(self) -> None:
        """Raise MutationDetected naming every recorded object that changed."""
        changed = []
        for obj, snapshot in self._seen.values():
            if _snapshot(obj) != snapshot:
                changed.append(obj)
        if changed:
            names = ", ".join(_describe(o) for o in changed[:10])
            raise MutationDetected(
                f"{len(changed)} shared object(s) were changed in place: {names}. "
                "Copy the parts you change with model_copy(update=...) instead."
            )

    def reset(self) -> None:
        self._seen.clear()

    def __len__(self) -> int:
        return len(self._seen)


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
