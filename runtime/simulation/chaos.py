"""The faulty client: how faults reach a controller without touching its code.

Every hosted controller talks to the cluster through its own `FaultyClient`,
which wraps the real client and asks the `FaultInjector` on every call:

* reads (`get`, `list`) are served from `StoreHistory` as of a lagging
  revision while a stale_reads fault is active (paged lists stay current);
* writes may fail before committing (Conflict, InternalError), or commit and
  then fail (ServerTimeout: the controller does not know it succeeded), and a
  write may be the one after which the controller crashes: the client then
  tells its host, and it and every later call of that incarnation wait
  forever, so nothing more of the interrupted reconcile runs;
* `watch` hands out a `FaultyWatcher` (a `WatchStream`, as the inner
  client's watch is) once any watch-level fault has been scheduled. It sits
  between the store's watcher and the informer (which only calls
  `next_batch()` and `stop()`), and holds events back (delay,
  reorder jitter, stale lag in seconds or revisions), loses them (a lost event
  becomes a BOOKMARK of its revision, so resuming the watch does not bring it
  back: only a relist does), duplicates them, or ends the watch with Gone.
  Per watcher, events keep their order: the informer contract holds.

A watch broken with `relist` makes the client's next `watch` of that kind
raise Gone, so the informer lists again (from the lagging snapshot, if a
stale_reads fault is active: resourceVersion goes backwards).

Neighbours: `runtime.simulation.injector` (decides), `runtime.simulation.history`
(stale reads), `runtime.simulation.hosting` (one client per incarnation),
`engine.client`, `engine.watch`, `engine.informer` (the consumer).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Literal, NoReturn, TypeVar, Unpack

import anyio

from engine.api.base import Resource
from engine.client import Client, PatchType
from engine.errors import Conflict, Gone, InternalError, NotFound, ServerTimeout
from engine.options import (
    DeleteArgs,
    DeleteOptions,
    ListArgs,
    ListOptions,
    WatchArgs,
    WatchOptions,
    of,
)
from engine.registry import REGISTRY
from engine.store import ObjectList, Scale
from engine.watch import ADDED, BOOKMARK, MODIFIED, WatchEvent, WatchStream
from runtime.simulation.injector import FaultInjector, WatchHold

__all__ = ["FaultyClient", "FaultyWatcher"]

R = TypeVar("R", bound=Resource)
T = TypeVar("T")

REVISION_LAG_CAP = 30.0
"""A revision-lagged event is released after this many seconds even if the
store has not moved on (a quiet store must not stall an informer forever)."""
REVISION_POLL = 0.5
_EPSILON = 1e-6
"""Release times within this of now are due: a release time is a float sum of
delays, and waking at now plus a sliver that rounds away would not move time."""


class FaultyClient:
    """A `Client` for one controller incarnation (see the module docstring)."""

    def __init__(
        self,
        inner: Client,
        injector: FaultInjector,
        controller: str,
        *,
        on_crash: Callable[[float], None],
        current_revision: Callable[[], int],
        cache: bool = False,
        peer: FaultyClient | None = None,
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.injector = injector
        self.controller = controller
        self._on_crash = on_crash
        self.current_revision = current_revision
        self._watchers: list[FaultyWatcher[Any]] = []
        self._relists: Counter[str] = Counter()
        self._crash_plan: tuple[int, float] | None = None
        self.dead = False
        self.writes = 0
        # The informer-side and the direct-side client of one incarnation share
        # crash state: a crash stops both.
        self._peer = peer
        if peer is not None:
            peer._peer = self

    def informer_client(self) -> FaultyClient:
        """The client this incarnation's informers use: its lists are cache reads."""
        return FaultyClient(
            self.inner,
            self.injector,
            self.controller,
            on_crash=self._on_crash,
            current_revision=self.current_revision,
            cache=True,
            peer=self,
        )

    # -- fault controls (from the injector) ----------------------------------------------

    def break_watches(self, informer: str | None, *, relist: bool) -> None:
        if self._peer is not None and self._peer.cache:
            self._peer.break_watches(informer, relist=relist)
        for watcher in list(self._watchers):
            if informer is None or watcher.informer == informer:
                watcher.break_()
                if relist:
                    self._relists[watcher.informer] += 1

    def crash(self, restart_after: float) -> None:
        if not self.dead:
            self.dead = True
            for watcher in list(self._watchers):
                watcher.break_()
            if self._peer is not None:
                self._peer.crash(restart_after)
            self._on_crash(restart_after)

    def arm_crash(self, after_writes: int, restart_after: float) -> None:
        self._crash_plan = (after_writes, restart_after)

    # -- plumbing -------------------------------------------------------------------------

    async def _hang(self) -> NoReturn:
        """A crashed process makes no more calls: wait to be cancelled."""
        await asyncio.get_running_loop().create_future()
        raise AssertionError("unreachable")

    async def _write(self, verb: str, call: Callable[[], Awaitable[T]]) -> T:
        if self.dead:
            await self._hang()
        error = self.injector.write_error(self.controller, verb)
        if error == "conflict":
            raise Conflict(f"injected conflict on {verb} (fault injection)")
        if error == "server_error":
            raise InternalError(f"injected server error on {verb} (fault injection)")
        result = await call()
        self.writes += 1
        plan = self._crash_plan
        if plan is not None:
            remaining, restart_after = plan
            if remaining <= 1:
                self._crash_plan = None
                self.injector.counts["controller_crash"] += 1
                self.crash(restart_after)
                await self._hang()
            self._crash_plan = (remaining - 1, restart_after)
        if error == "timeout":
            raise ServerTimeout(
                f"injected timeout on {verb}: the write was committed (fault injection)"
            )
        return result

    def _stale_revision(self, kind: type[Resource]) -> int | None:
        return self.injector.read_revision(self.controller, kind.kind_name, cache=self.cache)

    # -- reads ------------------------------------------------------------------------------

    async def get(self, kind: type[R], name: str, *, namespace: str | None = None) -> R:
        if self.dead:
            await self._hang()
        revision = self._stale_revision(kind)
        if revision is None or self.injector.history is None or kind.read_only:
            return await self.inner.get(kind, name, namespace=namespace)
        info = REGISTRY.info(kind)
        ns = (namespace or "default") if info.namespaced else ""
        obj = self.injector.history.get(kind, ns, name, revision)
        if obj is None:
            raise NotFound(f'{info.plural} "{name}" not found')
        return obj  # type: ignore[return-value]

    async def list(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: ListOptions | None = None,
        **args: Unpack[ListArgs],
    ) -> ObjectList[R]:
        if self.dead:
            await self._hang()
        opts = of(ListOptions, options, args)
        revision = None if (opts.limit or opts.continue_) else self._stale_revision(kind)
        # Aggregated (read-only) kinds keep no history: they are read fresh.
        if revision is None or self.injector.history is None or kind.read_only:
            return await self.inner.list(kind, namespace=namespace, options=opts)
        items = self.injector.history.list(
            kind,
            revision,
            namespace=namespace,
            label_selector=opts.label_selector,
            field_selector=opts.field_selector,
        )
        return ObjectList(items, revision)  # type: ignore[arg-type]

    async def get_scale(
        self, kind: type[Resource], name: str, *, namespace: str | None = None
    ) -> Scale:
        if self.dead:
            await self._hang()
        return await self.inner.get_scale(kind, name, namespace=namespace)

    # -- writes -----------------------------------------------------------------------------

    async def create(self, obj: R) -> R:
        return await self._write("create", lambda: self.inner.create(obj))

    async def update(self, obj: R) -> R:
        return await self._write("update", lambda: self.inner.update(obj))

    async def update_status(self, obj: R) -> R:
        return await self._write("update_status", lambda: self.inner.update_status(obj))

    async def patch(
        self,
        kind: type[R],
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: Literal["status"] | None = None,
    ) -> R:
        return await self._write(
            "patch",
            lambda: self.inner.patch(
                kind,
                name,
                patch,
                namespace=namespace,
                patch_type=patch_type,
                subresource=subresource,
            ),
        )

    async def delete(
        self,
        kind: type[R],
        name: str,
        *,
        namespace: str | None = None,
        options: DeleteOptions | None = None,
        **args: Unpack[DeleteArgs],
    ) -> R | None:
        opts = of(DeleteOptions, options, args)
        return await self._write(
            "delete", lambda: self.inner.delete(kind, name, namespace=namespace, options=opts)
        )

    async def bind(self, name: str, node_name: str, *, namespace: str | None = None) -> Resource:
        return await self._write(
            "bind", lambda: self.inner.bind(name, node_name, namespace=namespace)
        )

    async def evict(
        self, name: str, *, namespace: str | None = None, grace_period_seconds: int | None = None
    ) -> Resource | None:
        return await self._write(
            "evict",
            lambda: self.inner.evict(
                name, namespace=namespace, grace_period_seconds=grace_period_seconds
            ),
        )

    async def scale(
        self, kind: type[R], name: str, replicas: int, *, namespace: str | None = None
    ) -> R:
        return await self._write(
            "scale", lambda: self.inner.scale(kind, name, replicas, namespace=namespace)
        )

    # -- watch -------------------------------------------------------------------------------

    async def watch(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: WatchOptions | None = None,
        **args: Unpack[WatchArgs],
    ) -> WatchStream[R]:
        if self.dead:
            await self._hang()
        informer = kind.kind_name
        if self._relists[informer] > 0:
            self._relists[informer] -= 1
            raise Gone(f"watch of {informer} refused: relist forced (fault injection)")
        inner = await self.inner.watch(
            kind, namespace=namespace, options=of(WatchOptions, options, args)
        )
        if not self.injector.watch_faults:
            return inner
        watcher: FaultyWatcher[R] = FaultyWatcher(inner, self, informer)
        self._watchers.append(watcher)
        return watcher

    def _forget(self, watcher: FaultyWatcher[Any]) -> None:
        if watcher in self._watchers:
            self._watchers.remove(watcher)


class _Held(Generic[R]):
    __slots__ = ("cap_at", "event", "min_revision", "release_at")

    def __init__(
        self, event: WatchEvent[R], release_at: float, min_revision: int, cap_at: float
    ) -> None:
        self.event = event
        self.release_at = release_at
        self.min_revision = min_revision
        self.cap_at = cap_at


class FaultyWatcher(Generic[R]):
    """A store watcher seen through the active watch faults (see the module docstring)."""

    def __init__(self, inner: WatchStream[R], client: FaultyClient, informer: str) -> None:
        self._inner = inner
        self._client = client
        self.informer = informer
        self._clock = client.injector.clock
        self._held: deque[_Held[R]] = deque()
        self._last_release = 0.0
        self._broken = False
        self._ready: deque[WatchEvent[R]] = deque()  # read by batch, handed out one by one

    def break_(self) -> None:
        """End the watch: the informer's next `next_batch()` raises Gone."""
        self._broken = True
        self._inner.stop()

    def stop(self) -> None:
        self._inner.stop()
        self._client._forget(self)

    def close(self) -> None:
        self.stop()

    def _gone(self) -> Gone:
        return Gone(f"watch of {self.informer} broken (fault injection)")

    async def next_batch(self) -> list[WatchEvent[R]]:
        clock = self._clock
        while True:
            if self._broken:
                raise self._gone()
            if len(self._inner):
                self._intake(self._inner.drain())
            batch = self._due(clock.monotonic())
            if batch:
                return batch
            events: list[WatchEvent[R]] = []
            try:
                if self._held:
                    # Go on taking events in while others are held, so each is
                    # held from when it arrived: were they taken in only when the
                    # held ones are due, a stream of events would be held up to
                    # twice the delay, and delivered in bursts.
                    with anyio.move_on_after(self._wait(clock.monotonic())):
                        events = await self._inner.next_batch()
                else:
                    events = await self._inner.next_batch()
            except StopAsyncIteration:
                if self._broken:
                    raise self._gone() from None
                raise
            self._intake(events)

    def _intake(self, events: list[WatchEvent[R]]) -> None:
        if not events:
            return
        injector = self._client.injector
        controller = self._client.controller
        informer = self.informer
        hold = injector.hold(controller, informer)
        now = self._clock.monotonic()
        for event in events:
            if event.type is not BOOKMARK and injector.drop(controller, informer):
                # Lost: only its revision survives, so a resumed watch skips it too.
                event = WatchEvent(BOOKMARK, None, event.revision)
            self._push(event, hold, now)
            if (event.type is ADDED or event.type is MODIFIED) and injector.duplicate(
                controller, informer
            ):
                self._push(event, hold, now)

    def _push(self, event: WatchEvent[R], hold: WatchHold | None, now: float) -> None:
        release_at = now
        min_revision = 0
        if hold is not None:
            release_at = now + hold.seconds
            if hold.revisions:
                min_revision = event.revision + hold.revisions
        release_at = max(release_at, self._last_release)
        self._last_release = release_at
        self._held.append(_Held(event, release_at, min_revision, now + REVISION_LAG_CAP))

    def _due(self, now: float) -> list[WatchEvent[R]]:
        held = self._held
        if not held:
            return []
        revision = self._client.current_revision()
        batch: list[WatchEvent[R]] = []
        while held:
            head = held[0]
            if head.release_at > now + _EPSILON:
                break
            if head.min_revision > revision and head.cap_at > now + _EPSILON:
                break
            batch.append(held.popleft().event)
        return batch

    def _wait(self, now: float) -> float:
        head = self._held[0]
        if head.release_at > now + _EPSILON:
            return head.release_at - now
        return max(_EPSILON, min(REVISION_POLL, head.cap_at - now))

    def drain(self) -> list[WatchEvent[R]]:
        """The events due now, without waiting (held ones stay held)."""
        if self._broken:
            raise self._gone()
        if len(self._inner):
            self._intake(self._inner.drain())
        return self._due(self._clock.monotonic())

    def __len__(self) -> int:
        return len(self._held) + len(self._inner)

    def __aiter__(self) -> FaultyWatcher[R]:
        return self

    async def __anext__(self) -> WatchEvent[R]:
        if not self._ready:
            self._ready.extend(await self.next_batch())
        return self._ready.popleft()

    async def __aenter__(self) -> FaultyWatcher[R]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()
