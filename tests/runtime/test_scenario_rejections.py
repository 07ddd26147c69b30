"""A `kubeloop run` scenario step the API refuses stops the run with exit 2
and one line naming the step; it is never counted as done."""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.cli import main

DEPLOYMENT = """\
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        replicas: 1
        selector: {matchLabels: {app: LABEL}}
        template:
          metadata: {labels: {app: LABEL}}
          spec: {containers: [{name: c, image: nginx}]}
"""


def test_a_refused_step_is_named_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        "cluster: {nodes: 1}\nsteps:\n"
        f"  - apply: |\n{DEPLOYMENT.replace('LABEL', 'web')}"
        "  - wait: converged\n"
        f"  - apply: |\n{DEPLOYMENT.replace('LABEL', 'other')}"  # selectors are immutable
        "  - wait: converged\n"
    )
    code = main(["run", str(scenario), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.count("\n") == 1
    assert "step 2 (apply (inline manifests))" in err and "spec.selector" in err
