"""Hypothesis' pool of local constants, held empty so a seed means the same examples everywhere.

Now and then Hypothesis draws a "constant" instead of a random value: one of
its own interesting values, or a literal found in the source of the local
(non-installed) modules the process has imported so far. That second pool
depends on the process' import history, so the same seed drew different
examples in a `kubeloop fuzz` process, a worker process and a pytest
process, and a derandomized test changed its examples with the set of test
files collected. `fixed_constant_pool()` empties that pool for its duration
(Hypothesis' global constants, which depend on nothing, stay), so a campaign
seed or a derandomized run draws the same examples in any process.

It reaches into Hypothesis' internals (`hypothesis.internal.conjecture.
providers`); where those are absent (another Hypothesis version), it does
nothing, and the sharding tests, which compare in-process runs with worker
processes that import less, say so.

Neighbours: `runtime.simulation.campaign` and `runtime.simulation.sharding`
use it; the test suite holds it for the whole session.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["fixed_constant_pool"]


@contextmanager
def fixed_constant_pool() -> Iterator[None]:
    """Hypothesis draws no constants from imported source within this context."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
    except ImportError:  # pragma: no cover - another Hypothesis layout
        yield
        return
    if not hasattr(providers, "_get_local_constants") or not hasattr(
        providers, "CONSTANTS_CACHE"
    ):  # pragma: no cover - another Hypothesis version
        yield
        return
    empty = Constants()

    def no_local_constants() -> Any:
        return empty

    saved_lookup = providers._get_local_constants
    saved_cache = providers.CONSTANTS_CACHE
    providers._get_local_constants = no_local_constants
    # The cache holds pools already combined with the local constants.
    providers.CONSTANTS_CACHE = type(saved_cache)(1024)
    try:
        yield
    finally:
        providers._get_local_constants = saved_lookup
        providers.CONSTANTS_CACHE = saved_cache
