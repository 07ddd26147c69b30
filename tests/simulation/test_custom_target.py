"""Fuzzing a user's own controller (issue 7): the Website example in
examples/fuzz_website, a custom kind with its reconciler and its own oracles.

* The correct reconciler passes the fuzzer with every fault class on, under
  the active hypothesis profile.
* Broken variants (examples/fuzz_website/buggy.py) are caught, each by the
  user's own oracle meant for it (a safety invariant, a desired-state check),
  shrunk, and the scenario file written for the failure names the user's
  target, so `kubeloop replay` reproduces it exactly.
* `kubeloop fuzz --target examples.fuzz_website:WEBSITE` works from the
  repository root, in a fresh process, without PYTHONPATH.
* `kubeloop fuzz` without hypothesis installed says to install kubeloop[fuzz].
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.stateful import run_state_machine_as_test

from examples.fuzz_website import WEBSITE
from examples.fuzz_website.buggy import GENERATED_NAMES, STATUS_FIRST
from runtime.cli import main
from runtime.simulation.campaign import CampaignProgress
from runtime.simulation.faults import ALL_FAULT_KINDS, FAULT_CLASSES
from runtime.simulation.machine import SimulationFailure, fuzz_settings, simulation_machine
from runtime.simulation.replay import load_scenario_file
from runtime.simulation.targets import FuzzTarget, load_target

ROOT = Path(__file__).resolve().parents[2]
STEPS = 20
"""Operations per example, as `kubeloop fuzz` runs them."""
HUNT_STEPS = 12
CI_EXAMPLES = 40
"""The most examples a profile gets here, unless KUBELOOP_FUZZ_EXAMPLES says otherwise."""


_CLASS_OF_EFFECT = {
    "watch_": "watch",
    "stale_": "stale",
    "write_errors": "write",
    "controller_crash": "crash",
    "node_": "node",
    "container_crash": "node",
}


def _classes_that_took_effect(counts: dict[str, int]) -> set[str]:
    """Fault classes among the injector's effect counts ("watch_hold",
    "write_errors:timeout", "stale_reconnect", "node_crash", ...; a
    "...:windows" count is a fault becoming active, not an effect)."""
    return {
        name
        for key in counts
        if not key.endswith(":windows")
        for prefix, name in _CLASS_OF_EFFECT.items()
        if key.startswith(prefix)
    }


def test_website_target_is_importable_by_its_ref() -> None:
    assert WEBSITE.ref is not None
    assert load_target(WEBSITE.ref) is WEBSITE
    for buggy in (GENERATED_NAMES, STATUS_FIRST):
        assert buggy.ref is not None and load_target(buggy.ref) is buggy


def test_website_reconciler_passes_the_fuzzer_with_every_fault_class(tmp_path: Path) -> None:
    machine = simulation_machine(WEBSITE, failure_dir=tmp_path)
    totals = CampaignProgress()
    machine.observer = totals.add
    on_demand = int(os.environ.get("KUBELOOP_FUZZ_EXAMPLES", "0"))
    budget = on_demand or min(settings().max_examples, CI_EXAMPLES)
    run_state_machine_as_test(machine, settings=fuzz_settings(budget, steps=STEPS))
    assert set(WEBSITE.fault_kinds) == set(ALL_FAULT_KINDS)
    assert totals.examples > 0 and totals.failing_examples == 0
    took_effect = _classes_that_took_effect(dict(totals.faults))
    # Hypothesis switches rules off at random per example (swarm testing), so a
    # small budget may inject few faults; a long run reaches every class.
    assert len(took_effect) >= 3, totals.faults
    if totals.examples >= 200:
        assert took_effect == set(FAULT_CLASSES), totals.faults


@pytest.mark.parametrize(
    ("target", "oracle", "says"),
    [
        (GENERATED_NAMES, "safety:website-one-replicaset", "controls 2 ReplicaSets"),
        (STATUS_FIRST, "liveness:esr", "Website default/"),
    ],
    ids=["generated-names", "status-first"],
)
def test_buggy_reconciler_is_caught_by_the_users_oracle(
    target: FuzzTarget,
    oracle: str,
    says: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    machine = simulation_machine(target, failure_dir=tmp_path)
    # Derandomized under every profile: the test is that the user's oracle
    # catches the bug within a CI budget, not how lucky one random draw is.
    hunt = fuzz_settings(steps=HUNT_STEPS, database=None, derandomize=True)
    with pytest.raises(SimulationFailure) as caught:
        run_state_machine_as_test(machine, settings=hunt)
    failure = caught.value
    assert failure.failure.oracle == oracle
    assert says in failure.failure.message
    assert failure.path is not None
    scenario = load_scenario_file(failure.path)
    assert scenario.target == target.ref
    assert len(scenario.steps) <= 6, "the scenario is shrunk to a few steps"

    # `kubeloop replay FILE` finds the user's target through the file's ref
    # and reproduces the failure exactly.
    capsys.readouterr()
    assert main(["replay", str(failure.path), "--json"]) == 1
    replayed = json.loads(capsys.readouterr().out)
    assert replayed["reproduced"] is True
    assert replayed["trace_hash"] == failure.failure.trace_hash


def test_kubeloop_fuzz_runs_a_users_target_from_the_repository_root(tmp_path: Path) -> None:
    kubeloop = Path(sys.executable).with_name("kubeloop")
    if not kubeloop.exists():
        pytest.skip("the kubeloop script is not installed next to this interpreter")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KUBELOOP_FUZZ_EXAMPLES")}
    done = subprocess.run(
        [
            str(kubeloop),
            "fuzz",
            "--target",
            "examples.fuzz_website:WEBSITE",
            "--examples",
            "5",
            "--seed",
            "3",
            "--out",
            str(tmp_path),
            "--json",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert summary["target"] == "website"
    assert summary["ok"] is True
    # Hypothesis may run a few examples past the budget that it then discards
    # (an overrun): the summary counts every example simulated.
    assert summary["examples"] >= 5
    assert not list(tmp_path.iterdir()), "no failure, no scenario file"


def test_kubeloop_fuzz_without_hypothesis_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)  # `import hypothesis` fails
    code = main(["fuzz", "--target", "examples.fuzz_website:WEBSITE", "--examples", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1
    assert "pip install 'kubeloop[fuzz]'" in err
