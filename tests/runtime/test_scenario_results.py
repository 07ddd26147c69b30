"""The step table says how each step ended: a wait that timed out, a step the
run's --timeout stopped, and the steps that never ran."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main
from tests.runtime.test_cli import REPLICASET

TOO_BIG = REPLICASET.replace("cpu: 100m", "cpu: '100'")  # fits on no node


def _run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, steps: str, *args: str
) -> tuple[int, dict[str, object], str]:
    (tmp_path / "rs.yaml").write_text(TOO_BIG)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("cluster: {nodes: 2}\nsteps:\n" + steps)
    code = main(["run", str(scenario), "--json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_a_wait_that_timed_out_and_the_steps_after_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = """\
  - apply: rs.yaml
  - wait: converged
    timeout: 30
  - scale: {kind: ReplicaSet, name: web, replicas: 1}
  - wait: converged
"""
    code, summary, _ = _run(capsys, tmp_path, steps)
    assert code == 1 and summary["converged"] is False
    results = [(s["step"].split()[0], s["result"]) for s in summary["steps"]]  # type: ignore[attr-defined]
    assert results[0] == ("apply", "ok")
    assert results[1][0] == "wait"
    assert results[1][1].startswith("timed out: not converged after 30.0 s: replicaset default/web")
    assert results[2:] == [("scale", "not run"), ("wait", "not run")]
    assert summary["steps"][2]["started_at"] is None  # type: ignore[index]


def test_the_table_shows_the_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "rs.yaml").write_text(TOO_BIG)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "steps:\n  - apply: rs.yaml\n  - wait: converged\n    timeout: 30\n"
        "  - delete: {kind: ReplicaSet, name: web}\n"
    )
    code = main(["run", str(scenario)])
    out = capsys.readouterr().out
    assert code == 1
    assert "timed out" in out and "not run" in out and "result" in out


def test_a_step_stopped_by_the_runs_timeout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    steps = """\
  - apply: rs.yaml
  - wait: 100
  - at: 500
    delete: {kind: ReplicaSet, name: web}
"""
    code, summary, _ = _run(capsys, tmp_path, steps, "--timeout", "50")
    assert code == 1
    results = [s["result"] for s in summary["steps"]]  # type: ignore[attr-defined]
    assert results == ["ok", "stopped: the run ended during the step", "not run"]


def test_a_step_whose_time_never_came(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    steps = """\
  - apply: rs.yaml
  - at: 500
    delete: {kind: ReplicaSet, name: web}
  - wait: converged
"""
    code, summary, _ = _run(capsys, tmp_path, steps, "--timeout", "50")
    assert code == 1
    results = [s["result"] for s in summary["steps"]]  # type: ignore[attr-defined]
    assert results == [
        "ok",
        "stopped: the run ended while the step waited for its time",
        "not run",
    ]
