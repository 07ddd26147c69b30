"""`kubeloop run --output FORMAT DEST`: the final objects as `kubectl get -o` prints them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.manifests import load_manifests
from runtime.cli import main
from tests.runtime.test_cli import REPLICASET

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
"""


def _manifests(tmp_path: Path) -> Path:
    path = tmp_path / "objects.yaml"
    path.write_text(REPLICASET + "---\n" + CONFIGMAP)
    return path


def _check_list(document: dict[str, Any]) -> list[dict[str, Any]]:
    assert document["apiVersion"] == "v1" and document["kind"] == "List"
    items: list[dict[str, Any]] = document["items"]
    for item in items:
        assert {"apiVersion", "kind", "metadata"} <= item.keys()
        assert item["metadata"]["uid"] and item["metadata"]["resourceVersion"]
    # Only Kubernetes' fields: every item loads back as a manifest (unknown fields fail).
    assert len(load_manifests(json.dumps(document))) == len(items)
    return items


def test_yaml_on_stdout_with_the_summary_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["run", str(_manifests(tmp_path)), "--nodes", "2", "--json", "-o", "yaml", "-"])
    out, err = capsys.readouterr()
    assert code == 0
    assert json.loads(err)["converged"] is True
    items = _check_list(yaml.safe_load(out))
    kinds = [item["kind"] for item in items]
    assert kinds.count("Pod") == 4 and kinds.count("Node") == 2
    assert {"Namespace", "ReplicaSet", "ConfigMap"} <= set(kinds)
    assert "Lease" not in kinds and "Event" not in kinds
    assert kinds.index("Namespace") < kinds.index("Node") < kinds.index("Pod")
    pods = [item for item in items if item["kind"] == "Pod"]
    assert all(p["spec"]["nodeName"] and p["status"]["phase"] == "Running" for p in pods)
    assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
    configmaps = {i["metadata"]["name"]: i for i in items if i["kind"] == "ConfigMap"}
    assert configmaps.pop("settings")["data"] == {"mode": "fast"}
    assert set(configmaps) == {"kube-root-ca.crt"}  # the root CA publisher's, per namespace


def test_json_into_a_directory_one_list_per_kind(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "state"
    code = main(
        ["run", str(_manifests(tmp_path)), "--nodes", "2", "--output", "json", str(out_dir)]
    )
    out, _ = capsys.readouterr()
    assert code == 0 and "converged" in out  # the summary table, as without --output
    names = sorted(p.name for p in out_dir.iterdir())
    assert {"pods.json", "nodes.json", "replicasets.apps.json", "configmaps.json"} <= set(names)
    assert not any(n.startswith(("leases", "events")) for n in names)
    pods = _check_list(json.loads((out_dir / "pods.json").read_text()))
    assert len(pods) == 4 and {p["kind"] for p in pods} == {"Pod"}
    (rs,) = _check_list(json.loads((out_dir / "replicasets.apps.json").read_text()))
    assert rs["status"]["readyReplicas"] == 4


@pytest.mark.parametrize(
    ("output", "message"),
    [(["xml", "-"], "unknown format 'xml'"), (["yaml", "FILE"], "is not a directory")],
)
def test_bad_output_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], output: list[str], message: str
) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("")
    output = [str(a_file) if o == "FILE" else o for o in output]
    code = main(["run", str(_manifests(tmp_path)), "--output", *output])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.startswith("kubeloop: error: --output: ") and message in err
