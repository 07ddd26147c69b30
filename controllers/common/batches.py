"""Slow start: issue many similar calls in batches of 1, 2, 4, ... and stop at
the first batch with a failure (Kubernetes' `slowStartBatch`).

A controller that must create 500 pods into a namespace whose quota (or
admission webhook, or a full store) rejects them makes one failing call, not
500. Calls within a batch are issued one after the other, so the order of
writes (and of generated names) is deterministic.

Neighbours: the replicaset controller creates pods with it; Job and DaemonSet
controllers will too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

__all__ = ["SLOW_START_INITIAL_BATCH_SIZE", "slow_start_batch"]

SLOW_START_INITIAL_BATCH_SIZE: Final = 1


async def slow_start_batch(
    count: int,
    call: Callable[[], Awaitable[None]],
    *,
    initial_batch_size: int = SLOW_START_INITIAL_BATCH_SIZE,
) -> tuple[int, Exception | None]:
    """Await `call()` up to `count` times in doubling batches. Returns the number
    of calls that succeeded and the first error, if a batch had one (the rest of
    that batch still runs; later batches do not)."""
    successes = 0
    remaining = count
    batch = min(remaining, initial_batch_size)
    while batch > 0:
        first_error: Exception | None = None
        for _ in range(batch):
            try:
                await call()
            except Exception as error:
                if first_error is None:
                    first_error = error
            else:
                successes += 1
        if first_error is not None:
            return successes, first_error
        remaining -= batch
        batch = min(2 * batch, remaining)
    return successes, None
