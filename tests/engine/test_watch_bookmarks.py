"""Watch bookmarks: a reader that received nothing for `bookmark_interval`
seconds gets a BOOKMARK carrying the current revision; events restart that wait."""

from __future__ import annotations

import asyncio
import contextlib
import random

from engine.api.core import ConfigMap, Pod
from engine.clock import VirtualClock
from engine.store import Store
from engine.watch import BOOKMARK, MODIFIED


def config_map(name: str, value: str) -> ConfigMap:
    return ConfigMap.model_validate({"metadata": {"name": name}, "data": {"v": value}})


async def test_an_idle_reader_gets_a_bookmark_after_the_interval(clock: VirtualClock) -> None:
    store = Store(clock=clock, rng=random.Random(1), bookmark_interval=60.0)
    watcher = store.watch(ConfigMap, bookmarks=True)
    store.create(config_map("other", "x"))  # another kind's revision moves too
    store.create(
        Pod.model_validate(
            {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        )
    )
    watcher.drain()
    start = clock.monotonic()
    batch = await watcher.next_batch()
    assert [e.type for e in batch] == [BOOKMARK]
    assert batch[0].revision == store.revision
    assert clock.monotonic() - start == 60.0
    watcher.stop()


async def test_events_restart_the_bookmark_wait(clock: VirtualClock) -> None:
    store = Store(clock=clock, rng=random.Random(1), bookmark_interval=60.0)
    store.create(config_map("a", "0"))
    watcher = store.watch(ConfigMap, bookmarks=True)
    received: list[tuple[float, str]] = []

    async def read() -> None:
        while True:
            batch = await watcher.next_batch()
            received.extend((clock.monotonic(), event.type) for event in batch)

    reader = asyncio.create_task(read())
    for value in ("1", "2", "3"):  # at t=25, 50, 75
        await clock.advance(25.0)
        current = store.get(ConfigMap, "a")
        store.update(current.model_copy(update={"data": {"v": value}}))
    await clock.advance(200.0)
    reader.cancel()
    watcher.stop()
    # The last event came at t=75: bookmarks at 135, 195 and 255, none before.
    assert received == [
        (25.0, MODIFIED),
        (50.0, MODIFIED),
        (75.0, MODIFIED),
        (135.0, BOOKMARK),
        (195.0, BOOKMARK),
        (255.0, BOOKMARK),
    ]


async def test_a_stopped_watcher_leaves_no_timer(clock: VirtualClock) -> None:
    store = Store(clock=clock, rng=random.Random(1), bookmark_interval=60.0)
    watcher = store.watch(ConfigMap, bookmarks=True)
    waiting = asyncio.create_task(watcher.next_batch())
    await clock.advance(1.0)
    loop = asyncio.get_running_loop()
    pending = sum(not h.cancelled() for h in getattr(loop, "_scheduled", ()))
    watcher.stop()
    with contextlib.suppress(StopAsyncIteration):
        await waiting
    assert sum(not h.cancelled() for h in getattr(loop, "_scheduled", ())) == pending - 1
