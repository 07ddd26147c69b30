"""The workqueue: one worker per key, coalescing, delays, backoff and shutdown, on virtual time."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.clock import VirtualClock
from engine.ratelimit import ItemExponentialFailureRateLimiter
from engine.workqueue import ShutDown, WorkQueue


@pytest.fixture
async def manual_clock() -> AsyncIterator[VirtualClock]:
    """Time moves only on `advance`."""
    clock = VirtualClock(auto=False)
    with clock.installed():
        yield clock


def _queued(queue: WorkQueue[str]) -> list[str]:
    """Everything queued right now, in order, without waiting (test helper)."""
    return [queue._queue[i] for i in range(len(queue))]


# -- adding and coalescing -----------------------------------------------------------------


async def test_items_are_handed_out_in_order_and_duplicates_coalesce(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock, name="pods")
    for key in ["a", "b", "a", "c", "b", "a"]:
        queue.add(key)
    assert len(queue) == 3
    assert [await queue.get() for _ in range(3)] == ["a", "b", "c"]
    stats = queue.statistics()
    assert (stats.adds_total, stats.gets_total, stats.depth, stats.processing) == (3, 3, 0, 3)
    assert stats.name == "pods"


async def test_item_added_while_processing_waits_for_done_then_is_requeued(
    clock: VirtualClock,
) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add("a")
    assert await queue.get() == "a"
    queue.add("a")
    queue.add("a")
    queue.add("b")
    # "a" is dirty but processing: a second worker must not get it.
    assert len(queue) == 1
    assert queue.statistics().dirty == 2
    assert await queue.get() == "b"
    second_worker = asyncio.create_task(queue.get())
    await clock.settle()
    assert not second_worker.done()
    queue.done("a")  # requeued once, handed to the waiting worker
    assert await second_worker == "a"
    assert queue.is_processing("a")
    queue.done("a")
    queue.done("b")
    assert len(queue) == 0
    assert queue.statistics().dirty == 0


async def test_done_without_get_is_a_clear_error(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock, name="nodes")
    queue.add("a")
    with pytest.raises(ValueError, match=r"'nodes'.*done\('a'\).*not processing"):
        queue.done("a")


async def test_each_add_wakes_exactly_one_waiting_getter(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await clock.settle()
    assert queue.statistics().waiting_getters == 3
    queue.add("a")
    await clock.settle()
    assert [g.result() for g in getters if g.done()] == ["a"]
    assert queue.statistics().waiting_getters == 2
    queue.add("b")
    queue.add("c")
    await clock.settle()
    assert sorted(g.result() for g in getters) == ["a", "b", "c"]


async def test_cancelling_a_woken_getter_passes_the_item_to_another(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    first = asyncio.create_task(queue.get())
    second = asyncio.create_task(queue.get())
    await clock.settle()
    queue.add("a")  # wakes `first` ...
    first.cancel()  # ... which is cancelled before it runs
    await clock.settle()
    assert first.cancelled()
    assert second.done() and second.result() == "a"


async def test_cancelling_a_waiting_getter_loses_nothing(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    waiting = asyncio.create_task(queue.get())
    await clock.settle()
    waiting.cancel()
    await clock.settle()
    assert queue.statistics().waiting_getters == 0
    queue.add("a")
    assert await queue.get() == "a"


async def test_get_times_out_without_taking_an_item(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(5.0):
            await queue.get()
    assert clock.monotonic() == 5.0
    queue.add("a")
    assert await queue.get() == "a"


# -- delayed adds --------------------------------------------------------------------------


async def test_add_after_adds_at_exactly_the_due_virtual_time(manual_clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(manual_clock)
    queue.add_after("a", 1.5)
    queue.add_after("b", 0.5)
    assert queue.statistics().waiting_delayed == 2
    await manual_clock.advance(0.25)
    assert len(queue) == 0
    await manual_clock.advance(0.25)
    assert _queued(queue) == ["b"]
    await manual_clock.advance(0.75)
    assert _queued(queue) == ["b"]
    await manual_clock.advance(0.25)
    assert _queued(queue) == ["b", "a"]
    assert queue.statistics().waiting_delayed == 0
    assert queue.statistics().retries_total == 2


async def test_add_after_without_delay_adds_at_once(manual_clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(manual_clock)
    queue.add_after("a", 0)
    queue.add_after("b", -3)
    assert _queued(queue) == ["a", "b"]
    assert queue.statistics().waiting_delayed == 0


async def test_add_after_a_sooner_due_time_wins_a_later_one_is_dropped(
    manual_clock: VirtualClock,
) -> None:
    queue: WorkQueue[str] = WorkQueue(manual_clock)
    queue.add_after("a", 10.0)
    queue.add_after("a", 2.0)  # sooner: replaces
    queue.add_after("a", 5.0)  # later than the pending 2 s: dropped
    assert queue.statistics().waiting_delayed == 1
    await manual_clock.advance(2.0)
    assert _queued(queue) == ["a"]
    assert queue.statistics().waiting_delayed == 0
    item = await queue.get()
    queue.done(item)
    await manual_clock.advance(20.0)
    assert len(queue) == 0
    assert queue.statistics().adds_total == 1


async def test_delayed_add_of_a_processing_item_requeues_it_after_done(
    manual_clock: VirtualClock,
) -> None:
    # A reconcile asking "requeue after 1 s" while its key is still processing.
    queue: WorkQueue[str] = WorkQueue(manual_clock)
    queue.add("a")
    assert await queue.get() == "a"
    queue.add_after("a", 1.0)
    await manual_clock.advance(1.0)
    assert len(queue) == 0  # dirty, waiting for done
    queue.done("a")
    assert _queued(queue) == ["a"]


async def test_add_rate_limited_backs_off_exponentially_until_forgotten(
    manual_clock: VirtualClock,
) -> None:
    queue: WorkQueue[str] = WorkQueue(manual_clock)  # the default controller limiter
    due_after = []
    for _ in range(4):
        start = manual_clock.monotonic()
        queue.add_rate_limited("a")
        while not len(queue):
            await manual_clock.advance(0.005)
        due_after.append(round(manual_clock.monotonic() - start, 9))
        queue.done(await queue.get())
    assert due_after == [0.005, 0.01, 0.02, 0.04]
    assert queue.num_requeues("a") == 4
    queue.forget("a")
    assert queue.num_requeues("a") == 0
    queue.add_rate_limited("a")
    await manual_clock.advance(0.005)
    assert _queued(queue) == ["a"]


async def test_add_rate_limited_uses_the_given_limiter(manual_clock: VirtualClock) -> None:
    limiter = ItemExponentialFailureRateLimiter(base=1.0, max_delay=3.0)
    queue: WorkQueue[str] = WorkQueue(manual_clock, rate_limiter=limiter)
    for _ in range(3):
        limiter.when("a")  # 1, 2, then capped at 3
    queue.add_rate_limited("a")
    await manual_clock.advance(2.5)
    assert len(queue) == 0
    await manual_clock.advance(0.5)
    assert _queued(queue) == ["a"]


# -- shutdown ------------------------------------------------------------------------------


async def test_shutdown_fails_gets_at_once_and_ignores_adds(manual_clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(manual_clock)
    waiting = asyncio.create_task(queue.get())
    await manual_clock.settle()
    queue.add("a")
    await manual_clock.settle()
    assert waiting.result() == "a"
    queue.add("b")
    queue.add_after("c", 1.0)
    queue.shutdown()
    assert queue.shutting_down
    with pytest.raises(ShutDown):
        await queue.get()  # even though "b" is queued
    queue.add("d")
    queue.add_after("e", 1.0)
    queue.add_rate_limited("f")
    assert queue.num_requeues("f") == 0
    stats = queue.statistics()
    assert (stats.depth, stats.waiting_delayed, stats.shutting_down) == (1, 0, True)
    await manual_clock.advance(5.0)  # the cancelled timer for "c" never fires
    assert _queued(queue) == ["b"]
    queue.done("a")  # workers still finish what they hold
    await queue.shutdown_with_drain()  # returns at once after shutdown()


async def test_shutdown_wakes_every_waiting_getter_with_shutdown(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    getters = [asyncio.create_task(queue.get()) for _ in range(3)]
    await clock.settle()
    queue.shutdown()
    results = await asyncio.gather(*getters, return_exceptions=True)
    assert all(isinstance(r, ShutDown) for r in results)


async def test_shutdown_with_drain_hands_out_what_is_queued_and_waits_for_done(
    clock: VirtualClock,
) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    processed: list[str] = []

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            await clock.sleep(1.0)
            processed.append(key)
            queue.done(key)

    for key in "abc":
        queue.add(key)
    worker_task = asyncio.create_task(worker())
    await clock.settle()
    queue.add("a")  # "a" is processing: dirty, requeued on done
    queue.add_after("z", 0.5)  # delayed adds are cancelled by shutdown
    await queue.shutdown_with_drain()
    assert processed == ["a", "b", "c", "a"]
    assert clock.monotonic() == 4.0
    stats = queue.statistics()
    assert (stats.depth, stats.processing, stats.dirty, stats.waiting_delayed) == (0, 0, 0, 0)
    await worker_task  # it saw ShutDown
    queue.add("late")
    assert len(queue) == 0


async def test_shutdown_with_drain_of_an_idle_queue_returns_at_once(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    await queue.shutdown_with_drain()
    assert queue.shutting_down
    with pytest.raises(ShutDown):
        await queue.get()


async def test_shutdown_cuts_a_drain_short(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add("stuck")
    await queue.get()  # never done
    drain = asyncio.create_task(queue.shutdown_with_drain())
    other_drain = asyncio.create_task(queue.shutdown_with_drain())
    await clock.settle()
    assert not drain.done()
    queue.shutdown()
    await asyncio.gather(drain, other_drain)


async def test_cancelled_drain_leaves_no_waiter_behind(clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(clock)
    queue.add("a")
    await queue.get()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.0):
            await queue.shutdown_with_drain()
    assert queue._drain_waiters == []
    queue.done("a")
    await queue.shutdown_with_drain()


# -- statistics ----------------------------------------------------------------------------


async def test_statistics_report_depth_and_processing_time(manual_clock: VirtualClock) -> None:
    queue: WorkQueue[str] = WorkQueue(manual_clock, name="deployments")
    for key in "abcd":
        queue.add(key)
    await queue.get()  # "a" from t=0
    await manual_clock.advance(3.0)
    await queue.get()  # "b" from t=3
    await manual_clock.advance(1.0)
    stats = queue.statistics()
    assert stats.depth == 2
    assert stats.max_depth == 4
    assert stats.processing == 2
    assert stats.longest_running_processor_seconds == 4.0
    assert stats.unfinished_work_seconds == 5.0
    queue.done("a")
    assert queue.statistics().longest_running_processor_seconds == 1.0
    queue.done("b")
    assert queue.statistics().longest_running_processor_seconds == 0.0
    with pytest.raises(AttributeError):
        stats.depth = 0  # type: ignore[misc]


# -- concurrent workers on virtual time ----------------------------------------------------

_TIME_STEPS = [0.0, 0.25, 0.5, 1.0, 3.0]  # binary fractions keep virtual times exact


@dataclass
class _Scenario:
    workers: int
    adds: list[tuple[float, int, float | None]]  # (gap before it, key, add_after delay or None)
    work: list[tuple[float, float, bool, bool]]  # (before, after re-add?, re-add?, fails?)
    get_timeouts: list[float | None]
    shutdown_at: float


_scenarios = st.builds(
    _Scenario,
    workers=st.integers(1, 4),
    adds=st.lists(
        st.tuples(
            st.sampled_from(_TIME_STEPS),
            st.integers(0, 5),
            st.none() | st.sampled_from(_TIME_STEPS[1:]),
        ),
        max_size=40,
    ),
    work=st.lists(
        st.tuples(
            st.sampled_from(_TIME_STEPS),
            st.sampled_from(_TIME_STEPS),
            st.booleans(),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    ),
    get_timeouts=st.lists(st.none() | st.sampled_from(_TIME_STEPS[1:]), min_size=1, max_size=6),
    shutdown_at=st.sampled_from([0.0, 1.0, 5.0, 20.0, 1000.0]),
)


async def _run(scenario: _Scenario) -> None:
    clock = VirtualClock()
    with clock.installed():
        queue: WorkQueue[int] = WorkQueue(clock, name="fuzz")
        sequence = itertools.count()
        last_add: dict[int, int] = {}  # key -> sequence number of its last accepted add
        last_start: dict[int, int] = {}  # key -> sequence number when it last went to a worker
        # key -> sequence of add_after calls that are due before shutdown
        due_before_shutdown: dict[int, int] = {}
        in_progress: set[int] = set()
        processed_at_least = 0

        def add(key: int) -> None:
            if not queue.shutting_down:
                last_add[key] = next(sequence)
            queue.add(key)

        async def producer() -> None:
            for gap, key, delay in scenario.adds:
                await clock.sleep(gap)
                if delay is None:
                    add(key)
                else:
                    if clock.monotonic() + delay < scenario.shutdown_at:
                        due_before_shutdown[key] = next(sequence)
                    queue.add_after(key, delay)

        async def worker(index: int) -> None:
            nonlocal processed_at_least
            for step in itertools.count(index):
                timeout = scenario.get_timeouts[step % len(scenario.get_timeouts)]
                try:
                    async with asyncio.timeout(timeout):
                        key = await queue.get()
                except TimeoutError:
                    continue
                except ShutDown:
                    return
                assert key not in in_progress, f"{key} handed to two workers"
                in_progress.add(key)
                last_start[key] = next(sequence)
                before, after, re_add, fails = scenario.work[step % len(scenario.work)]
                await clock.sleep(before)
                # A key that re-adds itself on every pass without taking any
                # time would loop forever at one instant (a livelock of the
                # test's making, not the queue's), so re-adds take time.
                if re_add and before + after > 0:
                    add(key)
                await clock.sleep(after)
                in_progress.discard(key)
                processed_at_least += 1
                if fails:
                    queue.add_rate_limited(key)
                else:
                    queue.forget(key)
                queue.done(key)

        async def stopper() -> None:
            await clock.sleep(scenario.shutdown_at)
            await queue.shutdown_with_drain()
            # Drained: every accepted add has been seen by a worker that has finished.
            stats = queue.statistics()
            assert (stats.depth, stats.processing, stats.dirty) == (0, 0, 0)
            assert stats.waiting_delayed == 0
            assert not in_progress
            for key, added in last_add.items():
                assert last_start.get(key, -1) > added, f"key {key} not processed after its add"
            for key, called in due_before_shutdown.items():
                assert last_start.get(key, -1) > called, f"delayed key {key} never processed"

        async with asyncio.timeout(100_000):  # a hang fails on virtual time, not forever
            await asyncio.gather(
                producer(), stopper(), *(worker(i) for i in range(scenario.workers))
            )

        stats = queue.statistics()
        assert (stats.depth, stats.processing, stats.waiting_getters) == (0, 0, 0)
        assert stats.gets_total == processed_at_least


@given(_scenarios)
def test_concurrent_workers_never_share_a_key_and_lose_nothing(scenario: _Scenario) -> None:
    asyncio.run(_run(scenario))
