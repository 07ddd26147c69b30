"""Suite `workloads` measures every figure of the batch and apps controllers
and prints each beside its target (the runs themselves are replaced here:
speed is measured by the suite, not by tests)."""

from __future__ import annotations

import pytest

from benchmarks import workloads, workloads_apps

_SAMPLE = {"wall_s": 5.0, "virtual_s": 100.0, "seconds": 4.0, "pods_per_s": 12_000.0}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[object, ...]]:
    made: list[tuple[object, ...]] = []

    def fake(module: str, *args: object) -> dict[str, float]:
        made.append((module, *args))
        return _SAMPLE

    monkeypatch.setattr(workloads, "run_module", fake)
    monkeypatch.setattr(workloads_apps, "run_module", fake)
    return made


def test_the_suite_has_the_four_workload_figures_with_their_targets(
    calls: list[tuple[object, ...]],
) -> None:
    figures = {f.name: f for f in workloads.run(False, 1)}
    assert {name: (f.target, f.better) for name, f in figures.items()} == {
        "job_10k_completions_s": (20.0, "lower"),
        "cronjob_day_100_s": (10.0, "lower"),
        "daemonset_15k_nodes_pods_per_s": (11_000, "higher"),
        "statefulset_1k_ordered_s": (10.0, "lower"),
    }
    assert figures["daemonset_15k_nodes_pods_per_s"].met is True
    assert figures["job_10k_completions_s"].met is True
    assert ("benchmarks.workloads_apps", "daemonset", 15_000) in calls
    assert ("benchmarks.workloads_apps", "statefulset", 1000) in calls


def test_each_figure_is_the_median_of_at_most_three_runs(calls: list[tuple[object, ...]]) -> None:
    figures = workloads.run(False, 5)
    assert [len(f.runs) for f in figures] == [3, 3, 3, 3]
    assert len(calls) == 12


def test_quick_sizes(calls: list[tuple[object, ...]]) -> None:
    names = [f.name for f in workloads.run(True, 1)]
    assert names == [
        "job_1k_completions_s",
        "cronjob_6h_20_s",
        "daemonset_1.5k_nodes_pods_per_s",
        "statefulset_100_ordered_s",
    ]
