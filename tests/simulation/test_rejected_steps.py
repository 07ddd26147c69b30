"""A scenario step the API refuses is never silently passed over: `kubeloop
replay` calls the scenario invalid (exit 2, naming the step) unless the step
says what it expects, in which case a refusal it did not expect (or an
acceptance it did not) is a failure (exit 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main

DEPLOYMENT = (
    "{apiVersion: apps/v1, kind: Deployment, metadata: {name: web, namespace: default},"
    " spec: {replicas: REPLICAS, selector: {matchLabels: {app: web}}, template: {metadata:"
    " {labels: {app: web}}, spec: {containers: [{name: c, image: nginx}]}}}}"
)


def scenario(tmp_path: Path, replicas: int, expect: str | None = None) -> Path:
    extra = f", expect: {expect}" if expect else ""
    path = tmp_path / "scenario.yaml"
    path.write_text(
        "kubeloop: simulation/v1\n"
        "node_pools: [{name: node, count: 1}]\n"
        "steps:\n"
        f"  - {{op: apply, manifest: {DEPLOYMENT.replace('REPLICAS', str(replicas))}{extra}}}\n"
        "  - {op: wait, after: 5}\n"
    )
    return path


def replay(capsys: pytest.CaptureFixture[str], path: Path) -> tuple[int, str, str]:
    code = main(["replay", str(path), "--json"])
    out, err = capsys.readouterr()
    return code, out, err


def test_a_step_the_api_refuses_makes_the_scenario_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = replay(capsys, scenario(tmp_path, -3))
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "steps[0]" in err and "rejected" in err and "spec.replicas" in err


def test_a_refusal_of_a_step_expected_to_be_accepted_is_a_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = replay(capsys, scenario(tmp_path, -3, "accepted"))
    assert code == 1
    failure = json.loads(out)["failure"]
    assert failure["oracle"] == "api:rejected" and "spec.replicas" in failure["message"]


def test_a_step_expected_to_be_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = replay(capsys, scenario(tmp_path, -3, "rejected"))
    assert code == 0, out
    code, out, _ = replay(capsys, scenario(tmp_path, 2, "rejected"))
    assert code == 1
    assert json.loads(out)["failure"]["oracle"] == "api:accepted"


def test_a_valid_scenario_still_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = replay(capsys, scenario(tmp_path, 2))
    assert code == 0, out
