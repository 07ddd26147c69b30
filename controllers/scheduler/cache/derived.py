"""Per-node values derived from the node table's resource columns (a pod
shape's fit mask, its resource scores), cached per key and refreshed only on
the slots whose resources changed since the last use.

Pods made from one template ask the same questions ("does 100m/500Mi fit?",
"what is each node's LeastAllocated score for it?"); between two such pods
only the node that took the first one changed. So the first pod computes the
column over all nodes with vector operations, and each later pod recomputes
the one or two changed slots with a scalar function. Results are identical to
a full recomputation: the scalar and vector functions implement one formula.

Neighbours: `cache.snapshot.NodeTable.changed_since` (the change log),
`plugins.node_resources_fit` and `plugins.balanced_allocation` (users).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cache.snapshot import NodeTable

__all__ = ["DerivedColumns"]

_SCALAR_LIMIT: Final = 64


@dataclass(slots=True)
class _Entry:
    version: int
    size: int
    values: npt.NDArray[Any]


class DerivedColumns:
    """Cached columns over slots [0, size), keyed by the caller."""

    def __init__(self, table: NodeTable, *, limit: int = 64) -> None:
        self.table = table
        self.limit = limit
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.full = 0
        self.partial = 0

    def get(
        self,
        key: Hashable,
        vector: Callable[[Any], npt.NDArray[Any]],
        scalar: Callable[[Any, int], Any],
        arg: Any,
    ) -> npt.NDArray[Any]:
        """The column for `key`: `vector(arg)` computes all of [0, size),
        `scalar(arg, slot)` one slot. The returned array is shared: read it,
        do not change it."""
        table = self.table
        entry = self._entries.get(key)
        if entry is not None and entry.size == table.size:
            version = table.resource_version
            if entry.version == version:
                return entry.values
            changed = table.changed_since(entry.version)
            if changed is not None and len(changed) <= _SCALAR_LIMIT:
                values = entry.values
                if len(changed) == 1:
                    slot = changed[0]
                    values[slot] = scalar(arg, slot)
                else:
                    for slot in set(changed):
                        values[slot] = scalar(arg, slot)
                entry.version = version
                self.partial += 1
                return values
        self.full += 1
        values = np.array(vector(arg), copy=True)
        self._entries[key] = _Entry(table.resource_version, table.size, values)
        if len(self._entries) > self.limit:
            self._entries.popitem(last=False)
        return values
