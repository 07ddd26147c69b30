"""A scenario file with an autoscaled node pool: `kubeloop run --json` shows
the nodes the cluster autoscaler added in `node_counts`; bad autoscaler
options are refused naming what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main

SCENARIO = """\
cluster:
  node_pools: [{name: pool, count: 1, min_count: 1, max_count: 4, cpu: "2", provisioning_delay: 30}]
  cluster_autoscaler: {expander: most-pods, scan_interval: 5}
steps:
  - apply: |
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        replicas: 6
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers: [{name: c, image: nginx, resources: {requests: {cpu: "1"}}}]
  - wait: converged
    timeout: 600
"""


def test_scenario_scales_the_pool_and_reports_node_counts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(SCENARIO)
    code = main(["run", str(scenario), "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary
    counts = [entry["nodes"] for entry in summary["node_counts"]]
    assert counts[0] == 1 and counts[-1] == 3
    first_new = summary["node_counts"][1]["at"]
    assert first_new >= 30  # the provisioning delay


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        ("node_pools: [{count: 1, min_count: 2, max_count: 3}]", "count must be within"),
        ("node_pools: [{count: 1, min_count: 1}]", "min_count needs max_count"),
        ("cluster_autoscaler: {expander: cheapest}", "unknown expander 'cheapest'"),
    ],
)
def test_bad_autoscaling_settings_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cluster: str, message: str
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(f"cluster:\n  {cluster}\nsteps:\n  - wait: 1\n")
    code = main(["run", str(scenario), "--json"])
    captured = capsys.readouterr()
    assert code == 2
    assert message in captured.err
