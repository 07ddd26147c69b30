"""Acceptance 3: planted bugs are found and shrunk within the CI example budget,
each by the oracle meant for it, and the scenario file written for the failure
replays it exactly (acceptance 5)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import seed
from hypothesis.stateful import run_state_machine_as_test

from runtime.simulation.machine import SimulationFailure, fuzz_settings, simulation_machine
from runtime.simulation.replay import load_scenario_file, replay
from runtime.simulation.targets import FuzzTarget
from tests.simulation import planted

STEPS = 8
HUNT_SEED = 3
HUNT_EXAMPLES = 100


def _hunt(target: FuzzTarget, tmp_path: Path) -> SimulationFailure:
    machine = simulation_machine(target, failure_dir=tmp_path)
    with pytest.raises(SimulationFailure) as caught:
        # A fixed campaign seed, as `kubeloop fuzz --seed` takes: the hunt is the
        # same under every profile, and independent of the test's name.
        run_state_machine_as_test(
            seed(HUNT_SEED)(machine),
            settings=fuzz_settings(HUNT_EXAMPLES, steps=STEPS, database=None, derandomize=False),
        )
    return caught.value


def _replays_exactly(failure: SimulationFailure) -> None:
    assert failure.path is not None and failure.path.exists()
    scenario = load_scenario_file(failure.path)
    result = replay(scenario)
    assert result.failure is not None
    assert result.reproduced, (result.failure, result.expected)
    assert result.failure.trace_hash == failure.failure.trace_hash


@pytest.mark.parametrize(
    ("target", "oracle"),
    [
        (planted.NO_EXPECTATIONS, "safety:replicaset-within-replicas"),
        (planted.EVENT_DRIVEN, "liveness:esr"),
        (planted.ONE_SHOT, "safety:replicaset-within-replicas"),
    ],
    ids=["no-expectations", "event-driven", "not-idempotent"],
)
def test_planted_bug_is_found_shrunk_and_replayed(
    target: FuzzTarget, oracle: str, tmp_path: Path
) -> None:
    failure = _hunt(target, tmp_path)
    assert failure.failure.oracle == oracle
    scenario = load_scenario_file(failure.path)  # type: ignore[arg-type]
    assert len(scenario.steps) <= 6, "hypothesis should shrink the scenario to a few steps"
    _replays_exactly(failure)
