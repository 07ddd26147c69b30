"""The HPA's desired-state oracle: the built-in HPA settles on the formula's
count under the fuzzer, and a planted HPA that never resyncs is caught by
ESR (`autoscalers`), shrunk, and replayed exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import seed
from hypothesis.stateful import run_state_machine_as_test

from runtime.simulation.machine import SimulationFailure, fuzz_settings, simulation_machine
from runtime.simulation.replay import load_scenario_file, replay
from tests.simulation import planted_autoscaling


def test_hpa_settles_on_the_formula() -> None:
    machine = simulation_machine(planted_autoscaling.CORRECT, failure_dir=None)
    run_state_machine_as_test(
        seed(1)(machine), settings=fuzz_settings(5, steps=4, database=None, derandomize=False)
    )


def test_planted_one_sync_hpa_is_found_and_replayed(tmp_path: Path) -> None:
    machine = simulation_machine(planted_autoscaling.ONE_SYNC, failure_dir=tmp_path)
    with pytest.raises(SimulationFailure) as caught:
        run_state_machine_as_test(
            seed(1)(machine),
            settings=fuzz_settings(20, steps=4, database=None, derandomize=False),
        )
    failure = caught.value
    assert failure.failure.oracle == "liveness:esr"
    assert "HorizontalPodAutoscaler default/api" in str(failure.failure)
    assert failure.path is not None
    result = replay(load_scenario_file(failure.path))
    assert result.reproduced, (result.failure, result.expected)
