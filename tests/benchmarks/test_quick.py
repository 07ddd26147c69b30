"""`--quick` figures are named as what they are, recorded as quick in the
JSON, and never compared with a full-size target."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import __main__ as bench
from benchmarks.harness import Figure
from benchmarks.scheduler import ENTRIES, quick_name


def test_quick_scheduler_figures_are_named_by_the_counts_they_ran() -> None:
    assert quick_name("SchedulingBasic_5000Nodes") == "SchedulingBasic_500Nodes"
    assert quick_name("PreemptionBasic_500Nodes") == "PreemptionBasic_50Nodes"
    assert quick_name("SchedulingWhileGated_10000GatedPods") == "SchedulingWhileGated_1000GatedPods"
    for entry in ENTRIES:  # every full-size name carries a count the quick run divides
        assert quick_name(entry.name) != entry.name, entry.name


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
