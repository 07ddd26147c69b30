"""Sharded fuzz campaigns: the same examples on one process, N processes or a Dask cluster.

A campaign of E examples with seed S is cut into shards of `SHARD_EXAMPLES`
examples; shard k runs `run_campaign` with the seed derived from (S, k), so
which examples run, and which fail, depends only on E and S, never on how
many workers run the shards or in what order they finish. The caller gathers
the shards' results in shard order:

* counts (examples, steps, virtual seconds, writes, faults by kind) are the
  sums over the shards that count;
* a campaign stops at its first failure, as an unsharded one does: when shard
  k fails, the result is shards 0..k and shard k's failure (shrunk, with its
  scenario file); shards after k are cancelled or, if already running,
  finished and ignored. So a 2-worker campaign reports exactly what a
  1-worker campaign with the same seed reports, wall time aside.

Where shards run:

* `workers=1` and no executor: in this process, one after another, with
  progress after every example;
* `workers=N`: N local processes; progress after every shard. They are
  `fork`ed from this process when it is safe to (POSIX, one thread, no event
  loop running here), so a worker starts with every module this process
  imported (the target, hypothesis, the simulator) instead of importing them
  again, and ends with `os._exit` instead of tearing down its heap; they are
  `spawn`ed otherwise (a thread or a running loop would be copied half-way).
  Either way a worker raises the collector's thresholds as
  `runtime.gctuning.simulation_gc` does and freezes what it starts with
  (`gc.freeze`), so its collections never rescan the imported modules (see
  `worker_init`). A shard's result depends on neither: it is the same in
  this process, a forked one or a spawned one;
* `executor=`: any `concurrent.futures.Executor`, such as a Dask
  distributed cluster's (`Client(address).get_executor()`, which
  `kubeloop fuzz --cluster ADDRESS` uses). Dask was chosen over Ray because
  it is pure Python with a small install, its client is an ordinary
  executor, and its start-up and per-task overhead were measured at a
  fraction of a shard's run time (see the README's fuzzing section).

A worker process that dies (killed, out of memory, a segfault in an
extension) loses only the shards it was running: they are run again, up to
`MAX_ATTEMPTS` times each, after which the shard is reported as an error.
A local pool that breaks takes the shards in flight on its other workers
with it; they are re-run too (results never depend on which attempt ran).

A target is sent to workers by its `ref` ("module:attribute"); a target
without one can only run in-process.

Neighbours: `runtime.simulation.campaign` (one shard), `runtime.cli_fuzz`
(`kubeloop fuzz --workers/--cluster`).
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import multiprocessing
import multiprocessing.context
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from runtime.gctuning import SIMULATION_GC_THRESHOLDS
from runtime.simulation.targets import FuzzTarget

__all__ = [
    "MAX_ATTEMPTS",
    "SHARD_EXAMPLES",
    "FailureReport",
    "Shard",
    "ShardResult",
    "ShardedCampaign",
    "derive_seed",
    "plan_shards",
    "run_shard",
    "run_sharded_campaign",
    "worker_context",
    "worker_init",
]

SHARD_EXAMPLES = 10
"""Examples per shard. Part of what a seed means: changing it changes which
examples a campaign of a given seed runs."""

MAX_ATTEMPTS = 3
"""Runs of one shard before a dying worker is reported as the shard's error."""


def derive_seed(campaign_seed: int, index: int) -> int:
    """The hypothesis seed of shard `index` of a campaign (stable across
    processes, Python versions and machines, unlike `hash`)."""
    digest = hashlib.sha256(f"kubeloop-shard:{campaign_seed}:{index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


@dataclass(frozen=True)
class Shard:
    """One shard's work, in a form a worker process can be sent."""

    index: int
    seed: int
    examples: int
    target_ref: str | None
    fault_kinds: tuple[str, ...] | None = None
    fault_controllers: tuple[str, ...] | None = None
    steps: int = 20
    failure_dir: str | None = None
    shrink: bool = True
    search_path: tuple[str, ...] = ()
    """Directories to put on sys.path before importing the target (the
    caller's working directory, where a user's target module lives)."""
    log_level: str | None = None
    """The controllers' log level in the worker (`kubeloop fuzz --log-level`):
    a spawned worker does not inherit the caller's logging set-up."""


def plan_shards(
    examples: int,
    campaign_seed: int,
    *,
    target_ref: str | None,
    fault_kinds: Iterable[str] | None = None,
    fault_controllers: Iterable[str] | None = None,
    steps: int = 20,
    failure_dir: Path | None = None,
    shrink: bool = True,
    search_path: Iterable[str] = (),
    log_level: str | None = None,
) -> list[Shard]:
    """Cut `examples` into shards of `SHARD_EXAMPLES` (the last one smaller)."""
    if examples < 1:
        raise ValueError(f"a campaign needs at least 1 example, got {examples}")
    kinds = tuple(sorted(fault_kinds)) if fault_kinds is not None else None
    controllers = tuple(fault_controllers) if fault_controllers is not None else None
    shards = []
    for index, start in enumerate(range(0, examples, SHARD_EXAMPLES)):
        shards.append(
            Shard(
                index=index,
                seed=derive_seed(campaign_seed, index),
                examples=min(SHARD_EXAMPLES, examples - start),
                target_ref=target_ref,
                fault_kinds=kinds,
                fault_controllers=controllers,
                steps=steps,
                failure_dir=str(failure_dir) if failure_dir is not None else None,
                shrink=shrink,
                search_path=tuple(search_path),
                log_level=log_level,
            )
        )
    return shards


@dataclass(frozen=True)
class FailureReport:
    """An oracle's failure as plain values: its message, seed and scenario file."""

    message: str
    seed: int
    scenario: str | None


@dataclass(frozen=True)
class ShardResult:
    """What one shard did, as plain values (picklable across processes)."""

    index: int
    examples: int = 0
    failing_examples: int = 0
    discarded: int = 0
    steps: int = 0
    virtual_seconds: float = 0.0
    writes: int = 0
    faults: dict[str, int] = field(default_factory=dict)
    failure: FailureReport | None = None
    error: str | None = None
    attempts: int = 1

    @property
    def ends_campaign(self) -> bool:
        return self.failure is not None or self.error is not None


def run_shard(shard: Shard, target: FuzzTarget | None = None) -> ShardResult:
    """Run one shard (in whatever process calls this) and report it."""
    from runtime.simulation.campaign import run_campaign
    from runtime.simulation.targets import load_target

    for entry in shard.search_path:
        if entry not in sys.path:
            sys.path.insert(0, entry)
    if shard.log_level is not None:
        from engine.logging import configure_logging

        configure_logging(shard.log_level)
    if target is None:
        if shard.target_ref is None:
            raise ValueError("a shard sent to a worker needs its target's ref (module:attribute)")
        target = load_target(shard.target_ref)
    result = run_campaign(
        target,
        examples=shard.examples,
        seed_value=shard.seed,
        fault_kinds=shard.fault_kinds,
        fault_controllers=shard.fault_controllers,
        steps=shard.steps,
        failure_dir=Path(shard.failure_dir) if shard.failure_dir is not None else None,
        shrink=shard.shrink,
    )
    return _plain(shard.index, result)


def _plain(index: int, result: Any) -> ShardResult:
    progress = result.progress
    failure = result.failure
    return ShardResult(
        index=index,
        examples=progress.examples,
        failing_examples=progress.failing_examples,
        discarded=progress.discarded,
        steps=progress.steps,
        virtual_seconds=progress.virtual_seconds,
        writes=progress.writes,
        faults=dict(progress.faults),
        failure=(
            FailureReport(
                str(failure.failure),
                failure.seed,
                str(failure.path) if failure.path is not None else None,
            )
            if failure is not None
            else None
        ),
        error=repr(result.error) if result.error is not None else None,
    )


@dataclass
class ShardedCampaign:
    """A sharded campaign's gathered result (see the module docstring)."""

    seed: int
    shards_planned: int
    results: list[ShardResult]
    """The shards that count, in shard order."""

    @property
    def examples(self) -> int:
        return sum(r.examples for r in self.results)

    @property
    def failing_examples(self) -> int:
        return sum(r.failing_examples for r in self.results)

    @property
    def discarded(self) -> int:
        return sum(r.discarded for r in self.results)

    @property
    def steps(self) -> int:
        return sum(r.steps for r in self.results)

    @property
    def virtual_seconds(self) -> float:
        return sum(r.virtual_seconds for r in self.results)

    @property
    def writes(self) -> int:
        return sum(r.writes for r in self.results)

    @property
    def faults(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for r in self.results:
            total.update(r.faults)
        return total

    @property
    def failure(self) -> FailureReport | None:
        return next((r.failure for r in self.results if r.failure is not None), None)

    @property
    def error(self) -> str | None:
        return next((r.error for r in self.results if r.error is not None), None)

    @property
    def ok(self) -> bool:
        return self.failure is None and self.error is None

    def comparable(self) -> dict[str, Any]:
        """Everything but timing: equal for equal (examples, seed), whatever ran it."""
        return {
            "seed": self.seed,
            "shards": [replace(r, attempts=1) for r in self.results],
        }


class _Gatherer:
    """Keeps finished shards and knows when the campaign's answer is settled."""

    def __init__(self, planned: int) -> None:
        self.planned = planned
        self.done: dict[int, ShardResult] = {}

    def add(self, result: ShardResult) -> None:
        self.done[result.index] = result

    @property
    def first_end(self) -> int | None:
        ends = [i for i, r in self.done.items() if r.ends_campaign]
        return min(ends) if ends else None

    def settled(self) -> bool:
        """Every shard up to the first failing one (or all of them) is in."""
        last = self.first_end if self.first_end is not None else self.planned - 1
        return all(i in self.done for i in range(last + 1))

    def counted(self) -> list[ShardResult]:
        last = self.first_end if self.first_end is not None else self.planned - 1
        return [self.done[i] for i in range(last + 1) if i in self.done]


def run_sharded_campaign(
    target: FuzzTarget,
    *,
    examples: int,
    seed_value: int,
    workers: int = 1,
    executor: Executor | None = None,
    fault_kinds: Iterable[str] | None = None,
    fault_controllers: Iterable[str] | None = None,
    steps: int = 20,
    failure_dir: Path | None = Path(".kubeloop/failures"),
    shrink: bool = True,
    progress: Callable[[ShardedCampaign], None] | None = None,
    log_level: str | None = None,
) -> ShardedCampaign:
    """Run a campaign in shards (see the module docstring); `progress` gets the
    running totals of the shards counted so far."""
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    remote = executor is not None or workers > 1
    if remote and target.ref is None:
        raise ValueError(
            f"target {target.name!r} has no ref (module:attribute), so worker processes "
            "cannot import it; give it one or run with one worker"
        )
    shards = plan_shards(
        examples,
        seed_value,
        target_ref=target.ref,
        fault_kinds=fault_kinds,
        fault_controllers=fault_controllers,
        steps=steps,
        failure_dir=failure_dir,
        shrink=shrink,
        search_path=(os.getcwd(),),
        log_level=log_level,
    )
    gathered = _Gatherer(len(shards))

    def report() -> None:
        if progress is not None:
            progress(ShardedCampaign(seed_value, len(shards), gathered.counted()))

    if not remote:
        _run_here(target, shards, gathered, progress, seed_value)
    elif executor is not None:
        _run_on(executor, shards, gathered, report)
    else:
        _run_local_pool(workers, shards, gathered, report)
    return ShardedCampaign(seed_value, len(shards), gathered.counted())


def _run_here(
    target: FuzzTarget,
    shards: list[Shard],
    gathered: _Gatherer,
    progress: Callable[[ShardedCampaign], None] | None,
    seed_value: int,
) -> None:
    from runtime.simulation.campaign import CampaignProgress, run_campaign

    for shard in shards:

        def observe(live: CampaignProgress, shard: Shard = shard) -> None:
            if progress is not None:
                partial = _plain(shard.index, _Live(live))
                progress(ShardedCampaign(seed_value, len(shards), [*gathered.counted(), partial]))

        result = run_campaign(
            target,
            examples=shard.examples,
            seed_value=shard.seed,
            fault_kinds=shard.fault_kinds,
            fault_controllers=shard.fault_controllers,
            steps=shard.steps,
            failure_dir=Path(shard.failure_dir) if shard.failure_dir is not None else None,
            shrink=shard.shrink,
            progress=observe,
        )
        gathered.add(_plain(shard.index, result))
        if gathered.first_end is not None:
            return


@dataclass(frozen=True)
class _Live:
    """A campaign in progress, shaped as a finished one for `_plain`."""

    progress: Any
    failure: None = None
    error: None = None


def worker_context() -> multiprocessing.context.BaseContext:
    """How local workers start: `fork` when this process can be copied
    safely (POSIX, this thread alone, no event loop running in it), else
    `spawn` (see the module docstring)."""
    safe = (
        sys.platform != "darwin"  # macOS' system libraries are not fork-safe
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and not _loop_running()
    )
    return multiprocessing.get_context("fork" if safe else "spawn")


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def worker_init() -> None:
    """Set up a worker process for campaigns: the collector's thresholds
    raised (a fuzz example makes short-lived cycles by the thousand, and a
    full collection would rescan hypothesis, pydantic and every kubeloop
    module each time), and the objects the worker starts with frozen out of
    collection for good."""
    gc.set_threshold(*SIMULATION_GC_THRESHOLDS)
    gc.freeze()


def _run_local_pool(
    workers: int, shards: list[Shard], gathered: _Gatherer, report: Callable[[], None]
) -> None:
    # Imported before the workers start, so forked ones start with it.
    import runtime.simulation.campaign  # noqa: F401

    attempts: Counter[int] = Counter()
    pending = list(shards)
    while pending:
        # Chosen per pool: a pool re-made after a worker died may see threads
        # (the caller's) that were not there before.
        context = worker_context()
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=worker_init
        ) as pool:
            futures = {pool.submit(run_shard, shard): shard for shard in pending}
            pending = []
            for future in as_completed(futures):
                shard = futures[future]
                attempts[shard.index] += 1
                try:
                    result = future.result()
                except BrokenProcessPool:
                    if attempts[shard.index] < MAX_ATTEMPTS:
                        pending.append(shard)
                        continue
                    result = _died(shard, attempts[shard.index])
                gathered.add(replace(result, attempts=attempts[shard.index]))
                report()
                if gathered.settled():
                    _cancel(futures)
                    return
        pending.sort(key=lambda shard: shard.index)
        pending = [s for s in pending if not _beyond_end(s, gathered)]


def _run_on(
    executor: Executor, shards: list[Shard], gathered: _Gatherer, report: Callable[[], None]
) -> None:
    futures = {executor.submit(run_shard, shard): shard for shard in shards}
    for future in as_completed(futures):
        shard = futures[future]
        try:
            result = future.result()
        except Exception as error:  # the cluster gave up on the shard (e.g. KilledWorker)
            result = replace(_died(shard, MAX_ATTEMPTS), error=f"shard {shard.index}: {error!r}")
        gathered.add(result)
        report()
        if gathered.settled():
            _cancel(futures)
            return


def _died(shard: Shard, attempts: int) -> ShardResult:
    return ShardResult(
        index=shard.index,
        error=f"shard {shard.index}: its worker process died in each of {attempts} attempts",
        attempts=attempts,
    )


def _beyond_end(shard: Shard, gathered: _Gatherer) -> bool:
    end = gathered.first_end
    return end is not None and shard.index > end


def _cancel(futures: dict[Future[ShardResult], Shard]) -> None:
    for future in futures:
        future.cancel()
