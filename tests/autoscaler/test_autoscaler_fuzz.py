"""The cluster autoscaler under the fuzzer: the `AUTOSCALING` target (every
built-in controller and an autoscaled pool, every fault class, nothing
exempted) passes the state machine within the active hypothesis profile's
budget (at most `CI_EXAMPLES` examples of `STEPS` steps; set
KUBELOOP_FUZZ_EXAMPLES for more), with the autoscaler's invariants checked
after every write and the ESR check at the end."""

from __future__ import annotations

import os

from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from runtime.simulation.faults import ALL_FAULT_KINDS
from runtime.simulation.machine import DEFAULT_FAILURE_DIR, simulation_machine
from runtime.simulation.targets import AUTOSCALING

CI_EXAMPLES = 15
STEPS = 20


def test_autoscaling_target_spares_nothing() -> None:
    assert set(AUTOSCALING.fault_kinds) == set(ALL_FAULT_KINDS)
    assert not AUTOSCALING.exemptions
    assert "clusterautoscaler" in AUTOSCALING.fault_targets()
    assert AUTOSCALING.node_pools is not None and AUTOSCALING.node_pools[0].autoscaled


def test_autoscaler_passes_the_fuzzer() -> None:
    budget = int(os.environ.get("KUBELOOP_FUZZ_EXAMPLES", "0")) or min(
        settings().max_examples, CI_EXAMPLES
    )
    machine = simulation_machine(AUTOSCALING, failure_dir=DEFAULT_FAILURE_DIR)
    run_state_machine_as_test(
        machine, settings=settings(settings(), max_examples=budget, stateful_step_count=STEPS)
    )
