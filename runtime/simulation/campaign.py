"""Fuzz campaigns: run the state machine for N examples, with progress and a summary.

`run_campaign(target, examples=..., seed=..., fault_kinds=..., fault_controllers=...)`
runs `simulation_machine(target)` under hypothesis with the given budget. A
per-example hook gathers statistics (steps, virtual seconds, store writes,
faults that took effect, by kind); `progress` is called after every example.
The result says whether a failure was found and, if so, which (shrunk by
replaying smaller scenarios, unless `shrink` is false), its seed, and the
scenario file to replay.

Neighbours: `runtime.simulation.machine`, `runtime.cli_fuzz` (`kubeloop fuzz`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import seed
from hypothesis.stateful import run_state_machine_as_test

from runtime.simulation.constants import fixed_constant_pool
from runtime.simulation.machine import (
    ExampleStats,
    SimulationFailure,
    fuzz_settings,
    simulation_machine,
)
from runtime.simulation.targets import FuzzTarget

__all__ = ["CampaignProgress", "CampaignResult", "run_campaign"]


@dataclass
class CampaignProgress:
    """Running totals, updated after each example."""

    examples: int = 0
    failing_examples: int = 0
    discarded: int = 0
    """Examples hypothesis abandoned half-drawn; not in `examples` or the totals."""
    steps: int = 0
    virtual_seconds: float = 0.0
    writes: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    started: float = field(default_factory=time.perf_counter)

    @property
    def wall_seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def examples_per_second(self) -> float:
        return self.examples / max(self.wall_seconds, 1e-9)

    def add(self, stats: ExampleStats) -> None:
        if stats.repeat:
            return
        if stats.discarded:
            self.discarded += 1
            return
        self.examples += 1
        self.failing_examples += stats.failed
        self.steps += stats.steps
        self.virtual_seconds += stats.virtual_seconds
        self.writes += stats.writes
        self.faults.update(stats.faults)


@dataclass(frozen=True)
class CampaignResult:
    progress: CampaignProgress
    failure: SimulationFailure | None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.failure is None and self.error is None

    @property
    def scenario(self) -> Path | None:
        return self.failure.path if self.failure is not None else None


def run_campaign(
    target: FuzzTarget,
    *,
    examples: int = 100,
    seed_value: int | None = None,
    fault_kinds: Iterable[str] | None = None,
    fault_controllers: Iterable[str] | None = None,
    steps: int = 20,
    failure_dir: Path | None = Path(".kubeloop/failures"),
    shrink: bool = True,
    progress: Callable[[CampaignProgress], None] | None = None,
) -> CampaignResult:
    """Fuzz `target` for `examples` examples (see the module docstring)."""
    totals = CampaignProgress()

    def observe(stats: ExampleStats) -> None:
        totals.add(stats)
        if progress is not None:
            progress(totals)

    machine = simulation_machine(
        target,
        fault_kinds=fault_kinds,
        fault_controllers=fault_controllers,
        failure_dir=failure_dir,
        shrink=shrink,
        name=f"{target.name.title().replace('-', '')}Campaign"
        + (f"{seed_value}" if seed_value is not None else ""),
    )
    machine.observer = observe
    if seed_value is not None:
        machine = seed(seed_value)(machine)
    budget = fuzz_settings(
        examples, steps=steps, database=None, derandomize=False, print_blob=False
    )
    try:
        with fixed_constant_pool():
            run_state_machine_as_test(machine, settings=budget)
    except SimulationFailure as failure:
        return CampaignResult(totals, failure)
    except Exception as error:  # a failure that is not an oracle's: report it too
        return CampaignResult(totals, None, error)
    return CampaignResult(totals, None)
