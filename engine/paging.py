"""Paged lists: the `ObjectList` a list returns, and continue tokens.

A list with `limit` returns the first `limit` items and a continue token; the
next call with that token returns the next page, and every page shows the
store as it was at the revision of the first one (the apiserver's consistent
continuation). kube-apiserver encodes the revision and the last key in the
token and reads the rest from etcd at that revision; here the remaining items
of the first read are kept beside the token instead (`ContinueTokens`), which
costs no re-read. At most `capacity` lists can be paged at once: a token
whose remainder was dropped, or already used, is Gone (410), and the client
restarts its list, as after an etcd compaction.

Neighbours: `engine.store` (`Store.list` saves and resumes pages),
`engine.client` (returns `ObjectList`), `engine.options` (`ListOptions`).
"""

from __future__ import annotations

import base64
import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from engine.api.base import Resource
from engine.errors import BadRequest, Gone

__all__ = ["ContinueTokens", "ObjectList"]

R = TypeVar("R", bound=Resource)


@dataclass(frozen=True, slots=True)
class ObjectList(Generic[R]):
    """A list response: the items, the revision they were read at, and the
    continue token for the next page (None on the last page)."""

    items: list[R]
    resource_version: int
    continue_: str | None = None


class ContinueTokens:
    """The remainders of paged lists, by continue token (see the module docstring)."""

    def __init__(self, capacity: int = 64) -> None:
        self.capacity = capacity
        self._snapshots: OrderedDict[int, tuple[int, list[Resource]]] = OrderedDict()
        self._snapshot_ids = 0

    def clear(self) -> None:
        """Forget every remainder (the store was restored: old pages are Gone)."""
        self._snapshots.clear()

    def save(self, revision: int, rest: list[Resource]) -> str:
        """Keep `rest` (read at `revision`) and return the token that resumes it."""
        self._snapshot_ids += 1
        self._snapshots[self._snapshot_ids] = (revision, rest)
        while len(self._snapshots) > self.capacity:
            self._snapshots.popitem(last=False)
        raw = json.dumps({"rv": revision, "id": self._snapshot_ids}).encode()
        return base64.urlsafe_b64encode(raw).decode()

    def resume(self, token: str) -> tuple[int, list[Resource]]:
        """The revision and the remaining items of a token; BadRequest for a
        token that is not one, Gone for one expired or used."""
        try:
            data = json.loads(base64.urlsafe_b64decode(token.encode()))
            snapshot_id = int(data["id"])
        except (ValueError, KeyError, TypeError):
            raise BadRequest(f"invalid continue token {token!r}") from None
        snapshot = self._snapshots.pop(snapshot_id, None)
        if snapshot is None:
            raise Gone("the provided continue parameter is too old; restart the list")
        return snapshot
