"""`--quick` figures are named as what they are, recorded as quick in the
JSON, and never compared with a full-size target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import __main__ as bench
from benchmarks.harness import Figure
from benchmarks.scheduler import workloads


def test_quick_scheduler_workloads_are_named_by_their_node_count() -> None:
    quick = {w.name: w.nodes for w in workloads(quick=True)}
    full = {w.name: w.nodes for w in workloads(quick=False)}
    assert "SchedulingBasic_500Nodes" in quick and "SchedulingBasic_5000Nodes" in full
    assert "PreemptionBasic_50Nodes" in quick and "PreemptionBasic_500Nodes" in full
    for names in (quick, full):
        for name, nodes in names.items():
            assert f"_{nodes}Nodes" in name


def _suite(quick: bool, repeat: int) -> list[Figure]:
    return [Figure("things_per_s", 5.0, "things/s", 1.0, "higher", "an anchor")]


def test_a_quick_run_is_marked_and_compares_with_no_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(bench.SUITES, "fake", _suite)
    path = tmp_path / "quick.json"
    assert bench.main(["fake", "--quick", "--json", str(path)]) == 0
    table = capsys.readouterr().out
    assert "n/a (quick)" in table and "yes" not in table
    data = json.loads(path.read_text())
    assert data["quick"] is True
    [result] = data["results"]
    assert result["quick"] is True and result["target"] is None and result["met"] is None

    full = tmp_path / "full.json"
    assert bench.main(["fake", "--json", str(full)]) == 0
    assert "yes" in capsys.readouterr().out
    data = json.loads(full.read_text())
    assert data["quick"] is False
    assert data["results"][0]["met"] is True and data["results"][0]["target"] == 1.0
