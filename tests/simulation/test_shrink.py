"""Scenario shrinking: irrelevant steps and delays go, the failure stays, and
the shrunk scenario replays its own recorded failure exactly."""

from __future__ import annotations

import pytest

from runtime.simulation.faults import ControllerCrash
from runtime.simulation.operations import Apply, Inject, Scale, Wait
from runtime.simulation.replay import ScenarioFile, pools_to_data, replay
from runtime.simulation.shrink import shrink_scenario
from tests.simulation import planted
from tests.simulation.builders import replica_set


def _padded_scenario() -> ScenarioFile:
    """The one-shot controller crashes between creating pods and recording the
    count; around that, steps that have nothing to do with the failure."""
    crash = ControllerCrash(controller="replicaset", after_writes=2, restart_after=5.0)
    return ScenarioFile(
        target=planted.ONE_SHOT.ref or "",
        seed=11,
        node_pools=pools_to_data(planted.ONE_NODE),
        fault_kinds=["controller_crash"],
        steps=[
            Wait(after=5.0),
            Apply(manifest=replica_set("api", 0), after=1.0),
            Scale(kind="ReplicaSet", name="api", replicas=0, after=2.0),
            Inject(fault=crash, after=0.5),
            Apply(manifest=replica_set("web", 2), after=0.0),
            Wait(after=30.0),
        ],
    )


def test_shrinking_keeps_the_failure_and_drops_the_rest() -> None:
    scenario = _padded_scenario()
    first = replay(scenario)
    assert first.failure is not None and first.failure.oracle == "safety:replicaset-within-replicas"
    recorded = scenario.model_copy(update={"failure": first.failure.to_data()})

    result = shrink_scenario(recorded)

    kept = [step.op for step in result.scenario.steps]
    assert kept == ["inject", "apply"]
    assert all(step.after == 0.0 for step in result.scenario.steps)
    again = replay(result.scenario)
    assert again.reproduced, (again.failure, again.expected)
    assert result.replays <= 40


def test_only_a_failing_scenario_can_be_shrunk() -> None:
    with pytest.raises(ValueError, match="records a failure"):
        shrink_scenario(_padded_scenario())
