"""Scenario shrinking: the smallest scenario that still fails the same way.

Hypothesis' own shrinker works on the random choices behind an example. In a
simulation nearly every choice (the seed above all) changes the whole run, so
it replays hundreds of near misses before it settles: minutes per failure,
more than a CI budget allows. `shrink_scenario` works on the scenario itself
instead, replaying candidates deterministically:

1. delta debugging over the upfront faults and the steps: drop chunks of
   halving size, keeping every removal after which the run still fails;
2. each remaining step's delay (`after`) set to zero where that still fails.

A candidate counts as failing when its replay fails with the same oracle (the
message may differ: fewer pods, other names). The seed and node pools stay
as they were. The result records the failure its own replay gives, trace hash
included, so `replay` reproduces it exactly. `budget` bounds the replays.

The fuzzing state machine calls this on the first failure it sees and runs
hypothesis without its shrink phase (`runtime.simulation.machine`).

Neighbours: `runtime.simulation.replay` (runs candidates), `runtime.simulation.machine`,
`runtime.simulation.campaign`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from runtime.simulation.faults import Fault
from runtime.simulation.operations import Operation
from runtime.simulation.replay import ReplayResult, ScenarioFile, replay
from runtime.simulation.targets import FuzzTarget

__all__ = ["ShrinkResult", "shrink_scenario"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ShrinkResult:
    scenario: ScenarioFile
    """The smallest failing scenario found, its recorded failure its own."""
    replays: int
    """Candidates replayed."""


class _Shrinker:
    def __init__(self, scenario: ScenarioFile, oracle: str, target: FuzzTarget | None) -> None:
        self.best = scenario
        self.oracle = oracle
        self.target = target
        self.replays = 0

    def try_candidate(self, candidate: ScenarioFile, budget: int) -> bool:
        if self.replays >= budget:
            return False
        self.replays += 1
        result = replay(candidate, target=self.target)
        if result.failure is None or result.failure.oracle != self.oracle:
            return False
        self.best = _recorded(candidate, result)
        return True

    def drop_chunks(
        self,
        items: Callable[[ScenarioFile], Sequence[T]],
        rebuild: Callable[[ScenarioFile, list[T]], ScenarioFile],
        budget: int,
    ) -> None:
        chunk = max(1, len(items(self.best)) // 2)
        while chunk >= 1:
            start = 0
            while start < len(items(self.best)):
                current = list(items(self.best))
                candidate = rebuild(self.best, current[:start] + current[start + chunk :])
                if not self.try_candidate(candidate, budget):
                    start += chunk
            chunk //= 2


def _recorded(candidate: ScenarioFile, result: ReplayResult) -> ScenarioFile:
    assert result.failure is not None
    return candidate.model_copy(update={"failure": result.failure.to_data()})


def _with_steps(scenario: ScenarioFile, steps: list[Operation]) -> ScenarioFile:
    return scenario.model_copy(update={"steps": steps})


def _with_faults(scenario: ScenarioFile, faults: list[Fault]) -> ScenarioFile:
    return scenario.model_copy(update={"faults": faults})


def shrink_scenario(
    scenario: ScenarioFile, *, target: FuzzTarget | None = None, budget: int = 150
) -> ShrinkResult:
    """Shrink a failing scenario (see the module docstring); ValueError if it
    records no failure."""
    recorded = scenario.recorded_failure()
    if recorded is None:
        raise ValueError("only a scenario that records a failure can be shrunk")
    # Run every candidate to the end: a shorter scenario may fail only at the
    # final liveness check, and a safety failure stops the replay where it is.
    shrinker = _Shrinker(scenario.model_copy(update={"finish": True}), recorded.oracle, target)
    shrinker.drop_chunks(lambda s: s.faults, _with_faults, budget)
    shrinker.drop_chunks(lambda s: s.steps, _with_steps, budget)
    for index in range(len(shrinker.best.steps)):
        steps = list(shrinker.best.steps)
        if steps[index].after > 0:
            steps[index] = steps[index].model_copy(update={"after": 0.0})
            shrinker.try_candidate(_with_steps(shrinker.best, steps), budget)
    return ShrinkResult(shrinker.best, shrinker.replays)
