"""Rate limiters: how long a workqueue item waits before it is retried.

A `RateLimiter` answers one question per retry, `when(item)`: the delay in
seconds before `item` may be processed again. It may keep per-item state
(failure counts), which `forget(item)` clears once the item succeeded or was
given up; `num_requeues(item)` reports that state. Semantics follow client-go's
`util/workqueue/default_rate_limiters.go`:

* `ItemExponentialFailureRateLimiter`: `base * 2**failures`, capped, per item.
* `ItemFastSlowRateLimiter`: a fast delay for the first N attempts, then slow.
* `BucketRateLimiter`: one token bucket shared by every item, with the
  reservation semantics of Go's `golang.org/x/time/rate` (a `when()` always
  succeeds and returns how long its reservation must wait; tokens refill at
  `qps` up to `burst`), on the injected clock.
* `MaxOfRateLimiter`: the worst (longest) delay of several limiters.
* `default_controller_rate_limiter`: client-go's DefaultControllerRateLimiter,
  per-item exponential 5 ms .. 1000 s combined with a 10 qps / burst 100 bucket.

Limiters are plain synchronous objects for one event loop; none of them waits.
Neighbours: `engine.workqueue` calls them from `add_rate_limited`, `forget`
and `num_requeues`; `engine.clock` supplies the bucket's time.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Protocol, TypeVar

from engine.clock import Clock

__all__ = [
    "BucketRateLimiter",
    "ItemExponentialFailureRateLimiter",
    "ItemFastSlowRateLimiter",
    "MaxOfRateLimiter",
    "RateLimiter",
    "default_controller_rate_limiter",
]

K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class RateLimiter(Protocol[K_contra]):
    """Decides how long an item waits before it is retried."""

    def when(self, item: K_contra) -> float:
        """Seconds `item` must wait now; counts as one more retry of it."""
        ...

    def forget(self, item: K_contra) -> None:
        """Stop tracking `item` (it succeeded, or retrying was given up)."""
        ...

    def num_requeues(self, item: K_contra) -> int:
        """How many retries of `item` have been counted since it was last forgotten."""
        ...


class ItemExponentialFailureRateLimiter:
    """Per-item exponential backoff: the n-th retry (from 0) waits `base * 2**n`,
    never more than `max_delay` seconds. What to do after many failures is the
    caller's business (see `num_requeues`)."""

    def __init__(self, base: float = 0.005, max_delay: float = 1000.0) -> None:
        if not (base >= 0 and max_delay >= 0):
            raise ValueError(f"base and max_delay must be >= 0, got {base=} {max_delay=}")
        self._base = base
        self._max_delay = max_delay
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        try:
            # ldexp is exactly base * 2**failures, and raises rather than lose
            # precision when that no longer fits a float.
            backoff = math.ldexp(self._base, failures)
        except OverflowError:
            return self._max_delay
        return min(backoff, self._max_delay)

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class ItemFastSlowRateLimiter:
    """Per item: the first `max_fast_attempts` retries wait `fast_delay`, every
    later retry waits `slow_delay`."""

    def __init__(self, fast_delay: float, slow_delay: float, max_fast_attempts: int) -> None:
        if fast_delay < 0 or slow_delay < 0 or max_fast_attempts < 0:
            raise ValueError(
                "fast_delay, slow_delay and max_fast_attempts must be >= 0, got "
                f"{fast_delay=} {slow_delay=} {max_fast_attempts=}"
            )
        self._fast_delay = fast_delay
        self._slow_delay = slow_delay
        self._max_fast_attempts = max_fast_attempts
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0) + 1
        self._failures[item] = failures
        return self._fast_delay if failures <= self._max_fast_attempts else self._slow_delay

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """An overall token bucket: `burst` retries pass at once, then `qps` per second.

    Every `when()` reserves one token, going into debt if none is left, and
    returns how long until that debt is paid (Go's `Limiter.Reserve().Delay()`).
    The bucket starts full. It tracks no items: `forget` does nothing and
    `num_requeues` is always 0. `qps=math.inf` never delays.
    """

    def __init__(self, clock: Clock, qps: float = 10.0, burst: int = 100) -> None:
        if not qps > 0:
            raise ValueError(f"qps must be > 0 (math.inf for no limit), got {qps}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self._clock = clock
        self._qps = qps
        self._burst = burst
        self._tokens = float(burst)
        # Time the token count was last brought up to date; None until first
        # use, because a RealClock can only be read inside a running loop.
        self._last: float | None = None

    @property
    def qps(self) -> float:
        return self._qps

    @property
    def burst(self) -> int:
        return self._burst

    def tokens(self) -> float:
        """Tokens available now (negative while reservations are outstanding)."""
        return self._advance(self._clock.monotonic())

    def when(self, item: Hashable) -> float:
        if self._qps == math.inf:
            return 0.0
        now = self._clock.monotonic()
        tokens = self._advance(now) - 1.0
        self._tokens = tokens
        self._last = now
        return 0.0 if tokens >= 0 else -tokens / self._qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0

    def _advance(self, now: float) -> float:
        """Tokens at `now`: the stored count plus what refilled since, up to burst."""
        last = self._last
        if last is None or now <= last:
            return self._tokens
        return min(float(self._burst), self._tokens + (now - last) * self._qps)


class MaxOfRateLimiter:
    """Several limiters at once: an item waits for the longest of their delays.

    Every limiter's `when` is called (each counts the retry). With a bucket
    among them the burst can appear exceeded, since an item whose own delay is
    longest spends a token it did not need (as in client-go).
    """

    def __init__(self, *limiters: RateLimiter[Hashable]) -> None:
        if not limiters:
            raise ValueError("MaxOfRateLimiter needs at least one limiter")
        self._limiters = limiters

    def when(self, item: Hashable) -> float:
        return max([limiter.when(item) for limiter in self._limiters])

    def forget(self, item: Hashable) -> None:
        for limiter in self._limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self._limiters)


def default_controller_rate_limiter(clock: Clock) -> MaxOfRateLimiter:
    """client-go's DefaultControllerRateLimiter: per-item exponential backoff
    from 5 ms to 1000 s, and overall at most 10 retries per second after a
    burst of 100."""
    return MaxOfRateLimiter(
        ItemExponentialFailureRateLimiter(base=0.005, max_delay=1000.0),
        BucketRateLimiter(clock, qps=10.0, burst=100),
    )
