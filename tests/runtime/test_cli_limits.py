"""`kubeloop run` stays bounded: a run that keeps the loop busy ends by the wall
clock with a summary, `--watch` idles at real pace and stops on Ctrl-C with a
summary, and numbers out of Kubernetes' integer ranges are bad input.

The first two drive a real `kubeloop` subprocess (signals and wall time are
what they test); the harness kills it after a generous bound, which fails the
test instead of hanging the suite."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from runtime import cli
from runtime import scenario as scenario_module
from runtime.cli import main

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: big}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: big}}}}
  template:
    metadata: {{labels: {{app: big}}}}
    spec:
      containers: [{{name: c, image: nginx}}]
"""

KILL_AFTER = 120  # seconds: far above any bound below, only there to never hang


def _kubeloop(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runtime.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        out, err = process.communicate(timeout=KILL_AFTER)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        pytest.fail(f"kubeloop did not end within {KILL_AFTER} s")
    return process.returncode, out, err


def test_a_run_that_never_idles_ends_by_the_wall_clock(tmp_path: Path) -> None:
    # 200,000 replicas on 3 nodes: the controllers create pods without pause,
    # so cluster time stands still and only the wall clock can end the run.
    manifest = tmp_path / "big.yaml"
    manifest.write_text(DEPLOYMENT.format(replicas=200_000))
    code, out, err = _finish(_kubeloop("run", str(manifest), "--timeout", "3", "--json"))
    assert code == 1, err
    summary = json.loads(out)
    assert summary["converged"] is False
    assert summary["ended"] == "wall_timeout"
    assert summary["virtual_seconds"] < 3  # the cluster-time bound never came
    assert any("deployment default/big" in line for line in summary["not_converged"])


def test_a_watched_virtual_cluster_idles_and_ctrl_c_prints_the_summary(tmp_path: Path) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT.format(replicas=3))
    process = _kubeloop("run", str(manifest), "--watch", "--json")
    assert process.stderr is not None
    for line in process.stderr:  # the run says when it converged and watches
        if "watching" in line:
            break
    else:
        pytest.fail(f"no watching line; exit {process.wait()}")
    watch_started = time.monotonic()
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    code, out, err = _finish(process)
    watched = time.monotonic() - watch_started
    assert code == 130, err  # stopped by SIGINT, as any run a signal ends
    summary = json.loads(out)
    assert summary["converged"] is True and summary["ok"] is True
    converged_at = max(s["started_at"] + s["seconds"] for s in summary["steps"])
    # Unpaced, cluster time ran thousands of seconds ahead per wall second;
    # paced, it moves at most one cluster second per wall second (slack for
    # the moments between the watch starting and this test seeing it).
    assert summary["virtual_seconds"] - converged_at <= watched + 5


@pytest.mark.parametrize(
    ("manifest", "path"),
    [
        (DEPLOYMENT.format(replicas=2**31), "spec.replicas"),
        (DEPLOYMENT.format(replicas=-(2**31) - 1), "spec.replicas"),
        (
            DEPLOYMENT.format(replicas=1).replace(
                "{name: c, image: nginx}",
                "{name: c, image: nginx, ports: [{containerPort: 4294967376}]}",
            ),
            "spec.template.spec.containers[0].ports[0].containerPort",
        ),
    ],
    ids=["replicas over int32", "replicas under int32", "containerPort over int32"],
)
def test_an_integer_out_of_range_exits_2_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], manifest: str, path: str
) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(manifest)
    code = main(["run", str(file), "--json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert f"{path}: value" in lines[0] and "out of range for int32" in lines[0]


@pytest.mark.parametrize("flag", ["--timeout", "--wall-timeout"])
@pytest.mark.parametrize("value", ["0", "-5", "nan", "inf"])
def test_timeouts_must_be_positive_seconds(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["run", flag, value])
    assert exit_.value.code == 2
    assert "positive number of seconds" in capsys.readouterr().err


def test_absurd_node_counts_are_refused_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "web.yaml"
    manifest.write_text(DEPLOYMENT.format(replicas=1))
    assert main(["run", str(manifest), "--nodes", "10000000"]) == 2
    assert "--nodes must be 0 to 50000" in capsys.readouterr().err
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("cluster: {nodes: 10000000}\nsteps: [{wait: 1}]\n")
    assert main(["run", str(scenario)]) == 2
    assert "count must be <= 50000" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a: " + b"[" * 1000 + b"]" * 1000 + b"\n", "bad.yaml document 1: "),
        (
            b"".join(b"  " * i + b"k%d:\n" % i for i in range(1000)) + b"  " * 1000 + b"v\n",
            "bad.yaml document 1: ",
        ),
        (b"apiVersion: v1\nkind: ConfigMap\nkind: Secret\n", 'mapping key "kind" already'),
        (b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n", "bad.yaml: not UTF-8"),
    ],
    ids=["deep flow", "deep block", "duplicate key", "not utf-8"],
)
def test_undecodable_manifests_exit_2_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content)
    assert main(["run", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert out == "" and len(lines) == 1 and message in lines[0]


def test_ctrl_c_before_convergence_prints_the_summary_and_exits_130(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Ctrl-C (a real SIGINT to this process) once the controllers have
    # written 1,000 times.
    manifest = tmp_path / "big.yaml"
    manifest.write_text(DEPLOYMENT.format(replicas=5_000))
    original = scenario_module.run_scenario

    async def run_then_interrupt(cluster: Any, scenario: Any, results: Any) -> Any:
        assert cluster.store is not None
        writes = itertools.count(1)

        def interrupt_at_the_thousandth_write(_: object) -> None:
            if next(writes) == 1_000:
                os.kill(os.getpid(), signal.SIGINT)

        cluster.store.observers.append(interrupt_at_the_thousandth_write)
        return await original(cluster, scenario, results)

    monkeypatch.setattr(cli, "run_scenario", run_then_interrupt)
    assert main(["run", str(manifest), "--json"]) == 130
    summary = json.loads(capsys.readouterr().out)
    assert summary["ended"] == "interrupted" and summary["converged"] is False
    assert summary["pods"]["total"] > 0
    assert summary["not_converged"]
