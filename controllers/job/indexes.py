"""Completion indexes of an Indexed Job: the interval strings of
`status.completedIndexes` / `status.failedIndexes` (`"1,3-5,7"`), and the
index a pod carries.

A pod's index is its `batch.kubernetes.io/job-completion-index` annotation
(the label carries the same value); a pod without one, or with a value that
is not an integer in `[0, completions)`, has no valid index and never counts
towards a completion, as in Kubernetes.

Neighbours: `controllers.job.controller` and `controllers.job.status` use these.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from engine.api import Pod

__all__ = [
    "COMPLETION_INDEX_ANNOTATION",
    "format_indexes",
    "parse_indexes",
    "pod_index",
]

COMPLETION_INDEX_ANNOTATION: Final = "batch.kubernetes.io/job-completion-index"


def parse_indexes(text: str | None, limit: int | None = None) -> set[int]:
    """The indexes an interval string lists (those below `limit`, if given).
    Malformed parts are skipped: the string is written by the controller."""
    found: set[int] = set()
    if not text:
        return found
    for part in text.split(","):
        first, _, last = part.strip().partition("-")
        try:
            low = int(first)
            high = int(last) if last else low
        except ValueError:
            continue
        if limit is not None:
            high = min(high, limit - 1)
        found.update(range(low, high + 1))
    return found


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted indexes as an interval string: {1, 3, 4, 5} -> "1,3-5"."""
    parts: list[str] = []
    start = previous = None
    for index in sorted(set(indexes)):
        if previous is not None and index == previous + 1:
            previous = index
            continue
        if start is not None:
            parts.append(str(start) if start == previous else f"{start}-{previous}")
        start = previous = index
    if start is not None:
        parts.append(str(start) if start == previous else f"{start}-{previous}")
    return ",".join(parts)


def pod_index(pod: Pod, completions: int | None) -> int | None:
    """The pod's completion index, or None when it has no valid one."""
    value = pod.metadata.annotations.get(COMPLETION_INDEX_ANNOTATION)
    if value is None or not value.isdigit():
        return None
    index = int(value)
    if completions is not None and index >= completions:
        return None
    return index
