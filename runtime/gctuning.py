"""`simulation_gc()`: the cyclic garbage collector tuned for big simulations.

A simulated cluster holds millions of long-lived objects (every stored
object, informer caches, kubelet records). CPython's collector rescans all of
them at every full collection, and with its default thresholds those come
often while a large cluster converges: measured here, 11 full collections
took 7.3 s of a 26 s run of 3,000 pods on 1,000 nodes. Raising the thresholds
keeps young-generation collections (which find the short-lived cycles asyncio
makes) and makes full ones rare.

The collector's settings are global to the process, so kubeloop's library
code never touches them; `kubeloop run` and the benchmark suites use this
context manager, and embedders running big simulations may too:

    with simulation_gc():
        asyncio.run(main())

Neighbours: `runtime.cli`, `benchmarks`.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["SIMULATION_GC_THRESHOLDS", "simulation_gc"]

SIMULATION_GC_THRESHOLDS = (50_000, 50, 1000)


@contextmanager
def simulation_gc(thresholds: tuple[int, int, int] = SIMULATION_GC_THRESHOLDS) -> Iterator[None]:
    """Raise the collector's thresholds for the block; restore them after."""
    previous = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*previous)
