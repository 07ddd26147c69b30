"""Acceptance 4: the built-in controllers pass the fuzzer with every fault
class on, and every failure the fuzzer found in them stays fixed.

* `test_builtin_controllers_pass_the_fuzzer` runs the `BUILTIN` target's state
  machine (every built-in controller; Deployments, ReplicaSets, StatefulSets,
  DaemonSets, ReplicationControllers, PodDisruptionBudgets and evictions;
  watch, stale, write, crash and node faults, nothing exempted) under the
  active hypothesis profile. Its budget is the profile's, at most
  `CI_EXAMPLES` examples of `STEPS` steps, so it stays within about 20 s
  wall here (more with the apps workloads).
* On demand, set `KUBELOOP_FUZZ_EXAMPLES`, e.g. for the 10,000 examples of
  the acceptance (the budget is then exactly that, whatever the profile):

      KUBELOOP_FUZZ_EXAMPLES=10000 .venv/bin/python -m pytest \\
          tests/simulation/test_builtin_fuzz.py -k pass_the_fuzzer

  A failure names its oracle and seed, and writes its (shrunk) scenario file
  under `KUBELOOP_FAILURE_DIR` (default .kubeloop/failures) for
  `kubeloop replay`. `kubeloop fuzz --examples N --seed S` runs the same
  machine as a campaign with progress and a summary.
* `test_saved_scenario_stays_fixed` replays every scenario file under
  tests/simulation/scenarios/ (each a failure the fuzzer once found in a
  built-in controller) on the current controllers, through to the ESR check:
  none may fail any more.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from runtime.simulation.faults import ALL_FAULT_KINDS
from runtime.simulation.machine import DEFAULT_FAILURE_DIR, simulation_machine
from runtime.simulation.replay import load_scenario_file, replay
from runtime.simulation.targets import BUILTIN

CI_EXAMPLES = 40
"""The most examples a profile gets here unless KUBELOOP_FUZZ_EXAMPLES says otherwise."""
STEPS = 20
"""Operations per example, as `kubeloop fuzz` runs them."""
SCENARIOS = Path(__file__).parent / "scenarios"


def _budget() -> int:
    on_demand = int(os.environ.get("KUBELOOP_FUZZ_EXAMPLES", "0"))
    return on_demand or min(settings().max_examples, CI_EXAMPLES)


def test_builtin_target_spares_nothing() -> None:
    assert set(BUILTIN.fault_kinds) == set(ALL_FAULT_KINDS)
    assert not BUILTIN.exemptions
    assert BUILTIN.fault_controllers is None  # faults may hit every controller


def test_builtin_controllers_pass_the_fuzzer() -> None:
    machine = simulation_machine(BUILTIN, failure_dir=DEFAULT_FAILURE_DIR)
    run_state_machine_as_test(
        machine,
        settings=settings(
            settings(),
            max_examples=_budget(),
            stateful_step_count=STEPS,
        ),
    )


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.stem)
def test_saved_scenario_stays_fixed(path: Path) -> None:
    scenario = load_scenario_file(path)
    assert scenario.target == BUILTIN.ref
    assert scenario.recorded_failure() is not None, "a saved scenario records what it found"
    result = replay(scenario.model_copy(update={"finish": True}))
    assert result.failure is None, f"{path.name}: {result.failure}"
