"""Durable local state: the store's objects in a SQLite file, kept write by write.

`SqliteJournal(path)` keeps, in one SQLite database (stdlib `sqlite3`, WAL
mode, the choice k3s made with Kine), every object of a store and the
store's revision. `journal.attach(store)` makes it a write observer.

Group commit: a write made inside a running event loop joins the open
transaction, which commits at the start of the loop's next iteration, after
`max_batch` writes, or when `flush()` is called, whichever comes first (one
commit costs about as much as a hundred writes). A write is acknowledged
when something outside the process learns of it, so whatever tells the
outside (an HTTP response, a line printed for another process) calls
`flush()` first: no acknowledged write is ever lost, and a write is never
half-written (SQLite's transactions are atomic, and a write's object and
the revision commit together). Writes made outside an event loop, and all
writes with `group_commit=False`, commit one by one before the store
returns. `journal.restore(store)` fills a fresh store from the
database: the same objects with the same uids and resourceVersions, the
revision counter where it was, CustomResourceDefinitions served again before
their objects load. A watch from the restored revision works; a watch from an
older one is answered 410 Gone (the history window before the restart is not
kept, as kube-apiserver's watch cache starts at etcd's current revision).

Durability policy (`fsync`):

* `"normal"` (default): WAL with `synchronous=NORMAL`. A write acknowledged
  to a client survives the process being killed at any moment (`kill -9`,
  an exception, out of memory): it is in the operating system's cache. A
  power loss or kernel crash may lose the last writes before a checkpoint.
* `"always"`: `synchronous=FULL`, an fsync per write; survives power loss
  too, at the cost of the disk's fsync latency per write.

Objects are stored as their JSON without unset fields (`model_dump_json(
exclude_none=True)`: about half the full size, and the cheapest to write and
read of pydantic's choices, measured) by `apiVersion`, kind,
namespace and name; reading one back validates it with its kind's model, so
a database written by another version of kubeloop that no longer validates
fails loudly, naming the object. Writing goes through one connection owned
by the thread that attached the journal (the store is single-threaded).

`snapshot(path)` writes a consistent copy of the database (SQLite's online
backup), which `kubeloop snapshot restore` puts in place of a data
directory's database, as `etcdctl snapshot save|restore` do.

Where it sits: the store keeps its state in a `Storage` (`engine.storage`,
in memory by default); the journal writes every committed change through
beside it, as a write observer, and a restart loads the journal back into
the storage with `Storage.restore` (through `Store.restore`). Reads never
touch SQLite, which keeps them at memory speed; a SQLite or etcd backend that
serves reads itself would implement `engine.storage.Storage` instead.

Neighbours: `engine.store` (`Store.observers`, `Store.restore`), `engine.storage`,
`runtime.cluster` (`ClusterConfig.data_dir`), `runtime.cli_snapshot`.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from engine.api.base import Resource
from engine.errors import ApiError

if TYPE_CHECKING:
    from engine.store import Store, WriteRecord

__all__ = ["DATABASE_NAME", "DurableStateError", "SqliteJournal", "restore_snapshot"]

DATABASE_NAME = "kubeloop.db"
"""The database file's name in a data directory."""

FsyncPolicy = Literal["normal", "always"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    api_version TEXT NOT NULL,
    kind TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    revision INTEGER NOT NULL,
    crd INTEGER NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (api_version, kind, namespace, name)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- An object written and the revision it was written at commit together, in
-- one statement (one implicit transaction) per write.
CREATE TRIGGER IF NOT EXISTS objects_revision AFTER INSERT ON objects BEGIN
    INSERT OR REPLACE INTO meta VALUES ('revision', NEW.revision);
END;
"""


class DurableStateError(Exception):
    """The database cannot be used: unreadable, or an object in it does not load."""


def _is_crd(obj: Resource) -> bool:
    return obj.kind == "CustomResourceDefinition" and obj.api_version.startswith(
        "apiextensions.k8s.io/"
    )


class SqliteJournal:
    """A store's objects and revision in a SQLite database (see the module docstring)."""

    def __init__(
        self,
        path: Path | str,
        *,
        fsync: FsyncPolicy = "normal",
        group_commit: bool = True,
        max_batch: int = 1000,
    ) -> None:
        if fsync not in ("normal", "always"):
            raise ValueError(f"fsync policy must be 'normal' or 'always', got {fsync!r}")
        self.path = Path(path)
        self.fsync = fsync
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Autocommit mode: each write below opens and commits its own transaction.
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if fsync == 'always' else 'NORMAL'}")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as error:
            raise DurableStateError(
                f"{self.path}: cannot open the state database: {error}"
            ) from None
        self._store: Store | None = None
        self.group_commit = group_commit
        self.max_batch = max_batch
        self._open = False  # a group's transaction is open
        self._pending = 0
        self._flush_scheduled = False

    # -- reading -------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """The revision of the last write journalled (0 for a new database)."""
        row = self._db.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
        return int(row[0]) if row else 0

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM objects").fetchone()[0])

    def _rows(self) -> Iterator[tuple[str, str, str, str, str]]:
        # CustomResourceDefinitions first: they make their kinds servable.
        yield from self._db.execute(
            "SELECT api_version, kind, namespace, name, body FROM objects "
            "ORDER BY crd DESC, revision"
        )

    def restore(self, store: Store) -> int:
        """Fill `store` (fresh, or holding only what a store makes at start) with
        the journalled objects; returns how many were loaded."""
        # The cyclic collector would rescan every object loaded so far, again
        # and again as the load allocates: without it a load is several times faster.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._load(store)
        finally:
            if collecting:
                gc.enable()

    def _load(self, store: Store) -> int:
        objects: list[Resource] = []
        for api_version, kind, namespace, name, body in self._rows():
            where = f"{api_version} {kind} {namespace + '/' if namespace else ''}{name}"
            try:
                model = store.registry.lookup(api_version, kind).model
                obj = model.model_validate_json(body)
            except (ApiError, ValueError) as error:
                raise DurableStateError(
                    f"{self.path}: stored object {where} does not load: {error}"
                ) from None
            if _is_crd(obj):
                store.serve_definition(obj)
            objects.append(obj)
        store.restore(objects, self.revision)
        return len(objects)

    # -- writing -------------------------------------------------------------------------

    def attach(self, store: Store) -> None:
        """Journal every later write of `store` (after `restore`, if any)."""
        if self._store is not None:
            raise RuntimeError("the journal is already attached to a store")
        self._store = store
        if store.revision and not self.revision:
            # What the store made before it was attached (its initial namespaces).
            self._write_all(store)
        store.observers.append(self.record)

    def _write_all(self, store: Store) -> None:
        with self._transaction():
            for obj in store.all_objects():
                self._upsert(obj, int(obj.metadata.resource_version or 0))
            self._set_revision(store.revision)

    def record(self, write: WriteRecord) -> None:
        """Journal one committed write (a store observer)."""
        obj = write.object
        batching = self._batching()
        if batching and not self._open:
            self._db.execute("BEGIN")
            self._open = True
        if write.removed:
            self._db.execute(
                "DELETE FROM objects WHERE api_version = ? AND kind = ? "
                "AND namespace = ? AND name = ?",
                (obj.api_version, obj.kind, obj.metadata.namespace or "", obj.metadata.name),
            )
            self._set_revision(write.revision)
        else:
            self._upsert(obj, write.revision)  # with its revision, by the trigger
        if not batching:
            return
        self._pending += 1
        if self._pending >= self.max_batch:
            self.flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._scheduled_flush)

    def _batching(self) -> bool:
        if not self.group_commit:
            return False
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # called outside an event loop: nothing would flush later
            return self._open
        return True

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self.flush()

    def flush(self) -> None:
        """Commit the writes of the open group, if any: after this returns, every
        write the store has made is durable. Call it before telling anyone
        outside the process that a write happened (an HTTP response)."""
        if self._open:
            self._open = False
            self._pending = 0
            self._db.execute("COMMIT")

    def _upsert(self, obj: Resource, revision: int) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                obj.api_version,
                obj.kind,
                obj.metadata.namespace or "",
                obj.metadata.name,
                revision,
                int(_is_crd(obj)),
                obj.model_dump_json(by_alias=True, exclude_none=True),
            ),
        )

    def _set_revision(self, revision: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('revision', ?)", (revision,))

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    # -- copies --------------------------------------------------------------------------

    def snapshot(self, path: Path | str) -> None:
        """A consistent copy of the database at `path` (SQLite's online backup)."""
        self.flush()
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)
        copy = sqlite3.connect(partial)
        try:
            self._db.backup(copy)
        finally:
            copy.close()
        os.replace(partial, target)

    def close(self) -> None:
        self.flush()
        if self._store is not None:
            with contextlib.suppress(ValueError):  # detached by the store's owner already
                self._store.observers.remove(self.record)
            self._store = None
        self._db.close()


def restore_snapshot(snapshot: Path | str, data_dir: Path | str) -> int:
    """Put a snapshot in place of `data_dir`'s database; returns its revision.
    Refuses a file that is not a kubeloop snapshot."""
    source = Path(snapshot)
    if not source.is_file():
        raise DurableStateError(f"{source}: no such snapshot file")
    try:
        check = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
        try:
            row = check.execute("SELECT value FROM meta WHERE key = 'revision'").fetchone()
            check.execute("SELECT COUNT(*) FROM objects").fetchone()
        finally:
            check.close()
    except sqlite3.Error as error:
        raise DurableStateError(f"{source}: not a kubeloop snapshot: {error}") from None
    target = Path(data_dir) / DATABASE_NAME
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in (target.with_name(target.name + "-wal"), target.with_name(target.name + "-shm")):
        stale.unlink(missing_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(source.read_bytes())
    os.replace(partial, target)
    return int(row[0]) if row else 0


class _Transaction:
    """BEGIN ... COMMIT around one write; ROLLBACK if it fails half-way."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN")

    def __exit__(self, kind: object, error: object, tb: object) -> None:
        self._db.execute("ROLLBACK" if error is not None else "COMMIT")
