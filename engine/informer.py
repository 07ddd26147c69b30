"""Shared informers: list + watch of one kind into an indexed cache, with event
handlers, and the factory that shares one informer per (kind, namespace,
selectors) among every controller.

Guarantees (as client-go's shared informer states them):

* The cache converges to the store: after the initial list and every relist,
  and after each delivered watch event, the cache holds what the store held at
  that revision. `wait_for_sync()` returns once the initial list is in.
* Per object, handlers see changes in revision order. Handlers run inline in
  the informer's own task, so they must be quick (enqueue a key and return);
  informers of different kinds never block each other.
* On Gone (history compacted or a watch cut off for falling behind) the
  informer resumes from its last revision if that is still retained, else
  relists. A relist delivers updates for changed objects, adds for new ones
  and deletes, wrapped in `DeletedFinalStateUnknown`, for objects that vanished
  while it was disconnected.
* With `resync_period`, every cached object is re-delivered as an update
  (old is new) that often, so level-triggered controllers recheck everything.
* A handler added after the informer synced first receives an add for every
  cached object.

Neighbours: `engine.client` (list/watch), `engine.cache` (the indexer),
`engine.controller` (sources enqueue from handlers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import anyio
import anyio.abc

from engine.api.base import Resource
from engine.cache import Indexer, IndexFunc, ObjectKey, index_by_namespace
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError, Gone, KindNotServed
from engine.logging import get_logger
from engine.store import FieldSelectorArg, LabelSelectorArg
from engine.watch import ADDED, BOOKMARK, DELETED, MODIFIED, WatchStream

__all__ = [
    "DeletedFinalStateUnknown",
    "EventHandler",
    "InformerFactory",
    "InformerStatistics",
    "ResourceEventHandler",
    "SharedInformer",
]

R = TypeVar("R", bound=Resource)
R_contra = TypeVar("R_contra", bound=Resource, contravariant=True)
log = get_logger("informer")


@dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown(Generic[R]):
    """Delivered to on_delete for an object that was deleted while the informer
    was disconnected: `obj` is the last state the cache knew."""

    key: ObjectKey
    obj: R


class ResourceEventHandler(Protocol[R_contra]):
    def on_add(self, obj: R_contra, is_in_initial_list: bool) -> None: ...

    def on_update(self, old: R_contra, new: R_contra) -> None: ...

    def on_delete(self, obj: R_contra | DeletedFinalStateUnknown[Any]) -> None: ...


@dataclass(slots=True)
class EventHandler(Generic[R]):
    """A `ResourceEventHandler` from plain functions; any of them may be omitted."""

    add: Callable[[R], None] | None = None
    update: Callable[[R, R], None] | None = None
    delete: Callable[[R | DeletedFinalStateUnknown[R]], None] | None = None

    def on_add(self, obj: R, is_in_initial_list: bool) -> None:
        if self.add is not None:
            self.add(obj)

    def on_update(self, old: R, new: R) -> None:
        if self.update is not None:
            self.update(old, new)

    def on_delete(self, obj: R | DeletedFinalStateUnknown[R]) -> None:
        if self.delete is not None:
            self.delete(obj)


@dataclass(frozen=True, slots=True)
class InformerStatistics:
    kind: str
    cached: int
    handlers: int
    synced: bool
    last_revision: int
    events: int
    lists: int
    relists: int
    resumes: int
    resyncs: int
    handler_errors: int


@dataclass(slots=True)
class _Counters:
    events: int = 0
    lists: int = 0
    resumes: int = 0
    resyncs: int = 0
    handler_errors: int = 0


class SharedInformer(Generic[R]):
    """list + watch of one kind (optionally one namespace and selectors)."""

    def __init__(
        self,
        client: Client,
        kind: type[R],
        *,
        clock: Clock,
        namespace: str | None = None,
        label_selector: LabelSelectorArg = None,
        field_selector: FieldSelectorArg = None,
        resync_period: float = 0.0,
        indexers: dict[str, IndexFunc] | None = None,
        retry_delay: float = 1.0,
    ) -> None:
        self.client = client
        self.kind = kind
        self.clock = clock
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        self.retry_delay = retry_delay
        self.cache: Indexer[R] = Indexer(indexers or {"namespace": index_by_namespace})
        self._handlers: list[ResourceEventHandler[R]] = []
        self._synced = anyio.Event()
        self._last_revision = 0
        self._counters = _Counters()
        self._running = False
        self._ended: str | None = None  # why run() returned on its own (kind gone)

    # -- configuration ------------------------------------------------------------

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        self.cache.add_indexer(name, func)

    def add_event_handler(self, handler: ResourceEventHandler[R]) -> ResourceEventHandler[R]:
        """Register a handler; if the cache is already filled, it first receives an
        add for every cached object."""
        self._handlers.append(handler)
        if self._synced.is_set():
            for obj in self.cache:
                self._call(handler.on_add, obj, False)
        return handler

    def remove_event_handler(self, handler: ResourceEventHandler[R]) -> None:
        self._handlers.remove(handler)

    # -- state ------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        return self._synced.is_set()

    async def wait_for_sync(self) -> None:
        await self._synced.wait()

    @property
    def last_revision(self) -> int:
        """The store revision the cache reflects."""
        return self._last_revision

    def statistics(self) -> InformerStatistics:
        c = self._counters
        return InformerStatistics(
            kind=self.kind.kind_name,
            cached=len(self.cache),
            handlers=len(self._handlers),
            synced=self.has_synced,
            last_revision=self._last_revision,
            events=c.events,
            lists=c.lists,
            relists=max(0, c.lists - 1),
            resumes=c.resumes,
            resyncs=c.resyncs,
            handler_errors=c.handler_errors,
        )

    # -- running ------------------------------------------------------------------------

    async def run(self) -> None:
        """List, then watch, until cancelled. Recovers from Gone and API errors;
        returns when the kind stops being served (its CRD was deleted)."""
        if self._running:
            raise RuntimeError(f"informer for {self.kind.kind_name} is already running")
        self._running = True
        try:
            async with anyio.create_task_group() as tg:
                if self.resync_period > 0:
                    tg.start_soon(self._resync_loop)
                try:
                    await self._list_watch_loop()
                except KindNotServed as error:
                    log.info("kind no longer served; informer ends", kind=self.kind.kind_name)
                    self._ended = str(error)
                tg.cancel_scope.cancel()
        finally:
            self._running = False

    async def _list_watch_loop(self) -> None:
        while True:
            try:
                await self._list_and_replace()
                await self._watch()
            except KindNotServed:
                raise
            except ApiError as error:
                log.warning(
                    "list/watch failed; retrying",
                    kind=self.kind.kind_name,
                    error=str(error),
                    reason=error.reason,
                )
                await self.clock.sleep(self.retry_delay)

    async def _list_and_replace(self) -> None:
        result = await self.client.list(
            self.kind,
            namespace=self.namespace,
            label_selector=self.label_selector,
            field_selector=self.field_selector,
        )
        self._counters.lists += 1
        initial = not self._synced.is_set()
        cache = self.cache
        fresh: set[ObjectKey] = set()
        for obj in result.items:
            fresh.add(obj.key)
            old = cache.upsert(obj)
            if old is None:
                self._dispatch_add(obj, initial)
            elif old.metadata.resource_version != obj.metadata.resource_version:
                self._dispatch_update(old, obj)
        for key in cache.list_keys():
            if key not in fresh:
                gone = cache.remove(key)
                if gone is not None:
                    self._dispatch_delete(DeletedFinalStateUnknown(key, gone))
        self._last_revision = result.resource_version
        self._synced.set()

    async def _watch(self) -> None:
        """Consume watch events; on a cut-off, resume from the last revision. Returns
        (so the caller relists) when the revision is no longer retained."""
        while True:
            try:
                watcher = await self.client.watch(
                    self.kind,
                    namespace=self.namespace,
                    label_selector=self.label_selector,
                    field_selector=self.field_selector,
                    since=self._last_revision,
                    bookmarks=True,
                )
            except Gone:
                return
            try:
                await self._consume(watcher)
            except Gone:
                self._counters.resumes += 1
                continue
            except StopAsyncIteration:
                self._counters.resumes += 1
                continue
            finally:
                watcher.stop()

    async def _consume(self, watcher: WatchStream[R]) -> None:
        cache = self.cache
        counters = self._counters
        while True:
            batch = await watcher.next_batch()
            counters.events += len(batch)
            for event in batch:
                etype = event.type
                obj: Any = event.object  # None only for BOOKMARK, handled below
                if etype is ADDED or etype is MODIFIED:
                    old = cache.upsert(obj)
                    if old is None:
                        self._dispatch_add(obj, False)
                    else:
                        self._dispatch_update(old, obj)
                elif etype is DELETED:
                    cache.remove(obj.key)
                    self._dispatch_delete(obj)
                elif etype is not BOOKMARK:
                    raise AssertionError(f"unexpected watch event type {etype!r}")
                self._last_revision = event.revision

    async def _resync_loop(self) -> None:
        await self._synced.wait()
        while True:
            await self.clock.sleep(self.resync_period)
            self._counters.resyncs += 1
            for obj in self.cache:
                self._dispatch_update(obj, obj)

    # -- delivery -------------------------------------------------------------------------

    def _dispatch_add(self, obj: R, initial: bool) -> None:
        for handler in self._handlers:
            try:
                handler.on_add(obj, initial)
            except Exception:
                self._handler_failed("add", obj)

    def _dispatch_update(self, old: R, new: R) -> None:
        for handler in self._handlers:
            try:
                handler.on_update(old, new)
            except Exception:
                self._handler_failed("update", new)

    def _dispatch_delete(self, obj: R | DeletedFinalStateUnknown[R]) -> None:
        for handler in self._handlers:
            try:
                handler.on_delete(obj)
            except Exception:
                self._handler_failed("delete", obj)

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            self._handler_failed("add", args[0])

    def _handler_failed(self, what: str, obj: Any) -> None:
        self._counters.handler_errors += 1
        target = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        log.exception(
            "event handler failed",
            kind=self.kind.kind_name,
            event=what,
            namespace=target.metadata.namespace,
            name=target.metadata.name,
        )


_InformerKey = tuple[type[Resource], str | None, str, str]


class InformerFactory:
    """Shares one informer per (kind, namespace, selectors) among controllers and
    runs them all in one task group."""

    def __init__(self, client: Client, *, clock: Clock, resync_period: float = 0.0) -> None:
        self.client = client
        self.clock = clock
        self.resync_period = resync_period
        self._informers: dict[_InformerKey, SharedInformer[Any]] = {}
        self._task_group: anyio.abc.TaskGroup | None = None

    def informer(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> SharedInformer[R]:
        """The shared informer for these parameters, created (and started, if the
        factory is running) on first use. Selectors are given as strings so
        equal selectors share one informer."""
        key: _InformerKey = (kind, namespace, label_selector or "", field_selector or "")
        informer = self._informers.get(key)
        if informer is None:
            informer = SharedInformer(
                self.client,
                kind,
                clock=self.clock,
                namespace=namespace,
                label_selector=label_selector or None,
                field_selector=field_selector or None,
                resync_period=self.resync_period,
            )
            self._informers[key] = informer
            if self._task_group is not None:
                self._task_group.start_soon(informer.run)
        return informer

    def informers(self) -> list[SharedInformer[Any]]:
        return list(self._informers.values())

    def start(self, task_group: anyio.abc.TaskGroup) -> None:
        """Run every informer (and any created later) in `task_group`."""
        if self._task_group is not None:
            raise RuntimeError("informer factory already started")
        self._task_group = task_group
        for informer in self._informers.values():
            task_group.start_soon(informer.run)

    def stop(self) -> None:
        self._task_group = None

    async def wait_for_sync(self) -> None:
        for informer in list(self._informers.values()):
            await informer.wait_for_sync()

    @property
    def synced(self) -> bool:
        return all(i.has_synced for i in self._informers.values())
