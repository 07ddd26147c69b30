"""`kubeloop replay` and `kubeloop fuzz`: exit status 1 for a reproduced
failure, 0 for a passing scenario or campaign, 2 with one clear line for bad
input; the documented JSON; the same --seed gives the same campaign."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main
from tests.simulation.regressions import FIXED

SCENARIOS = Path(__file__).parent / "scenarios"
RECONNECT = SCENARIOS / "replicaset-reconnect-overcreates.yaml"
BUG_KEPT = str(FIXED[RECONNECT.name].ref)


def kubeloop(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# -- replay -------------------------------------------------------------------------


def test_replay_reproducing_the_recorded_failure_exits_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = kubeloop(capsys, "replay", str(RECONNECT), "--target", BUG_KEPT)
    assert code == 1
    assert "fails: safety:replicaset-within-replicas" in out
    assert "reproduced exactly" in out


def test_replay_json_shape(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = kubeloop(capsys, "replay", str(RECONNECT), "--target", BUG_KEPT, "--json")
    assert code == 1
    result = json.loads(out)
    assert set(result) == {"reproduced", "failure", "expected", "trace_hash", "steps"}
    assert result["reproduced"] is True
    assert result["failure"] == result["expected"]
    assert set(result["failure"]) == {"oracle", "message", "step", "time", "revision", "trace_hash"}
    assert result["failure"]["oracle"] == "safety:replicaset-within-replicas"
    assert result["trace_hash"] == result["failure"]["trace_hash"]
    assert result["steps"] == 4


def test_replay_of_a_passing_scenario_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    # The scenario's own target is the current ReplicaSet controller, bug fixed.
    code, out, _ = kubeloop(capsys, "replay", str(RECONNECT), "--json")
    assert code == 0
    result = json.loads(out)
    assert result["failure"] is None
    assert result["reproduced"] is False
    assert result["expected"]["oracle"] == "safety:replicaset-within-replicas"
    code, out, _ = kubeloop(capsys, "replay", str(RECONNECT))
    assert code == 0
    assert "passes" in out and "did not happen again" in out


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "No such file"),
        ("kubeloop: simulation/v1\nsteps: [\n", "invalid YAML"),
        ("kind: Pod\n", "is not a kubeloop simulation scenario"),
        ("kubeloop: simulation/v1\nsteps: [{op: jump}]\n", "steps[0]: Input tag 'jump'"),
        ("kubeloop: simulation/v1\ntarget: nosuch.module:X\n", "target nosuch.module:X"),
        ("kubeloop: simulation/v1\ntarget: no-colon\n", "module:attribute"),
        ("kubeloop: simulation/v1\ncontrollers: [replicaset, zzz]\n", "unknown controller(s) zzz"),
    ],
    ids=["missing", "not-yaml", "not-a-scenario", "bad-op", "no-module", "bad-ref", "bad-ctl"],
)
def test_replay_of_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, says: str
) -> None:
    path = tmp_path / "scenario.yaml"
    if content is not None:
        path.write_text(content)
    code, out, err = kubeloop(capsys, "replay", str(path), "--json")
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("kubeloop: error: ")
    assert says in err


# -- fuzz ---------------------------------------------------------------------------

TINY = ("fuzz", "--examples", "2", "--steps", "3", "--controllers", "replicaset,deployment")


def _campaign(capsys: pytest.CaptureFixture[str], out_dir: Path, *args: str) -> dict[str, object]:
    code, out, _ = kubeloop(capsys, *TINY, "--out", str(out_dir), "--json", *args)
    assert code == 0, out
    summary = json.loads(out)
    assert isinstance(summary, dict)
    return summary


def test_a_tiny_campaign_exits_0_with_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = kubeloop(
        capsys, *TINY, "--seed", "3", "--faults", "watch,crash", "--out", str(tmp_path)
    )
    assert code == 0
    assert "fuzzed builtin: 2 examples (0 failing)" in out
    assert "no failure found" in out
    summary = _campaign(capsys, tmp_path, "--seed", "3", "--faults", "watch,crash")
    assert set(summary) == {
        "target",
        "seed",
        "fault_kinds",
        "examples",
        "failing_examples",
        "discarded_examples",
        "steps",
        "virtual_seconds",
        "writes",
        "wall_seconds",
        "examples_per_second",
        "faults",
        "ok",
        "failure",
        "failure_seed",
        "scenario",
        "error",
    }
    assert summary["examples"] == 2 and summary["seed"] == 3 and summary["target"] == "builtin"
    assert summary["ok"] is True and summary["failure"] is None
    assert summary["fault_kinds"] == [
        "controller_crash",
        "watch_delay",
        "watch_drop",
        "watch_duplicate",
        "watch_gone",
        "watch_reorder",
    ]
    assert isinstance(summary["steps"], int) and 0 < summary["steps"] <= 6
    assert not list(tmp_path.iterdir()), "no failure, no scenario file"


def test_the_same_seed_gives_the_same_campaign(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def outcome(seed: str) -> dict[str, object]:
        summary = _campaign(capsys, tmp_path, "--seed", seed, "--faults", "all")
        for varies in ("wall_seconds", "examples_per_second"):
            summary.pop(varies)
        return summary

    first = outcome("11")
    assert outcome("11") == first
    assert outcome("12") != first


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("--faults", "watch,gremlins"), "unknown fault class 'gremlins'"),
        (("--controllers", "replicaset,nosuch"), "unknown controller(s) nosuch"),
        (("--examples", "0"), "--examples must be at least 1"),
        (("--steps", "0"), "--steps must be at least 1"),
        (("--target", "nosuch.module:X"), "No module named 'nosuch'"),
    ],
    ids=["faults", "controllers", "examples", "steps", "target"],
)
def test_fuzz_bad_input_exits_2_naming_the_bad_value(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], says: str
) -> None:
    code, out, err = kubeloop(capsys, "fuzz", *args)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("kubeloop: error: ")
    assert says in err


def test_fuzz_refuses_a_budget_that_is_not_a_number(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBELOOP_FUZZ_EXAMPLES", "lots")
    code, _, err = kubeloop(capsys, "fuzz")
    assert code == 2
    assert "KUBELOOP_FUZZ_EXAMPLES must be a number, got 'lots'" in err


def test_a_campaign_that_finds_a_failure_exits_1_and_its_scenario_replays_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    planted = "tests.simulation.planted:NO_EXPECTATIONS"  # over-creates under delayed watches
    code, out, _ = kubeloop(
        capsys, "fuzz", "--target", planted, "--examples", "40", "--steps", "8", "--seed", "3",
        "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert code == 1
    summary = json.loads(out)
    assert summary["ok"] is False
    assert summary["failure"].startswith("safety:replicaset-within-replicas: ")
    assert isinstance(summary["failure_seed"], int)
    scenario = Path(summary["scenario"])
    assert scenario.parent == tmp_path and scenario.exists()
    code, out, _ = kubeloop(capsys, "replay", str(scenario), "--json")
    assert code == 1
    replayed = json.loads(out)
    assert replayed["reproduced"] is True
    assert (
        f"{replayed['failure']['oracle']}: {replayed['failure']['message']}" == (summary["failure"])
    )
