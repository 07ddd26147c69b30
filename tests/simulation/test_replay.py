"""Acceptance 5 of issue 7: a scenario file replays the failure it was written
for, exactly (same oracle, message and trace hash); without its fault it no
longer fails; a broken file is refused with an error naming what is wrong.

Every file in tests/simulation/scenarios/ is replayed. Most record failures of
bugs fixed since: those replay exactly against a target that keeps the bug
(`tests.simulation.regressions.FIXED`); that they pass on the current
controllers is test_builtin_fuzz's `test_saved_scenario_stays_fixed`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runtime.simulation.operations import Inject, Wait
from runtime.simulation.replay import (
    ScenarioError,
    ScenarioFile,
    load_scenario_file,
    replay,
    save_scenario_file,
)
from runtime.simulation.targets import FuzzTarget, load_target
from tests.simulation.regressions import FIXED, REPLICASET_TRUSTS_TIME_TRAVEL, rerecord

SCENARIOS = Path(__file__).parent / "scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))
RECONNECT = SCENARIOS / "replicaset-reconnect-overcreates.yaml"


def _bug_target(path: Path, scenario: ScenarioFile) -> FuzzTarget:
    return FIXED.get(path.name) or load_target(scenario.target)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_scenario_replays_its_recorded_failure_exactly(path: Path) -> None:
    scenario = load_scenario_file(path)
    expected = scenario.recorded_failure()
    assert expected is not None, f"{path.name} records no failure to reproduce"
    result = replay(scenario, target=_bug_target(path, scenario))
    assert result.failure is not None, (
        f"{path.name} no longer fails on {scenario.target}; if its bug was fixed, add a target "
        f"that keeps the bug to tests/simulation/regressions.py (FIXED)"
    )
    assert result.reproduced, (
        f"replayed: {result.failure.to_data()}\nrecorded: {expected.to_data()}\n"
        "(if only the trace hash, time or revision moved, a change elsewhere altered the run's "
        "writes: re-record with `python -m tests.simulation.regressions FILE`)"
    )
    assert result.failure.trace_hash == expected.trace_hash
    assert result.failure.step == expected.step


def test_a_scenario_without_its_fault_no_longer_fails() -> None:
    scenario = load_scenario_file(RECONNECT)
    stale = [i for i, s in enumerate(scenario.steps) if isinstance(s, Inject)]
    assert [scenario.steps[i].fault.kind for i in stale] == ["stale_reads", "watch_delay"]  # type: ignore[union-attr]
    # The reconnecting stale read becomes a plain wait, so the timing is the same.
    steps = list(scenario.steps)
    steps[stale[0]] = Wait(after=steps[stale[0]].after)
    edited = scenario.model_copy(update={"steps": steps})
    result = replay(edited, target=REPLICASET_TRUSTS_TIME_TRAVEL)
    assert result.failure is None
    assert not result.reproduced
    assert result.steps_run == len(steps)


def test_a_scenario_survives_saving_and_loading(tmp_path: Path) -> None:
    scenario = load_scenario_file(RECONNECT)
    copy = save_scenario_file(tmp_path / "nested" / "copy.yaml", scenario)
    assert load_scenario_file(copy) == scenario


def _edited(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "scenario.yaml"
    path.write_text(text)
    return path


def _reconnect_data() -> dict[str, object]:
    data = yaml.safe_load(RECONNECT.read_text())
    assert isinstance(data, dict)
    return data


def _with(**changes: object) -> str:
    return yaml.safe_dump({**_reconnect_data(), **changes}, sort_keys=False)


def _step_changed(index: int, **changes: object) -> str:
    data = _reconnect_data()
    steps = list(data["steps"])  # type: ignore[call-overload]
    steps[index] = {**steps[index], **changes}
    return yaml.safe_dump({**data, "steps": steps}, sort_keys=False)


def _stale_fault(**changes: object) -> str:
    data = _reconnect_data()
    steps = list(data["steps"])  # type: ignore[call-overload]
    steps[2] = {**steps[2], "fault": {**steps[2]["fault"], **changes}}
    return yaml.safe_dump({**data, "steps": steps}, sort_keys=False)


BROKEN = {
    "not-yaml": ("kubeloop: simulation/v1\nsteps: [\n", "invalid YAML at line 3"),
    "not-a-scenario": ("apiVersion: v1\nkind: Pod\n", "is not a kubeloop simulation scenario"),
    "empty": ("", "is not a kubeloop simulation scenario"),
    "future-version": (_with(kubeloop="simulation/v9"), "unsupported scenario version"),
    "unknown-field": (_with(sede=3), "sede: Extra inputs are not permitted"),
    "seed-not-a-number": (_with(seed="forty"), "seed: Input should be a valid integer"),
    "unknown-operation": (_step_changed(0, op="aply"), "steps[0]: Input tag 'aply'"),
    "negative-wait": (_step_changed(1, after=-1), "steps[1].apply.after: Input should be greater"),
    "negative-lag": (
        _stale_fault(lag_revisions=-3),
        "steps[2].inject.fault.stale_reads.lag_revisions: Input should be greater",
    ),
    "unknown-fault-kind": (
        _with(fault_kinds=["stale_reads", "watch_explode"]),
        "unknown fault kind(s) watch_explode",
    ),
    "fault-not-enabled": (
        _with(fault_kinds=["watch_delay"]),
        "steps[2] is a stale_reads fault, which fault_kinds does not enable",
    ),
    "unknown-node-operation": (
        _with(steps=[*_reconnect_data()["steps"], {"op": "fail_node", "node": "node-7"}]),  # type: ignore[misc]
        "steps[4] names node 'node-7', which node_pools do not make (they make node-0, node-1",
    ),
    "unknown-node-fault": (
        _with(faults=[{"kind": "node_crash", "node": "nodo-1", "at": 1, "duration": 5}]),
        "faults[0] names node 'nodo-1'",
    ),
    "bad-pool-field": (_with(node_pools=[{"name": "n", "cuont": 2}]), "unknown field(s) cuont"),
    "bad-pool-count": (_with(node_pools=[{"name": "n", "count": -1}]), "count must be >= 0"),
    "failure-without-oracle": (
        _with(failure={"message": "it broke"}),
        "a recorded failure needs oracle",
    ),
}


@pytest.mark.parametrize(("text", "says"), list(BROKEN.values()), ids=list(BROKEN))
def test_a_broken_scenario_file_is_refused_naming_what_is_wrong(
    tmp_path: Path, text: str, says: str
) -> None:
    path = _edited(tmp_path, text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario_file(path)
    message = str(caught.value)
    assert str(path) in message
    assert says in message
    assert "\n" not in message
    assert "errors.pydantic.dev" not in message


def test_a_scenario_naming_controllers_its_target_lacks_is_refused() -> None:
    scenario = load_scenario_file(RECONNECT).model_copy(update={"controllers": ["replicaset", "x"]})
    with pytest.raises(ValueError, match="unknown controller"):
        scenario.config()


def test_a_failure_recorded_by_hand_without_a_trace_hash_matches_on_oracle_and_message() -> None:
    scenario = load_scenario_file(RECONNECT)
    assert scenario.failure is not None
    by_hand = {k: v for k, v in scenario.failure.items() if k in ("oracle", "message")}
    result = replay(
        scenario.model_copy(update={"failure": by_hand}), target=REPLICASET_TRUSTS_TIME_TRAVEL
    )
    assert result.reproduced
    other = {**by_hand, "message": "something else"}
    result = replay(
        scenario.model_copy(update={"failure": other}), target=REPLICASET_TRUSTS_TIME_TRAVEL
    )
    assert result.failure is not None and not result.reproduced


def test_rerecording_writes_the_failure_as_it_happens_now(tmp_path: Path) -> None:
    stale = tmp_path / RECONNECT.name
    stale.write_text(RECONNECT.read_text().replace("trace_hash: 1a7d", "trace_hash: 0000"))
    assert "re-recorded" in rerecord(stale)
    assert stale.read_text() == RECONNECT.read_text()
    assert rerecord(stale).endswith("unchanged")
