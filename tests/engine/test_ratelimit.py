"""Rate limiters: the delays controllers' retries get, exactly as client-go computes them."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.clock import VirtualClock
from engine.ratelimit import (
    BucketRateLimiter,
    ItemExponentialFailureRateLimiter,
    ItemFastSlowRateLimiter,
    MaxOfRateLimiter,
    RateLimiter,
    default_controller_rate_limiter,
)


@pytest.fixture
async def manual_clock() -> AsyncIterator[VirtualClock]:
    """Time moves only on `advance`."""
    clock = VirtualClock(auto=False)
    with clock.installed():
        yield clock


def test_exponential_doubles_from_base_per_failure_and_caps_at_max() -> None:
    limiter = ItemExponentialFailureRateLimiter(base=0.005, max_delay=1000.0)
    delays = [limiter.when("key") for _ in range(25)]
    # 0.005 * 2**17 = 655.36 s is the last step below the 1000 s cap.
    expected = [0.005 * 2**n for n in range(18)] + [1000.0] * 7
    assert delays == expected
    assert delays[:3] == [0.005, 0.01, 0.02]
    assert limiter.num_requeues("key") == 25


def test_exponential_counts_failures_per_item_and_forget_resets() -> None:
    limiter = ItemExponentialFailureRateLimiter()
    assert [limiter.when("a") for _ in range(3)] == [0.005, 0.01, 0.02]
    assert limiter.when("b") == 0.005
    assert (limiter.num_requeues("a"), limiter.num_requeues("b")) == (3, 1)
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.005
    assert limiter.when("b") == 0.01
    limiter.forget("never-seen")  # harmless


def test_exponential_never_overflows_after_very_many_failures() -> None:
    limiter = ItemExponentialFailureRateLimiter(base=0.005, max_delay=1000.0)
    for _ in range(3000):
        delay = limiter.when("key")
    assert delay == 1000.0


@given(
    base=st.floats(min_value=0.0, max_value=10.0),
    max_delay=st.floats(min_value=0.0, max_value=1e6),
    failures=st.integers(min_value=0, max_value=1100),
)
def test_exponential_matches_the_formula(base: float, max_delay: float, failures: int) -> None:
    limiter = ItemExponentialFailureRateLimiter(base=base, max_delay=max_delay)
    for _ in range(failures):
        limiter.when("key")
    # Exact arithmetic as the reference: no float overflow, 0 * 2**n stays 0.
    expected = min(Fraction(base) * 2**failures, Fraction(max_delay))
    assert limiter.when("key") == float(expected)


def test_exponential_rejects_negative_delays() -> None:
    with pytest.raises(ValueError, match="base"):
        ItemExponentialFailureRateLimiter(base=-1.0)
    with pytest.raises(ValueError, match="max_delay"):
        ItemExponentialFailureRateLimiter(max_delay=math.nan)


def test_fast_slow_gives_fast_delays_then_slow_and_forget_resets() -> None:
    limiter = ItemFastSlowRateLimiter(fast_delay=0.1, slow_delay=5.0, max_fast_attempts=3)
    assert [limiter.when("a") for _ in range(5)] == [0.1, 0.1, 0.1, 5.0, 5.0]
    assert limiter.when("b") == 0.1
    assert limiter.num_requeues("a") == 5
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    assert limiter.when("a") == 0.1
    with pytest.raises(ValueError, match="max_fast_attempts"):
        ItemFastSlowRateLimiter(0.1, 1.0, -1)


async def test_bucket_allows_burst_then_spaces_retries_at_qps(
    manual_clock: VirtualClock,
) -> None:
    bucket = BucketRateLimiter(manual_clock, qps=10.0, burst=100)
    assert [bucket.when(n) for n in range(100)] == [0.0] * 100
    # Out of tokens: each reservation waits one more 1/qps in line.
    assert [bucket.when(n) for n in range(3)] == pytest.approx([0.1, 0.2, 0.3])
    assert bucket.num_requeues(1) == 0
    bucket.forget(1)  # tracks no items

    await manual_clock.advance(0.3)  # three tokens refilled: the debt is paid
    assert bucket.tokens() == pytest.approx(0.0, abs=1e-9)
    assert bucket.when("x") == pytest.approx(0.1)


async def test_bucket_refills_at_qps_up_to_burst_only(manual_clock: VirtualClock) -> None:
    bucket = BucketRateLimiter(manual_clock, qps=2.0, burst=3)
    assert [bucket.when(n) for n in range(3)] == [0.0, 0.0, 0.0]
    await manual_clock.advance(1.0)  # two tokens back
    assert [bucket.when(n) for n in range(3)] == pytest.approx([0.0, 0.0, 0.5])
    await manual_clock.advance(3600.0)  # a long idle refills to burst, no further
    assert bucket.tokens() == 3.0
    assert [bucket.when(n) for n in range(4)] == pytest.approx([0.0, 0.0, 0.0, 0.5])


async def test_bucket_with_infinite_qps_never_delays(manual_clock: VirtualClock) -> None:
    bucket = BucketRateLimiter(manual_clock, qps=math.inf, burst=1)
    assert {bucket.when(n) for n in range(1000)} == {0.0}


def test_bucket_rejects_bad_parameters() -> None:
    clock = VirtualClock()
    with pytest.raises(ValueError, match="qps"):
        BucketRateLimiter(clock, qps=0.0)
    with pytest.raises(ValueError, match="burst"):
        BucketRateLimiter(clock, qps=1.0, burst=0)


@given(
    qps=st.sampled_from([0.5, 1.0, 4.0, 10.0]),
    burst=st.integers(min_value=1, max_value=8),
    steps=st.lists(
        st.tuples(st.sampled_from([0.0, 0.125, 0.25, 1.0, 10.0]), st.integers(0, 6)),
        max_size=30,
    ),
)
async def test_bucket_never_lets_more_than_burst_plus_qps_times_window_through(
    qps: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    clock = VirtualClock(auto=False)
    with clock.installed():
        bucket = BucketRateLimiter(clock, qps=qps, burst=burst)
        ready_times: list[float] = []
        for gap, reservations in steps:
            await clock.advance(gap)
            for _ in range(reservations):
                delay = bucket.when("item")
                assert delay >= 0
                ready_times.append(clock.monotonic() + delay)
    # Reservations are served in order, and any window lets at most burst + qps * width pass.
    assert ready_times == sorted(ready_times)
    for i, start in enumerate(ready_times):
        for j in range(i, len(ready_times)):
            width = ready_times[j] - start
            assert j - i + 1 <= burst + qps * width + 1e-9


async def test_max_of_takes_the_longest_delay_and_forwards_the_rest(
    manual_clock: VirtualClock,
) -> None:
    exponential = ItemExponentialFailureRateLimiter(base=1.0, max_delay=100.0)
    fast_slow = ItemFastSlowRateLimiter(fast_delay=3.0, slow_delay=10.0, max_fast_attempts=1)
    limiter = MaxOfRateLimiter(exponential, fast_slow)
    # exponential: 1, 2, 4, 8, 16; fast/slow: 3, 10, 10, 10, 10
    assert [limiter.when("a") for _ in range(5)] == [3.0, 10.0, 10.0, 10.0, 16.0]
    fast_slow.forget("a")
    assert limiter.num_requeues("a") == 5  # the max over the limiters
    limiter.forget("a")
    assert (exponential.num_requeues("a"), fast_slow.num_requeues("a")) == (0, 0)
    with pytest.raises(ValueError, match="at least one"):
        MaxOfRateLimiter()


async def test_default_controller_limiter_is_exponential_per_item_and_bucketed_overall(
    manual_clock: VirtualClock,
) -> None:
    limiter = default_controller_rate_limiter(manual_clock)
    assert [limiter.when("a") for _ in range(3)] == [0.005, 0.01, 0.02]
    assert limiter.num_requeues("a") == 3
    limiter.forget("a")
    assert limiter.num_requeues("a") == 0
    # 3 tokens are spent; 97 more distinct items pass at their first-failure delay ...
    assert {limiter.when(n) for n in range(97)} == {0.005}
    # ... then the 10 qps bucket dominates.
    assert [limiter.when(f"late-{n}") for n in range(2)] == pytest.approx([0.1, 0.2])


def test_limiters_satisfy_the_protocol_for_any_hashable_key() -> None:
    clock = VirtualClock()
    limiters: list[RateLimiter[tuple[str, str]]] = [
        ItemExponentialFailureRateLimiter(),
        ItemFastSlowRateLimiter(0.1, 1.0, 2),
        BucketRateLimiter(clock),
        default_controller_rate_limiter(clock),
    ]
    for limiter in limiters:
        assert limiter.when(("default", "web")) >= 0
