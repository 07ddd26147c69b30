"""The controller runtime: reconcilers, their requests and results, the
sources that enqueue requests, and the worker loop that runs them.

A `Reconciler` has one method, `async reconcile(request) -> Result`. The
`Request` names an object only by identity (kind, namespace, name): the
reconciler reads current state (from informer caches or the client) and acts
on it, never on the event that woke it. What happens next is decided in one
place, `Controller._finish`:

=====================================  ========================================
outcome of reconcile                   queue action
=====================================  ========================================
`Result()`                             forget (reset backoff)
`Result(requeue_after=s)`              forget, then add after `s` seconds
`Result(requeue=True)`                 rate-limited re-add
exception                              rate-limited re-add (logged)
`Conflict` (a stale write)             rate-limited re-add, not logged
`TerminalError`                        forget, logged, no retry
=====================================  ========================================

Sources connect informers to a controller's queue: `for_kind` (the primary
kind, enqueue the object itself), `owns` (enqueue the controlling owner named
in ownerReferences), `watches` (a mapping function to any requests). Each
takes predicates that filter events first (e.g. `GenerationChanged`).

Neighbours: `engine.workqueue` (the queue), `engine.informer` (event sources),
`engine.manager` (runs controllers), `engine.expectations`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import anyio

from engine.api.base import Resource
from engine.clock import Clock
from engine.errors import Conflict
from engine.informer import DeletedFinalStateUnknown, SharedInformer
from engine.logging import get_logger
from engine.ratelimit import RateLimiter
from engine.workqueue import ShutDown, WorkQueue

__all__ = [
    "Controller",
    "GenerationChanged",
    "LabelsChanged",
    "Predicate",
    "Reconciler",
    "Request",
    "Result",
    "TerminalError",
    "reconciler",
]


class Request(NamedTuple):
    """Which object to reconcile: identity only, never state. A named tuple, so
    hashing and comparison (done on every enqueue) run in C."""

    kind: type[Resource]
    namespace: str
    name: str

    @classmethod
    def for_object(cls, obj: Resource) -> Request:
        return cls(type(obj), obj.metadata.namespace, obj.metadata.name)

    def __str__(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind.kind_name} {where}{self.name}"


@dataclass(frozen=True, slots=True)
class Result:
    """What a reconcile asks for next: nothing, a retry after a delay, or a
    rate-limited retry."""

    requeue_after: float | None = None
    requeue: bool = False


class TerminalError(Exception):
    """An error that retrying cannot fix: logged, not requeued."""


class Reconciler(Protocol):
    async def reconcile(self, request: Request) -> Result: ...


@dataclass(frozen=True, slots=True)
class _FunctionReconciler:
    fn: Callable[[Request], Awaitable[Result | None]]

    async def reconcile(self, request: Request) -> Result:
        return (await self.fn(request)) or Result()


def reconciler(fn: Callable[[Request], Awaitable[Result | None]]) -> Reconciler:
    """Adapt an async function to a `Reconciler` (returning None means done)."""
    return _FunctionReconciler(fn)


class Predicate(Protocol):
    """Filters informer events before they enqueue anything."""

    def create(self, obj: Any) -> bool: ...

    def update(self, old: Any, new: Any) -> bool: ...

    def delete(self, obj: Any) -> bool: ...


class GenerationChanged:
    """Pass updates only when metadata.generation changed (spec edits)."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return bool(old.metadata.generation != new.metadata.generation)

    def delete(self, obj: Any) -> bool:
        return True


class LabelsChanged:
    """Pass updates only when labels changed."""

    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return bool(old.metadata.labels != new.metadata.labels)

    def delete(self, obj: Any) -> bool:
        return True


Mapper = Callable[[Any], Iterable[Request]]


class _Source:
    """An informer event handler that maps objects to requests on one queue."""

    __slots__ = ("_map_old", "_mapper", "_predicates", "_queue", "_update_delay")

    def __init__(
        self,
        queue: WorkQueue[Request],
        mapper: Mapper,
        predicates: tuple[Predicate, ...],
        update_delay: float = 0.0,
    ) -> None:
        self._queue = queue
        self._update_delay = update_delay
        self._mapper = mapper
        self._predicates = predicates
        # The old version of an object maps to the same request as the new one
        # when the mapping is the object itself; otherwise (owners, labels) it
        # may map elsewhere and both must be looked at.
        self._map_old = mapper is not _primary

    def on_add(self, obj: Any, is_in_initial_list: bool) -> None:
        for p in self._predicates:
            if not p.create(obj):
                return
        self._enqueue(obj)

    def on_update(self, old: Any, new: Any) -> None:
        for p in self._predicates:
            if not p.update(old, new):
                return
        if self._update_delay > 0:
            self._enqueue_later(new)
            if self._map_old and old is not new:
                self._enqueue_later(old)
            return
        self._enqueue(new)
        if self._map_old and old is not new:
            # An owner change moves the object to another owner: both need a look.
            self._enqueue(old)

    def on_delete(self, obj: Any) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            obj = obj.obj
        for p in self._predicates:
            if not p.delete(obj):
                return
        self._enqueue(obj)

    def _enqueue(self, obj: Any) -> None:
        add = self._queue.add
        for request in self._mapper(obj):
            add(request)

    def _enqueue_later(self, obj: Any) -> None:
        queue, delay = self._queue, self._update_delay
        for request in self._mapper(obj):
            queue.add_after(request, delay)


def _primary(obj: Resource) -> Iterable[Request]:
    meta = obj.metadata
    return (Request(type(obj), meta.namespace, meta.name),)


def _owner_mapper(owner_kind: type[Resource]) -> Mapper:
    kind_name = owner_kind.kind_name
    api_version = owner_kind.api_group_version

    def mapper(obj: Resource) -> Iterable[Request]:
        ref = obj.metadata.controller_ref()
        if ref is None or ref.kind != kind_name or ref.api_version != api_version:
            return ()
        namespace = obj.metadata.namespace if owner_kind.namespaced else ""
        return (Request(owner_kind, namespace, ref.name),)

    return mapper


class Controller:
    """A named reconciler with its workqueue, sources and workers."""

    def __init__(
        self,
        name: str,
        reconciler: Reconciler,
        *,
        clock: Clock,
        workers: int = 1,
        rate_limiter: RateLimiter[Request] | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("a controller needs at least one worker")
        self.name = name
        self.reconciler = reconciler
        self.clock = clock
        self.workers = workers
        self.queue: WorkQueue[Request] = WorkQueue(clock, name=name, rate_limiter=rate_limiter)
        self.informers: list[SharedInformer[Any]] = []
        self._log = get_logger("controller", controller=name)
        self.reconciles = 0
        self.errors = 0
        self.conflicts = 0

    # -- sources ---------------------------------------------------------------------

    def for_kind(
        self, informer: SharedInformer[Any], *predicates: Predicate, update_delay: float = 0.0
    ) -> Controller:
        """Reconcile the objects of the informer's kind themselves."""
        return self.watches(informer, _primary, *predicates, update_delay=update_delay)

    def owns(
        self,
        informer: SharedInformer[Any],
        owner_kind: type[Resource],
        *predicates: Predicate,
        update_delay: float = 0.0,
    ) -> Controller:
        """Reconcile the controlling owner (of `owner_kind`) of the informer's objects."""
        return self.watches(
            informer, _owner_mapper(owner_kind), *predicates, update_delay=update_delay
        )

    def watches(
        self,
        informer: SharedInformer[Any],
        mapper: Mapper,
        *predicates: Predicate,
        update_delay: float = 0.0,
    ) -> Controller:
        """Reconcile whatever `mapper` returns for each changed object.

        With `update_delay`, an update enqueues its requests that many seconds
        later (adds and deletes still enqueue at once); every update of the
        window coalesces into one reconcile. A controller whose reconcile reads
        many objects (a ReplicaSet counting its ready pods) uses it so that a
        burst of status updates costs one reconcile, not one per update."""
        informer.add_event_handler(_Source(self.queue, mapper, predicates, update_delay))
        if informer not in self.informers:
            self.informers.append(informer)
        return self

    def enqueue(self, request: Request) -> None:
        self.queue.add(request)

    # -- running ---------------------------------------------------------------------

    async def run(self) -> None:
        """Run the workers until cancelled; the queue is shut down on the way out."""
        try:
            async with anyio.create_task_group() as tg:
                for _ in range(self.workers):
                    tg.start_soon(self._worker)
        finally:
            self.queue.shutdown()

    async def _worker(self) -> None:
        queue = self.queue
        while True:
            try:
                request = await queue.get()
            except ShutDown:
                return
            try:
                result = await self.reconciler.reconcile(request)
            except Exception as error:
                self._finish(request, None, error)
            else:
                self._finish(request, result, None)
            finally:
                queue.done(request)

    def _finish(self, request: Request, result: Result | None, error: Exception | None) -> None:
        """The one place where a reconcile outcome becomes a queue action."""
        self.reconciles += 1
        queue = self.queue
        if error is not None:
            self.errors += 1
            if isinstance(error, Conflict):
                # Optimistic concurrency at work: a write raced another one. The
                # next reconcile reads fresh state; nothing is wrong.
                self.conflicts += 1
                queue.add_rate_limited(request)
                return
            terminal = isinstance(error, TerminalError)
            self._log.error(
                "reconcile failed" + ("" if not terminal else " (terminal, not retried)"),
                kind=request.kind.kind_name,
                namespace=request.namespace,
                name=request.name,
                error=repr(error),
                requeues=queue.num_requeues(request),
            )
            if terminal:
                queue.forget(request)
            else:
                queue.add_rate_limited(request)
            return
        assert result is not None
        if result.requeue_after is not None:
            queue.forget(request)
            queue.add_after(request, result.requeue_after)
        elif result.requeue:
            queue.add_rate_limited(request)
        else:
            queue.forget(request)
