"""The trace of a simulation: every committed store write, in order.

A `Trace` is a store observer. Each write becomes one line,
`<revision> <verb> <kind> <namespace>/<name>`, and the lines are hashed as
they come (SHA-256), so `hexdigest()` fingerprints a whole run. Two runs with
the same seed and inputs must give the same digest, in the same process or in
another one: nothing in a line depends on hash seeds, object ids or wall time.

Objects that existed before the trace was attached (the initial namespaces,
nodes registered while the cluster started) are recorded by `seed(store)` as
`<revision> existing <kind> <namespace>/<name>` lines, in revision order.

Lines are kept (`lines`) unless `keep_lines=False`, which large runs use;
`first_difference(a, b)` says where two kept traces part.

Neighbours: `engine.store` (WriteRecord), `runtime.simulation.simulation`
(attaches it), `runtime.simulation.replay` (compares digests).
"""

from __future__ import annotations

import hashlib

from engine.store import Store, WriteRecord

__all__ = ["Trace", "first_difference"]


class Trace:
    """Store observer hashing (and by default keeping) one line per write."""

    def __init__(self, *, keep_lines: bool = True) -> None:
        self._hash = hashlib.sha256()
        self.keep_lines = keep_lines
        self.lines: list[str] = []
        self.writes = 0
        self.last_revision = 0

    def seed(self, store: Store) -> None:
        """Record the objects already in `store`, oldest first."""
        existing = [
            (
                int(obj.metadata.resource_version),
                info.kind,
                obj.metadata.namespace,
                obj.metadata.name,
            )
            for info in store.kinds()
            for obj in store.objects(info.model)
        ]
        for revision, kind, namespace, name in sorted(existing):
            self._add(f"{revision} existing {kind} {namespace}/{name}")
        self.last_revision = store.revision

    def __call__(self, record: WriteRecord) -> None:
        self.writes += 1
        self.last_revision = record.revision
        self._add(f"{record.revision} {record.verb} {record.kind} {record.namespace}/{record.name}")

    def _add(self, line: str) -> None:
        self._hash.update(line.encode())
        self._hash.update(b"\n")
        if self.keep_lines:
            self.lines.append(line)

    def hexdigest(self) -> str:
        """SHA-256 of every line so far (the run's fingerprint)."""
        return self._hash.hexdigest()


def first_difference(a: list[str], b: list[str]) -> str | None:
    """Where two traces first differ, as a short message; None if equal."""
    for index, (left, right) in enumerate(zip(a, b)):
        if left != right:
            return f"line {index}: {left!r} != {right!r}"
    if len(a) != len(b):
        shorter = min(len(a), len(b))
        return f"one trace ends at line {shorter} ({len(a)} vs {len(b)} lines)"
    return None
