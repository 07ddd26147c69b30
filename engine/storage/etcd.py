"""etcd v3 as the `Storage` under the store: kube-apiserver's layout and revisions.

`EtcdStorage(["http://127.0.0.1:2379", ...])` keeps every object in etcd, as
kube-apiserver does, and a mirror of them in memory that serves reads and
watches (kube-apiserver's watch cache):

* Keys are `/registry/<group>/<plural>/<namespace>/<name>` (`core` for the
  core group; no namespace segment for cluster-scoped kinds); values are the
  object's JSON without its resourceVersion, which is the key's
  `mod_revision`. The storage's revision is etcd's.
* A write is one etcd transaction comparing the key's `mod_revision` with
  the version the caller read (`create_revision == 0` for a create); a
  failed comparison is `Conflict` (`AlreadyExists` for a create), and nothing
  changes. The object comes back restamped with etcd's revision.
* One etcd watch on `/registry/` from the loaded revision feeds the mirror,
  in etcd's revision order, whoever wrote: so several stores (apiserver
  processes) on one etcd see each other's writes. A write returns once the
  watch has brought the mirror up to its own revision, so a reader after it
  sees it (read-your-writes) and every watcher sees changes in revision
  order; a write whose revision directly follows the mirror's is applied at
  once, as nothing can come between. Reads take what the watch has brought in
  so far.
* The mirror keeps `history_size` changes per kind, as the memory storage
  does; older revisions are Gone. An etcd compaction past the mirror's
  watch position ends it with `Gone` at the next write (restart to reload).

The store's API is synchronous, so etcd's asynchronous client (`aetcd`, on
grpc) runs on a thread of its own with its own event loop; calls block the
caller until etcd answers. Several endpoints are tried in turn, backing off
for up to `RETRY_WINDOW` seconds: a member that cannot be reached, or a
leader election under way, makes the next one serve. A put whose answer was
lost may have been applied: before trying it again the key is read, and
holding exactly the value written counts as done. A delete so lost is
reported failed (`ServiceUnavailable`, as its precondition no longer holds)
and the caller re-reads, as a client of kube-apiserver must after a timeout.

Not kept in etcd: Events expire through the store's own TTL (not etcd
leases); ClusterIP and NodePort allocation is per store (two apiservers
could hand out one address twice); objects of kinds this process does not
serve are left in etcd unread.

Neighbours: `engine.storage.protocol` (the contract), `engine.storage.memory`
(the mirror), `engine.store` (the user), `runtime.cluster` (`ClusterConfig.etcd_servers`).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
import queue
import threading
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from engine.api.base import Resource
from engine.errors import AlreadyExists, ApiError, Conflict, Gone, ServiceUnavailable
from engine.logging import get_logger
from engine.registry import REGISTRY, KindInfo, Registry
from engine.storage.memory import DEFAULT_HISTORY_SIZE, MemoryKeyspace, MemoryStorage
from engine.storage.protocol import Change, Key, Unwatch, stamped

if TYPE_CHECKING:
    import aetcd

__all__ = ["EtcdStorage", "endpoint_address", "registry_key"]

log = get_logger("etcd")

T = TypeVar("T")
PREFIX = b"/registry/"
CALL_TIMEOUT = 30.0
"""Seconds one etcd call may take before the storage gives up on it."""
REQUESTS = "requests"
WATCH = "watch"
RETRY_WINDOW = 15.0
"""Seconds a call goes on trying other members (an election takes a few)."""


def registry_key(info: KindInfo, key: Key) -> bytes:
    """kube-apiserver's etcd key of an object."""
    namespace, name = key
    group = info.group or "core"
    if info.namespaced:
        return f"/registry/{group}/{info.plural}/{namespace}/{name}".encode()
    return f"/registry/{group}/{info.plural}/{name}".encode()


@dataclass(frozen=True, slots=True)
class _Event:
    """One change from etcd's watch: key, new value (None: deleted), revision."""

    key: bytes
    value: bytes | None
    previous: bytes | None
    revision: int


class _Compacted:
    """The watch's start revision was compacted in etcd."""


class _Client:
    """aetcd on its own thread and event loop, with failover across endpoints."""

    def __init__(self, endpoints: list[str]) -> None:
        if not endpoints:
            raise ValueError("etcd needs at least one endpoint URL")
        try:
            import aetcd  # noqa: F401
        except ImportError:
            raise RuntimeError(
                "etcd as the store needs the aetcd client: pip install 'kubeloop[etcd]'"
            ) from None
        self.endpoints = [endpoint_address(url) for url in endpoints]
        # Requests and the watch each have a connection of their own, so a
        # failover of one never closes a channel the other is using.
        self._current: dict[str, int] = {REQUESTS: 0, WATCH: 0}
        self._clients: dict[str, aetcd.Client] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="kubeloop-etcd", daemon=True
        )
        self._thread.start()

    def call(self, operation: Callable[[aetcd.Client], Awaitable[T]]) -> T:
        """Run `operation` with a connected client; blocks until it is done."""
        future = asyncio.run_coroutine_threadsafe(self._attempt(operation), self._loop)
        try:
            return future.result(CALL_TIMEOUT)
        except TimeoutError:
            future.cancel()
            raise ServiceUnavailable("etcd did not answer in time") from None

    async def _attempt(self, operation: Callable[[aetcd.Client], Awaitable[T]]) -> T:
        """`operation` on the current member; on a connection failure or a
        timeout (a member gone, a leader election under way), on the next
        member, backing off, until `RETRY_WINDOW` seconds have passed."""
        import aetcd

        failures: list[str] = []
        deadline = time.monotonic() + RETRY_WINDOW
        pause = 0.05
        while True:
            client = await self.connected(REQUESTS)
            try:
                return await operation(client)
            except (aetcd.ConnectionFailedError, aetcd.ConnectionTimeoutError) as error:
                failures.append(f"{self.describe()}: {error}")
                if time.monotonic() > deadline:
                    break
                await self.next_endpoint(REQUESTS)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 1.0)
        raise ServiceUnavailable(f"no etcd endpoint answers: {'; '.join(failures[-3:])}")

    async def connected(self, role: str) -> aetcd.Client:
        import aetcd

        client = self._clients.get(role)
        if client is None:
            host, port = self.endpoints[self._current[role]]
            client = self._clients[role] = aetcd.Client(
                host=host, port=port, connect_wait_timeout=2
            )
        return client

    async def next_endpoint(self, role: str) -> None:
        client = self._clients.pop(role, None)
        self._current[role] = (self._current[role] + 1) % len(self.endpoints)
        if client is not None:
            with contextlib.suppress(Exception):  # a dead member's channel may fail to close
                await client.close()

    def describe(self, role: str = REQUESTS) -> str:
        host, port = self.endpoints[self._current[role]]
        return f"{host}:{port}"

    def submit(self, coroutine: Awaitable[None]) -> None:
        asyncio.run_coroutine_threadsafe(_as_coroutine(coroutine), self._loop)

    def close(self) -> None:
        if self._loop.is_closed():
            return

        async def shutdown() -> None:
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()
            for client in self._clients.values():
                await client.close()
            self._clients.clear()

        with contextlib.suppress(Exception):  # closing must not fail the caller
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)


async def _as_coroutine(awaitable: Awaitable[None]) -> None:
    await awaitable


def endpoint_address(url: str) -> tuple[str, int]:
    """(host, port) of an etcd client URL; ValueError naming a bad one."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"etcd endpoint {url!r}: expected http://HOST:PORT (TLS is not supported)")
    return parts.hostname, parts.port or 2379


class EtcdStorage:
    """The etcd implementation of `engine.storage.Storage` (see the module docstring)."""

    def __init__(
        self,
        endpoints: list[str],
        *,
        registry: Registry = REGISTRY,
        history_size: int = DEFAULT_HISTORY_SIZE,
    ) -> None:
        self.registry = registry
        self._client = _Client(endpoints)
        self._mirror = MemoryStorage(history_size=history_size)
        self._spaces: dict[type[Resource], EtcdKeyspace] = {}
        self._events: queue.SimpleQueue[_Event | _Compacted] = queue.SimpleQueue()
        self._own: dict[int, Resource] = {}  # own writes not yet back through the watch
        self._lost: str | None = None
        self.on_remote: Callable[[Change], None] | None = None
        """Called with each change another writer (apiserver) made, once mirrored."""
        # Changes arrive on the client's thread; the loop that made this
        # storage applies them (reads and writes apply them too, in order).
        try:
            self._loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        self._pump_due = threading.Event()
        # What etcd holds of the kinds served so far, and the watch from
        # there: the store's own start (its namespaces, ...) finds them, and a
        # write returns once the watch brought it back. `load` reads again
        # once the store serves the CustomResourceDefinitions' kinds too.
        start, objects = self.read_all()
        self._mirror.restore(((registry.info(type(obj)), obj) for obj in objects), start)
        self._client.submit(self._watch(start))

    def load(self, store: Any) -> int:
        """Fill `store` (an `engine.store.Store` on this storage) with
        everything etcd holds, custom objects included; returns how many."""
        revision, objects = self.read_all(store.serve_definition)
        store.restore(objects, revision)
        return len(objects)

    @property
    def revision(self) -> int:
        self.catch_up()
        return self._mirror.revision

    @property
    def endpoints(self) -> list[str]:
        return [f"http://{host}:{port}" for host, port in self._client.endpoints]

    def keyspace(self, info: KindInfo) -> EtcdKeyspace:
        space = self._spaces.get(info.model)
        if space is None:
            space = self._spaces[info.model] = EtcdKeyspace(self, info)
        return space

    def drop(self, info: KindInfo) -> None:
        self._spaces.pop(info.model, None)
        self._mirror.drop(info)

    def compact(self, revision: int) -> None:
        self._mirror.compact(revision)
        self._client.call(lambda client: client.compact(revision))

    def restore(self, objects: Iterable[tuple[KindInfo, Resource]], revision: int) -> int:
        """Load the mirror with what `read_all` gave (etcd's state at
        `revision`); the watch goes on after it."""
        highest = self._mirror.restore(objects, revision)
        return highest

    def close(self) -> None:
        self._client.close()

    # -- reading everything at start -----------------------------------------------------

    def read_all(
        self, serve_definition: Callable[[Resource], None] | None = None
    ) -> tuple[int, builtins.list[Resource]]:
        """etcd's revision and every object under `/registry/` of a kind this
        process serves. CustomResourceDefinitions are decoded first and
        handed to `serve_definition` (`Store.serve_definition`), so the
        objects of their kinds load too. `Store.restore` the result."""

        async def everything(client: aetcd.Client) -> Any:
            return await client.get_prefix(PREFIX)

        result = self._client.call(everything)
        rows = [(kv.key, kv.value, kv.mod_revision) for kv in result]
        objects: builtins.list[Resource] = []
        definitions = b"/registry/apiextensions.k8s.io/customresourcedefinitions/"
        for key, value, revision in rows:
            if key.startswith(definitions):
                obj = self._decode(key, value, revision)
                if obj is not None:
                    if serve_definition is not None:
                        serve_definition(obj)
                    objects.append(obj)
        for key, value, revision in rows:
            if not key.startswith(definitions):
                obj = self._decode(key, value, revision)
                if obj is not None:
                    objects.append(obj)
        return int(result.header.revision), objects

    def _decode(self, key: bytes, value: bytes, revision: int) -> Resource | None:
        try:
            document = json.loads(value)
            info = self.registry.lookup(document["apiVersion"], document["kind"])
        except (ValueError, KeyError, TypeError, ApiError):
            return None  # not an object of a kind served here
        document.setdefault("metadata", {})["resourceVersion"] = str(revision)
        return info.model.model_validate(document)

    # -- the watch feeding the mirror ----------------------------------------------------

    async def _watch(self, revision: int) -> None:
        import aetcd

        position = revision
        while True:
            client = await self._client.connected(WATCH)
            try:
                watch = await client.watch_prefix(PREFIX, start_revision=position + 1, prev_kv=True)
                async for event in watch:
                    kv = event.kv
                    deleted = event.kind == aetcd.EventKind.DELETE
                    prev = event.prev_kv.value if event.prev_kv is not None else None
                    self._events.put(
                        _Event(kv.key, None if deleted else kv.value, prev, kv.mod_revision)
                    )
                    position = kv.mod_revision
                    self._wake()
            except aetcd.RevisionCompactedError:
                self._events.put(_Compacted())
                return
            except (aetcd.ConnectionFailedError, aetcd.ConnectionTimeoutError, aetcd.ClientError):
                await self._client.next_endpoint(WATCH)
                await asyncio.sleep(0.1)

    def _wake(self) -> None:
        """(On the client's thread) have the owning loop apply what arrived."""
        loop = self._loop
        if loop is None or self._pump_due.is_set() or loop.is_closed():
            return
        self._pump_due.set()
        loop.call_soon_threadsafe(self._pump)

    def _pump(self) -> None:
        self._pump_due.clear()
        try:
            self.catch_up()
        except ApiError as error:
            log.warning("etcd changes could not be applied", error=str(error))

    def catch_up(self, until: int | None = None) -> None:
        """Apply what the watch has brought; with `until`, wait until the
        mirror has reached that revision."""
        deadline = time.monotonic() + CALL_TIMEOUT
        while True:
            if self._lost is not None:
                raise Gone(self._lost)
            reached = until is None or self._mirror.revision >= until
            try:
                if reached:
                    event = self._events.get_nowait()
                else:
                    event = self._events.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                if reached:
                    return
                raise ServiceUnavailable(
                    f"etcd's watch did not bring revision {until} in time"
                ) from None
            self._apply(event)

    def _apply(self, event: _Event | _Compacted) -> None:
        if isinstance(event, _Compacted):
            self._lost = "etcd compacted the revisions this store had not yet seen; restart it"
            raise Gone(self._lost)
        own = self._own.pop(event.revision, None)
        if event.revision <= self._mirror.revision:
            return  # loaded already (`restore` read etcd after the watch started)
        if event.value is not None:
            obj = own if own is not None else self._decode(event.key, event.value, event.revision)
        else:
            obj = own
            if obj is None and event.previous is not None:
                obj = self._decode(event.key, event.previous, event.revision)
        if obj is None:
            return
        info = self.registry.info(type(obj))
        space = self._mirror.keyspace(info)
        current = space.objects.get(obj.key)
        if event.value is None:
            if current is None:
                return
            change = space.delete(
                stamped(obj, event.revision), expected=current, revision=event.revision
            )
        else:
            change = space.put(obj, expected=current, revision=event.revision)
        if own is None and self.on_remote is not None:
            self.on_remote(change)

    # -- writes --------------------------------------------------------------------------

    def write(
        self, info: KindInfo, obj: Resource, expected: Resource | None, *, delete: bool
    ) -> Change:
        """One transaction (see the module docstring); the change once mirrored."""
        key = registry_key(info, obj.key)

        value = None if delete else _encode(obj)
        attempts = 0

        async def transaction(client: aetcd.Client) -> tuple[bool, int]:
            nonlocal attempts
            attempts += 1
            if attempts > 1 and value is not None:
                # An attempt whose answer was lost may have been applied.
                found = await client.get(key)
                if found is not None and found.value == value:
                    return True, int(found.mod_revision)
            if expected is None:
                compare = [client.transactions.create(key) == 0]
            else:
                compare = [client.transactions.mod(key) == int(expected.metadata.resource_version)]
            if delete:
                success = [client.transactions.delete(key)]
            else:
                assert value is not None
                success = [client.transactions.put(key, value)]
            succeeded, responses = await client.transaction(compare, success, [])
            if not succeeded:
                return False, 0
            answer = responses[0]  # a ResponseOp: the txn's revision is in its header
            op = answer.response_delete_range if delete else answer.response_put
            return True, int(op.header.revision)

        self.catch_up()
        succeeded, revision = self._client.call(transaction)
        if not succeeded:
            space = self._mirror.keyspace(info)
            if expected is None:
                raise AlreadyExists(f'{info.plural} "{obj.key[1]}" already exists')
            raise space._conflict(obj.key)
        self._own[revision] = stamped(obj, revision)
        self.catch_up()
        if revision == self._mirror.revision + 1:
            # Nothing was written in etcd between the mirror and this write:
            # it is next in order, so it is applied now, and the watch's copy
            # of it is skipped when it comes (no round trip through the watch).
            self._apply(_Event(key, None if delete else b"", None, revision))
        else:
            self.catch_up(until=revision)
        space = self._mirror.keyspace(info)
        change = space.history[-1] if space.history else None
        if change is None or change.revision != revision:
            raise ServiceUnavailable(f"etcd write at revision {revision} did not come back")
        return change


def _encode(obj: Resource) -> bytes:
    document = obj.to_dict()
    document.get("metadata", {}).pop("resourceVersion", None)
    return json.dumps(document, separators=(",", ":")).encode()


class EtcdKeyspace:
    """One kind's keys in etcd, read from the mirror (see the module docstring)."""

    __slots__ = ("info", "storage")

    def __init__(self, storage: EtcdStorage, info: KindInfo) -> None:
        self.storage = storage
        self.info = info

    @property
    def _space(self) -> MemoryKeyspace:
        return self.storage._mirror.keyspace(self.info)

    @property
    def compacted(self) -> int:
        return self._space.compacted

    def get(self, key: Key, *, revision: int | None = None) -> Resource | None:
        self.storage.catch_up()
        return self._space.get(key, revision=revision)

    def list(self, namespace: str | None = None, *, revision: int | None = None) -> list[Resource]:
        self.storage.catch_up()
        return self._space.list(namespace, revision=revision)

    def values(self) -> Iterable[Resource]:
        self.storage.catch_up()
        return self._space.values()

    def __len__(self) -> int:
        return len(self._space)

    def put(self, obj: Resource, *, expected: Resource | None, revision: int) -> Change:
        return self.storage.write(self.info, obj, expected, delete=False)

    def delete(self, obj: Resource, *, expected: Resource | None, revision: int) -> Change:
        if expected is None:
            raise self._space._conflict(obj.key)
        return self.storage.write(self.info, obj, expected, delete=True)

    def changes(self, since: int) -> Iterable[Change]:
        self.storage.catch_up()
        return self._space.changes(since)

    def watch(self, since: int | None, sink: Callable[[Change], None]) -> Unwatch:
        self.storage.catch_up()
        return self._space.watch(since, sink)

    # Conflict construction for the store's own messages.
    def _conflict(self, key: Key) -> Conflict:
        return self._space._conflict(key)
