"""The bundled autoscaling scenario (examples/autoscaling/scenario.yaml): load
through a Service makes the HPA scale out and the cluster autoscaler add
nodes; when the load stops the HPA scales in after its window and the idle
nodes go. Run through the CLI as a user would."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main

SCENARIO = Path(__file__).resolve().parents[2] / "examples" / "autoscaling" / "scenario.yaml"


def test_load_scales_pods_and_nodes_out_and_back_in(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(SCENARIO), "--json", "--timeout", "6000"])
    summary = json.loads(capsys.readouterr().out)
    assert code == 0, summary["problems"]
    assert [step["result"] for step in summary["steps"]] == ["ok"] * len(summary["steps"])
    (web,) = summary["autoscalers"]
    replicas = [count for _, count in web["replicas"]]
    assert max(replicas) == 10 and replicas[-1] == 1
    nodes = [entry["nodes"] for entry in summary["node_counts"]]
    assert nodes[0] == 1 and max(nodes) > 1 and nodes[-1] == 1
    grew = next(e["at"] for e in summary["node_counts"] if e["nodes"] > 1)
    shrank = summary["node_counts"][-1]["at"]
    assert grew < 1200 < shrank, "nodes come with the load and go after it"
    traffic = summary["traffic"]["service/default/web"]
    assert traffic["requests"] == 2000 * 1200
