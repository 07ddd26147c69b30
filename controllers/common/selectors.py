"""Compiled label selectors per owner: a controller syncs an owner many times
with one (immutable, shared) `spec.selector`, so it is compiled once and the
same `Selector` object is handed out while that spec object is unchanged
(memos keyed by the selector's identity, such as per-pod match results,
stay valid for as long).

Neighbours: `engine.selectors` (compilation); the job, statefulset and
daemonset controllers.
"""

from __future__ import annotations

from engine.api import LabelSelector
from engine.selectors import Selector, from_label_selector

__all__ = ["SelectorCache"]


class SelectorCache:
    """`Selector`s by owner uid."""

    def __init__(self) -> None:
        self._by_uid: dict[str, tuple[LabelSelector | None, Selector]] = {}

    def of(self, uid: str, given: LabelSelector | None) -> Selector:
        """The compiled `given`, one object while `given` is the same object."""
        cached = self._by_uid.get(uid)
        if cached is None or cached[0] is not given:
            cached = (given, from_label_selector(given))
            self._by_uid[uid] = cached
        return cached[1]

    def forget(self, uid: str) -> None:
        self._by_uid.pop(uid, None)

    def keep_only(self, uids: set[str]) -> None:
        """Forget every owner not in `uids`."""
        for uid in [u for u in self._by_uid if u not in uids]:
            del self._by_uid[uid]
