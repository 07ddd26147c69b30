"""Storage backends under the store: the `Storage` protocol and its implementations.

`engine.storage.protocol` states the contract (versioned keyspaces, revisions,
transactional writes, watch from a revision, compaction as Gone) and how an
etcd v3 backend maps onto it; `engine.storage.memory` is the in-memory
implementation every `Store` uses by default. `engine.durable` journals a
store's writes to SQLite beside it.
"""

from engine.storage.memory import MemoryKeyspace, MemoryStorage
from engine.storage.protocol import (
    Change,
    Key,
    Keyspace,
    SharedStorage,
    Storage,
    Unwatch,
    stamped,
)

__all__ = [
    "Change",
    "Key",
    "Keyspace",
    "MemoryKeyspace",
    "MemoryStorage",
    "SharedStorage",
    "Storage",
    "Unwatch",
    "stamped",
]
