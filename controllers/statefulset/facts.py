"""What a StatefulSet sync asks about each of its pods, computed once per pod
version: a set's every sync looks at all its pods, and an OrderedReady set of
N pods syncs a few times per pod, so recomputing these would cost O(N^2)
pod inspections over a scale-up.

`PodFactsCache.of(set_name, pod)` returns the `PodFacts` of a pod object;
objects are immutable, so facts are keyed by the object's identity (a new
version of the pod is a new object) and the cache forgets everything when it
grows past a bound.

Neighbours: `controllers.statefulset.control` and `.status` read the facts;
`controllers.statefulset.identity` parses ordinals.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final, NamedTuple

from controllers.common.pods import ready_condition
from controllers.statefulset.identity import REVISION_LABEL, ordinal_of
from engine.api import Pod
from engine.selectors import Selector

__all__ = ["PodFacts", "PodFactsCache"]

_MAX_ENTRIES: Final = 20_000


class PodFacts(NamedTuple):
    ordinal: int
    running_ready: bool  # phase Running and the Ready condition True
    ready_since: datetime | None  # when it became Ready (for availability)
    revision: str | None
    terminating: bool
    terminal: bool  # Succeeded or Failed
    matches: bool  # the set's selector matches its labels

    def available(self, min_ready_seconds: int | None, now: datetime) -> bool:
        """Running, Ready, and Ready for more than `min_ready_seconds`."""
        if not self.running_ready:
            return False
        if not min_ready_seconds:
            return True
        since = self.ready_since
        return since is not None and since + timedelta(seconds=min_ready_seconds) < now

    def seconds_until_available(self, min_ready_seconds: int | None, now: datetime) -> float | None:
        if not self.running_ready or not min_ready_seconds or self.ready_since is None:
            return None
        left = (self.ready_since + timedelta(seconds=min_ready_seconds) - now).total_seconds()
        return left if left >= 0 else None


class PodFactsCache:
    """Facts per pod object (see the module docstring)."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[Pod, str, Selector, PodFacts]] = {}

    def of(self, set_name: str, selector: Selector, pod: Pod) -> PodFacts:
        """The facts of `pod` as a pod of the set `set_name` with `selector`
        (a selector object: the same one while the set's selector is unchanged)."""
        hit = self._memo.get(id(pod))
        if hit is not None and hit[0] is pod and hit[1] == set_name and hit[2] is selector:
            return hit[3]
        condition = ready_condition(pod)
        ready = condition is not None and condition.status == "True"
        phase = pod.status.phase
        facts = PodFacts(
            ordinal=ordinal_of(set_name, pod),
            running_ready=ready and phase == "Running",
            ready_since=condition.last_transition_time if ready and condition else None,
            revision=pod.metadata.labels.get(REVISION_LABEL),
            terminating=pod.metadata.deletion_timestamp is not None,
            terminal=phase in ("Succeeded", "Failed"),
            matches=selector.matches(pod.metadata.labels),
        )
        if len(self._memo) >= _MAX_ENTRIES:
            self._memo.clear()
        # The pod is held in the entry, so its id is not reused while cached.
        self._memo[id(pod)] = (pod, set_name, selector, facts)
        return facts
