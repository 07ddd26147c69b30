"""Cluster time starts at 0 for every run, on the real clock as on the virtual
one: an `at:` step of a real-time scenario waits that long in wall time, and
the summary counts cluster seconds from the start of the run."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from runtime.cli import main


def test_real_time_scenario_waits_for_at_and_counts_from_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("cluster: {nodes: 1, virtual_time: false}\nsteps:\n  - {at: 4, wait: 0}\n")
    started = time.monotonic()
    code = main(["run", str(scenario), "--json"])
    wall = time.monotonic() - started
    summary = json.loads(capsys.readouterr().out)
    assert code == 0
    [step] = summary["steps"]
    assert wall >= 4
    # Cluster seconds count from the cluster's start, so they never exceed the
    # wall seconds of the run (the machine's uptime would); the summary rounds
    # to milliseconds, hence the slack.
    assert step["started_at"] >= 4
    slack = 0.01
    assert step["started_at"] <= summary["virtual_seconds"] + slack
    assert summary["virtual_seconds"] <= summary["seconds"] + slack
    assert summary["seconds"] <= wall + slack
