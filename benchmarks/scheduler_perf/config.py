"""Reading kube-scheduler's scheduler_perf workload configuration format.

A configuration file is a YAML list of test cases (or a mapping with a
`testCases` list), each:

    - name: SchedulingBasic
      defaultPodTemplatePath: templates/pod-default.yaml   # relative to this file
      featureGates: {...}                                  # recorded, not applied
      schedulerConfigPath: scheduler-config.yaml           # optional
      workloadTemplate:                                    # the ops, in order
      - opcode: createNodes
        countParam: $initNodes
      - opcode: createPods
        countParam: $measurePods
        collectMetrics: true
      workloads:
      - name: 5000Nodes
        threshold: 680                                     # pods/s, kube-scheduler CI
        params: {initNodes: 5000, measurePods: 10000}

An op field `xParam: $name` takes its value from the workload's `params`
(`countParam: $initNodes` sets `count`). Template paths are relative to the
configuration file. Anything kubeloop cannot run exactly (an unknown opcode, an
unknown field in an op, a missing parameter or template) is a `ConfigError`
naming the test case, the op and the field, raised before anything runs.

Opcodes and their fields (as scheduler_perf's):

* `createNodes`: count, nodeTemplatePath, uniqueNodeLabelStrategy {labelKey},
  labelNodePrepareStrategy {labelKey, labelValues, roundRobin}.
* `createNamespaces`: prefix, count, namespaceTemplatePath.
* `createPods`: count, podTemplatePath, namespace (default `namespace-<op
  index>`), collectMetrics, skipWaitToCompletion.
* `createPodSets`: count, namespacePrefix, createPodsOp (a createPods op run
  once per namespace `<prefix>-<i>`).
* `churn`: mode (create | recreate), number, templatePaths, intervalMilliseconds.
* `barrier`: namespaces, stageRequirement (Scheduled | Attempted).
* `sleep`: duration (a Go duration such as `5s` or `200ms`).
* `deletePods`: namespace, deletePodsPerSecond, skipWaitToCompletion.

Neighbours: `benchmarks.scheduler_perf.runner` executes what this reads;
`benchmarks.scheduler_perf.templates` renders the templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from runtime.runtimes.behavior import BehaviorError
from runtime.runtimes.behavior import parse_duration as _parse_duration

__all__ = [
    "OPCODES",
    "ConfigError",
    "Op",
    "TestCase",
    "Workload",
    "load_config",
    "parse_duration",
]


class ConfigError(ValueError):
    """A configuration file kubeloop cannot run as written."""


_COMMON: Final = frozenset({"opcode"})
OPCODES: Final[Mapping[str, frozenset[str]]] = {
    "createNodes": frozenset(
        {"count", "nodeTemplatePath", "uniqueNodeLabelStrategy", "labelNodePrepareStrategy"}
    ),
    "createNamespaces": frozenset({"prefix", "count", "namespaceTemplatePath"}),
    "createPods": frozenset(
        {"count", "podTemplatePath", "namespace", "collectMetrics", "skipWaitToCompletion"}
    ),
    "createPodSets": frozenset({"count", "namespacePrefix", "createPodsOp"}),
    "churn": frozenset({"mode", "number", "templatePaths", "intervalMilliseconds"}),
    "barrier": frozenset({"namespaces", "stageRequirement", "labelSelector"}),
    "sleep": frozenset({"duration"}),
    "deletePods": frozenset({"namespace", "deletePodsPerSecond", "skipWaitToCompletion"}),
}
_TEST_CASE_KEYS: Final = frozenset(
    {
        "name",
        "defaultPodTemplatePath",
        "featureGates",
        "workloadTemplate",
        "workloads",
        "schedulerConfigPath",
        "labels",
    }
)
_WORKLOAD_KEYS: Final = frozenset({"name", "params", "threshold", "featureGates", "labels"})


def parse_duration(text: str) -> float:
    """Seconds in a Go duration string (`1m30s`, `200ms`); ConfigError otherwise."""
    try:
        return _parse_duration(text)
    except BehaviorError as error:
        raise ConfigError(f"invalid duration {text!r}: {error}") from None


@dataclass(frozen=True, slots=True)
class Op:
    """One op of a workload with its parameters substituted. `where` names it
    in errors ("SchedulingBasic/5000Nodes op 2 (createPods)")."""

    index: int
    opcode: str
    fields: Mapping[str, Any]
    where: str

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    def count(self) -> int:
        value = self.fields.get("count")
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{self.where}: count must be a non-negative integer, got {value!r}")
        return value


@dataclass(frozen=True, slots=True)
class Workload:
    name: str
    params: Mapping[str, Any]
    threshold: float | None = None
    feature_gates: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TestCase:
    __test__ = False  # not a pytest class, despite the name

    name: str
    base: Path
    """The directory template paths are relative to."""
    template: tuple[Mapping[str, Any], ...]
    workloads: tuple[Workload, ...]
    default_pod_template: str | None = None
    scheduler_config: str | None = None
    feature_gates: Mapping[str, bool] = field(default_factory=dict)

    def workload(self, name: str) -> Workload:
        for w in self.workloads:
            if w.name == name:
                return w
        names = [w.name for w in self.workloads]
        raise ConfigError(f"test case {self.name!r} has no workload {name!r}; it has {names}")

    def ops(self, workload: Workload, scale: int = 1) -> list[Op]:
        """The workload's ops with `$params` substituted; with `scale` > 1 every
        integer parameter is divided by it (at least 1), for quick runs."""
        params = dict(workload.params)
        if scale > 1:
            params = {
                k: max(1, v // scale) if isinstance(v, int) and not isinstance(v, bool) else v
                for k, v in params.items()
            }
        return [
            _op(i, raw, params, f"{self.name}/{workload.name} op {i}")
            for i, raw in enumerate(self.template)
        ]


def _op(index: int, raw: Mapping[str, Any], params: Mapping[str, Any], where: str) -> Op:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: an op must be a mapping, got {raw!r}")
    opcode = raw.get("opcode")
    if not isinstance(opcode, str) or opcode not in OPCODES:
        known = ", ".join(sorted(OPCODES))
        raise ConfigError(f"{where}: unknown opcode {opcode!r} (kubeloop runs: {known})")
    where = f"{where} ({opcode})"
    allowed = OPCODES[opcode] | _COMMON
    fields: dict[str, Any] = {}
    for key, value in raw.items():
        if key.endswith("Param") and key[: -len("Param")] in allowed:
            target = key[: -len("Param")]
            if not isinstance(value, str) or not value.startswith("$"):
                raise ConfigError(f"{where}: {key} must be '$name', got {value!r}")
            name = value[1:]
            if name not in params:
                raise ConfigError(f"{where}: {key} refers to ${name}, not in the workload's params")
            fields[target] = params[name]
        elif key in allowed:
            fields[key] = value
        else:
            raise ConfigError(
                f"{where}: field {key!r} is not supported (supported: {sorted(OPCODES[opcode])})"
            )
    nested = fields.get("createPodsOp")
    if nested is not None:
        inner = _op(index, nested, params, f"{where} createPodsOp")
        if inner.opcode != "createPods":
            raise ConfigError(f"{where}: createPodsOp must have opcode createPods")
        fields["createPodsOp"] = inner
    fields.pop("opcode", None)
    return Op(index, opcode, fields, where)


def _check_keys(data: Mapping[str, Any], allowed: frozenset[str], where: str) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"{where}: unsupported field(s) {unknown}")


def load_config(path: str | Path) -> list[TestCase]:
    """The test cases of a scheduler_perf configuration file. Every op of every
    workload is checked here (parameters, opcodes, fields), so a bad file fails
    before anything runs."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as error:
        raise ConfigError(f"cannot read {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML: {error}") from None
    if isinstance(data, Mapping) and "testCases" in data:
        data = data["testCases"]
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a list of test cases (or a mapping with testCases)")
    cases = []
    for number, raw in enumerate(data):
        where = f"{path.name} test case {number}"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise ConfigError(f"{where}: a test case is a mapping with a name")
        where = f"{path.name} test case {raw['name']!r}"
        _check_keys(raw, _TEST_CASE_KEYS, where)
        template = raw.get("workloadTemplate")
        if not isinstance(template, list) or not template:
            raise ConfigError(f"{where}: workloadTemplate must be a non-empty list of ops")
        workloads = []
        for w in raw.get("workloads") or []:
            if not isinstance(w, Mapping) or not isinstance(w.get("name"), str):
                raise ConfigError(f"{where}: each workload is a mapping with a name")
            _check_keys(w, _WORKLOAD_KEYS, f"{where} workload {w['name']!r}")
            threshold = w.get("threshold")
            workloads.append(
                Workload(
                    w["name"],
                    dict(w.get("params") or {}),
                    float(threshold) if threshold is not None else None,
                    dict(w.get("featureGates") or {}),
                )
            )
        if not workloads:
            raise ConfigError(f"{where}: no workloads")
        case = TestCase(
            raw["name"],
            path.parent,
            tuple(template),
            tuple(workloads),
            raw.get("defaultPodTemplatePath"),
            raw.get("schedulerConfigPath"),
            dict(raw.get("featureGates") or {}),
        )
        for workload in workloads:
            case.ops(workload)  # validates every op with this workload's params
        cases.append(case)
    return cases
