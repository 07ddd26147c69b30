"""The scheduler_perf runner on small configuration files written in
kube-scheduler's format: templates by path, `$param` substitution, every
opcode kubeloop runs, clear errors for what it cannot run, and the shipped
configuration files (their smallest workloads)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from benchmarks import __main__ as bench_main
from benchmarks.scheduler import CONFIGS, ENTRIES
from benchmarks.scheduler_perf import cli
from benchmarks.scheduler_perf.config import (
    ConfigError,
    TestCase,
    Workload,
    load_config,
    parse_duration,
)
from benchmarks.scheduler_perf.runner import Result, run_workload_async
from tests.helpers import run_virtual


def run_workload(case: TestCase, workload: Workload) -> Result:
    """On a virtual clock: churn, sleeps and paced deletes take no wall time."""
    return run_virtual(lambda clock: run_workload_async(case, workload, clock=clock))


NODE = """\
apiVersion: v1
kind: Node
metadata:
  generateName: small-node-
  labels: {pool: small}
status:
  capacity: {pods: "10", cpu: "2", memory: 4Gi}
  conditions: [{status: "True", type: Ready}]
"""
POD = """\
apiVersion: v1
kind: Pod
metadata:
  generateName: web-
  labels: {app: web}
spec:
  containers:
  - name: c
    image: registry.example/web:1
    resources: {requests: {cpu: 100m, memory: 64Mi}}
"""
INDEXED_NODE = """\
apiVersion: v1
kind: Node
metadata:
  generateName: gpu-
status:
  capacity: {pods: "10", cpu: "2", memory: 4Gi, example.com/slot-{{.Index}}: 1}
"""
INDEXED_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: slot-pod-{{.Index}}
spec:
  containers:
  - name: c
    image: registry.example/web:1
    resources:
      requests: {example.com/slot-{{.Index}}: 1}
      limits: {example.com/slot-{{.Index}}: 1}
"""


def _write(tmp_path: Path, config: str, **templates: str) -> Path:
    folder = tmp_path / "templates"
    folder.mkdir(exist_ok=True)
    for name, text in templates.items():
        (folder / f"{name}.yaml").write_text(text)
    path = tmp_path / "cases" / "config.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(textwrap.dedent(config))
    return path


BASIC = """\
- name: Basic
  defaultPodTemplatePath: ../templates/pod.yaml
  workloadTemplate:
  - opcode: createNodes
    countParam: $nodes
    nodeTemplatePath: ../templates/node.yaml
    labelNodePrepareStrategy:
      labelKey: zone
      labelValues: [a, b]
      roundRobin: true
  - opcode: createNamespaces
    prefix: team
    count: 2
  - opcode: createPods
    countParam: $init
    namespace: team-0
  - opcode: barrier
  - opcode: sleep
    duration: 10ms
  - opcode: createPods
    countParam: $measured
    collectMetrics: true
  workloads:
  - name: small
    threshold: 5
    params: {nodes: 4, init: 6, measured: 12}
"""


def test_a_workload_runs_with_templates_by_path_and_params(tmp_path: Path) -> None:
    path = _write(tmp_path, BASIC, node=NODE, pod=POD)
    (case,) = load_config(path)
    result = run_workload(case, case.workload("small"))
    assert result.name == "Basic/small"
    assert result.measured_pods == 12
    assert result.throughput > 0
    assert result.threshold == 5
    assert result.stats["unschedulable"] == 0


def test_quick_scale_divides_integer_params(tmp_path: Path) -> None:
    path = _write(tmp_path, BASIC, node=NODE, pod=POD)
    (case,) = load_config(path)
    ops = case.ops(case.workload("small"), scale=4)
    assert [op.get("count") for op in ops if op.opcode == "createPods"] == [1, 3]


def test_index_templates_give_each_pod_its_own_node(tmp_path: Path) -> None:
    config = """\
    - name: Indexed
      workloadTemplate:
      - opcode: createNodes
        countParam: $n
        nodeTemplatePath: ../templates/node.yaml
      - opcode: createPods
        countParam: $n
        namespace: test
        podTemplatePath: ../templates/pod.yaml
        collectMetrics: true
      workloads:
      - name: three
        params: {n: 3}
    """
    path = _write(tmp_path, config, node=INDEXED_NODE, pod=INDEXED_POD)
    (case,) = load_config(path)
    assert run_workload(case, case.workload("three")).measured_pods == 3


def test_gated_pods_barrier_attempted_delete_and_churn(tmp_path: Path) -> None:
    gated = POD.replace("spec:\n", "spec:\n  schedulingGates: [{name: example.com/hold}]\n")
    config = """\
    - name: Mixed
      workloadTemplate:
      - opcode: createNodes
        count: 2
        nodeTemplatePath: ../templates/node.yaml
      - opcode: createPods
        count: 3
        podTemplatePath: ../templates/gated.yaml
        skipWaitToCompletion: true
      - opcode: barrier
        stageRequirement: Attempted
      - opcode: createPods
        count: 4
        podTemplatePath: ../templates/pod.yaml
      - opcode: deletePods
        namespace: namespace-3
        deletePodsPerSecond: 1000
        skipWaitToCompletion: true
      - opcode: churn
        mode: recreate
        number: 1
        templatePaths: [../templates/node.yaml, ../templates/pod.yaml]
        intervalMilliseconds: 5
      - opcode: createPodSets
        count: 2
        namespacePrefix: set
        createPodsOp:
          opcode: createPods
          count: 2
          podTemplatePath: ../templates/pod.yaml
      - opcode: createPods
        count: 5
        podTemplatePath: ../templates/pod.yaml
        collectMetrics: true
      workloads:
      - name: tiny
        params: {}
    """
    path = _write(tmp_path, config, node=NODE, pod=POD, gated=gated)
    (case,) = load_config(path)
    result = run_workload(case, case.workload("tiny"))
    assert result.measured_pods == 5
    assert result.stats["gated"] == 3


def test_unknown_opcode_is_a_clear_error(tmp_path: Path) -> None:
    config = """\
    - name: Bad
      workloadTemplate:
      - opcode: createNodes
        count: 1
      - opcode: startCollectingMetrics
      workloads:
      - name: w
        params: {}
    """
    path = _write(tmp_path, config)
    with pytest.raises(ConfigError, match=r"Bad/w op 1: unknown opcode 'startCollectingMetrics'"):
        load_config(path)


@pytest.mark.parametrize(
    ("op", "message"),
    [
        ("{opcode: createPods, countParam: $missing}", r"refers to \$missing"),
        ("{opcode: createPods, count: 1, steadyState: true}", r"field 'steadyState'"),
        ("{opcode: createPods, count: -1}", r"count must be a non-negative integer"),
    ],
)
def test_bad_ops_name_the_op_and_field(tmp_path: Path, op: str, message: str) -> None:
    config = f"""\
    - name: Bad
      workloadTemplate:
      - {op}
      workloads:
      - name: w
        params: {{}}
    """
    path = _write(tmp_path, config)
    with pytest.raises(ConfigError, match=message):
        (case,) = load_config(path)
        case.ops(case.workload("w"))[0].count()


def test_a_missing_template_is_a_clear_error(tmp_path: Path) -> None:
    config = """\
    - name: NoTemplate
      defaultPodTemplatePath: ../templates/nowhere.yaml
      workloadTemplate:
      - opcode: createNodes
        count: 1
      - opcode: createPods
        count: 1
      workloads:
      - name: w
        params: {}
    """
    path = _write(tmp_path, config)
    (case,) = load_config(path)
    with pytest.raises(ConfigError, match=r"cannot read template .*nowhere\.yaml"):
        run_workload(case, case.workload("w"))


def test_durations_parse_like_go() -> None:
    assert parse_duration("1m30s") == 90.0
    assert parse_duration("200ms") == pytest.approx(0.2)
    with pytest.raises(ConfigError, match="invalid duration"):
        parse_duration("5 seconds")


def test_the_command_runs_a_file_and_reports_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        cli, "run_workload", lambda case, workload, scale: run_workload(case, workload)
    )
    path = _write(tmp_path, BASIC, node=NODE, pod=POD)
    out = tmp_path / "figures.json"
    argv = ["scheduler_perf", str(path), "--workload", "Basic/small", "--json", str(out)]
    assert bench_main.main(argv) == 0
    assert '"name": "Basic/small"' in out.read_text()
    assert bench_main.main(["scheduler_perf", str(path), "--workload", "nope"]) == 2
    assert "no workload named 'nope'" in capsys.readouterr().err


def test_shipped_configs_load_and_name_every_suite_workload() -> None:
    for entry in ENTRIES:
        cases = load_config(CONFIGS / entry.config / "performance-config.yaml")
        case = next(c for c in cases if c.name == entry.test_case)
        case.workload(entry.workload)


@pytest.mark.parametrize(
    ("config", "case_name", "workload"),
    [
        ("misc", "SchedulingDaemonset", "5Nodes"),
        ("misc", "SchedulingWhileGated", "1Node_10GatedPods"),
        ("misc", "SchedulingWithExtendedResource", "fast"),
        ("affinity", "SchedulingRequiredPodAntiAffinityWithNSSelector", "10Nodes"),
        ("topology", "TopologySpreading", "5Nodes"),
    ],
)
def test_shipped_small_workloads_run(config: str, case_name: str, workload: str) -> None:
    cases = load_config(CONFIGS / config / "performance-config.yaml")
    case = next(c for c in cases if c.name == case_name)
    result = run_workload(case, case.workload(workload))
    assert result.measured_pods > 0
