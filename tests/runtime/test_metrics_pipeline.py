"""The metrics pipeline and its surfaces: load-driven simulated CPU, the
read-only metrics kinds in the store, the scale subresource declared per
kind, the scenario `metric` step, `kubeloop top`, and each HPA's replicas
in the run summary."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path

import pytest

from engine.api import Deployment, Secret
from engine.api.base import ObjectMeta, Resource
from engine.api.metrics import ExternalMetricValue, MetricValue, NodeMetrics, PodMetrics
from engine.clock import VirtualClock
from engine.errors import MethodNotAllowed, NotFound, ServiceUnavailable
from engine.registry import Registry, kind
from engine.selectors import Selector
from engine.store import Store
from runtime.cli import main
from runtime.metrics import CustomMetrics
from runtime.runtimes.behavior import BehaviorError, ContainerBehavior
from runtime.runtimes.protocol import ContainerConfig, PodSandboxConfig
from runtime.runtimes.simulated import SimulatedRuntime
from runtime.scenario import Scenario


def sandbox(**annotations: str) -> PodSandboxConfig:
    return PodSandboxConfig(
        pod_uid="u1",
        name="web",
        namespace="default",
        hostname="web",
        pod_ip="10.0.0.2",
        annotations={f"sim.kubeloop.io/{k}": v for k, v in annotations.items()},
    )


async def test_cpu_per_request_times_the_injected_rate(clock: VirtualClock) -> None:
    rate = {"u1": 0.0}
    runtime = SimulatedRuntime(
        clock=clock, rng=random.Random(1), request_rate=lambda uid: rate[uid]
    )
    await runtime.run_pod_sandbox(sandbox(**{"cpu": "20m", "cpu-per-request": "5m"}))
    await runtime.create_container("u1", ContainerConfig(name="app", image="x"))
    await runtime.start_container("u1", "app")
    await clock.advance(10)
    (idle,) = await runtime.stats()
    assert idle.cpu_millicores == 20
    rate["u1"] = 40.0  # 40 requests/s x 5m
    (busy,) = await runtime.stats()
    assert busy.cpu_millicores == 220
    await clock.advance(10)
    (later,) = await runtime.stats()
    # 10 s at 20m from the timeline, 10 s of 20m + 200m: 0.2 + 2.2 core seconds.
    assert later.cpu_usage_core_seconds == pytest.approx(2.2 + 0.2 * 1.0 + 0.0, rel=0.05)


def test_cpu_per_request_must_be_a_quantity() -> None:
    with pytest.raises(BehaviorError, match="cpu-per-request"):
        ContainerBehavior().overridden({"cpu-per-request": "lots"})


class Static:
    def __init__(self, objects: Sequence[Resource]) -> None:
        self.objects = list(objects)

    def served_kinds(self) -> Sequence[type[Resource]]:
        return (PodMetrics,)

    def get_object(self, kind: type[Resource], name: str, namespace: str) -> Resource | None:
        return next((o for o in self.objects if o.key == (namespace, name)), None)

    def list_objects(
        self, kind: type[Resource], namespace: str | None, selector: Selector | None
    ) -> list[Resource]:
        return [
            o
            for o in self.objects
            if (namespace is None or o.metadata.namespace == namespace)
            and (selector is None or selector.matches(o.metadata.labels))
        ]


def test_metrics_kinds_are_read_only_and_need_a_provider() -> None:
    store = Store()
    with pytest.raises(ServiceUnavailable, match="no aggregated API serves it"):
        store.list(PodMetrics)
    pods = [PodMetrics(metadata=ObjectMeta(name=n, namespace="a", labels={"app": n})) for n in "xy"]
    store.add_aggregated(Static(pods))
    assert [p.metadata.name for p in store.list(PodMetrics, "a", label_selector="app=y").items] == [
        "y"
    ]
    assert store.get(PodMetrics, "x", "a") is pods[0]
    assert store.try_get(PodMetrics, "z", "a") is None
    with pytest.raises(NotFound):
        store.get(PodMetrics, "z", "a")
    with pytest.raises(MethodNotAllowed):
        store.create(PodMetrics(metadata=ObjectMeta(name="w", namespace="a")))
    with pytest.raises(MethodNotAllowed):
        store.watch(PodMetrics)


def test_custom_metrics_served_and_validated() -> None:
    clock = VirtualClock()
    store = Store(clock=clock)
    custom = CustomMetrics(clock)
    store.add_aggregated(custom)
    custom.publish("Pod", "web-0", "rps", "1500m", namespace="shop")
    custom.publish_external("queue", 7, labels={"q": "jobs"})
    (value,) = store.list(MetricValue, "shop").items
    assert value.described_object.name == "web-0" and value.value.milli_value() == 1500
    (series,) = store.list(ExternalMetricValue, label_selector="q=jobs").items
    assert series.metric_name == "queue" and series.value.milli_value() == 7000
    custom.unpublish_external("queue", labels={"q": "jobs"})
    assert store.list(ExternalMetricValue).items == []
    with pytest.raises(ValueError, match="not a quantity"):
        custom.publish("Pod", "web-0", "rps", "fast")
    with pytest.raises(ServiceUnavailable):
        store.list(NodeMetrics)


def test_scale_subresource_comes_from_the_kind() -> None:
    registry = Registry()

    @kind("example.com/v1", "Scalable", scale_subresource=True, registry=registry)
    class Scalable(Deployment):
        pass

    store = Store(registry=registry, namespace_lifecycle=False)
    registry.register(Secret)
    store.create(
        Scalable.model_validate(
            {
                "metadata": {"name": "s"},
                "spec": {
                    "replicas": 2,
                    "selector": {"matchLabels": {"a": "b"}},
                    "template": {"metadata": {"labels": {"a": "b"}}},
                },
            }
        )
    )
    assert store.get_scale(Scalable, "s").selector == "a=b"
    assert store.scale(Scalable, "s", replicas=5).spec.replicas == 5
    store.create(Secret(metadata=ObjectMeta(name="k")))
    with pytest.raises(NotFound, match="no scale subresource"):
        store.get_scale(Secret, "k")


def test_metric_step_is_custom_or_external() -> None:
    ok = Scenario.model_validate(
        {"steps": [{"metric": {"kind": "Pod", "name": "a", "metric": "rps", "value": 3}}]}
    )
    assert ok.steps[0].action == "metric"
    for bad in ({"value": 1}, {"external": "q", "kind": "Pod", "value": 1}):
        with pytest.raises(ValueError, match="a metric step"):
            Scenario.model_validate({"steps": [{"metric": bad}]})


SCENARIO = """
cluster: {nodes: 2}
steps:
  - apply: |
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        replicas: 1
        selector: {matchLabels: {app: web}}
        template:
          metadata:
            labels: {app: web}
            annotations: {"sim.kubeloop.io/cpu": "120m", "sim.kubeloop.io/memory": "64Mi"}
          spec:
            containers:
            - {name: app, image: nginx, resources: {requests: {cpu: 100m}}}
      ---
      apiVersion: autoscaling/v2
      kind: HorizontalPodAutoscaler
      metadata: {name: web}
      spec:
        scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
        maxReplicas: 5
        metrics:
        - type: External
          external: {metric: {name: queue_ready}, target: {type: AverageValue, averageValue: "10"}}
  - metric: {external: queue_ready, value: 30}
  - wait: 60
  - metric: {external: queue_ready, value: 5}
  - wait: 400
"""


def test_top_and_summary_of_a_scenario(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    assert main(["run", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    (hpa,) = summary["autoscalers"]
    counts = [n for _, n in hpa["replicas"]]
    assert counts[0] == 3 and counts[-1] == 1  # 30 / 10 per pod, then 5 / 10
    assert main(["top", "pods", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
    assert [line.split()[1:] for line in lines[1:]] == [["120m", "64Mi"]]
    assert main(["top", "nodes", str(path)]) == 0
    nodes = capsys.readouterr().out.splitlines()[1:]
    assert sorted(line.split()[1] for line in nodes) == ["0m", "120m"]
    assert main(["top", "pods", str(path), "-n", "other"]) == 0
    assert "No resources found" in capsys.readouterr().err
