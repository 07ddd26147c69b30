"""The HPA in a simulated cluster on the virtual clock: load-driven CPU
through the metrics server scales a Deployment out and, after the
stabilization window, back in; custom Pods and External metrics; a failing
metric never scales down; status, conditions and events."""

from __future__ import annotations

from typing import Any

from engine.api import Deployment, HorizontalPodAutoscaler
from engine.api.metrics import NodeMetrics, PodMetrics
from engine.registry import builtin_registry
from runtime.cluster import Cluster, ClusterConfig

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations: {"sim.kubeloop.io/cpu": "20m", "sim.kubeloop.io/cpu-per-request": "10m"}
    spec:
      containers:
      - {name: app, image: nginx, resources: {requests: {cpu: 100m}}}
"""


def hpa(metrics: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "minReplicas": 1,
            "maxReplicas": 8,
            "metrics": metrics,
            **spec,
        },
    }


CPU_50 = [
    {
        "type": "Resource",
        "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}},
    }
]


async def replicas(cluster: Cluster) -> int:
    return (await cluster.get(Deployment, "web")).spec.replicas


async def test_load_scales_out_then_in_after_window() -> None:
    load = {"rps": 0.0}
    config = ClusterConfig(request_rate=lambda uid: load["rps"])
    # The built-in kinds only: kinds other test modules register in the
    # process-wide registry at import add informers that shift when the
    # metrics rounds and HPA syncs fall, which this test pins to the second.
    async with Cluster(config, registry=builtin_registry()) as cluster:
        await cluster.apply(DEPLOYMENT)
        window = {"scaleDown": {"stabilizationWindowSeconds": 60}}
        await cluster.apply(hpa(CPU_50, behavior=window))
        await cluster.clock.sleep(60)
        assert await replicas(cluster) == 1  # 20 % of a 50 % target: minReplicas
        load["rps"] = 10.0  # 20m + 100m per pod = 120 % of request
        seen = []
        for _ in range(12):
            await cluster.clock.sleep(15)
            seen.append(await replicas(cluster))
        assert max(seen) == 8 and seen[-1] == 8
        status = (await cluster.get(HorizontalPodAutoscaler, "web")).status
        assert status.current_replicas == status.desired_replicas == 8
        assert status.last_scale_time is not None
        assert status.current_metrics[0].resource is not None
        assert status.current_metrics[0].resource.current.average_utilization == 120
        limited = status.condition("ScalingLimited")
        assert limited is not None and limited.reason == "TooManyReplicas"
        load["rps"] = 0.0
        # Read between syncs (every 15 s): at a sync's very instant, whether the
        # read comes before or after it depends only on task order.
        await cluster.clock.sleep(40)
        assert await replicas(cluster) == 8  # still within the 60 s window
        await cluster.clock.sleep(65)
        # Each step down (8 -> 4 -> 2 -> 1 at 20 % of a 50 % target) waits
        # for the higher recommendations to leave the window.
        assert 1 < await replicas(cluster) < 8
        await cluster.clock.sleep(240)
        assert await replicas(cluster) == 1
        reasons = [
            e.reason
            for e in await cluster.events()
            if e.involved_object.kind == "HorizontalPodAutoscaler"
        ]
        assert "SuccessfulRescale" in reasons
        pods = await cluster.top("pods")
        assert pods and all(row.cpu_millicores == 20 for row in pods)
        assert (await cluster.client.list(NodeMetrics)).items  # type: ignore[union-attr]


async def test_pods_and_external_custom_metrics() -> None:
    async with Cluster() as cluster:
        await cluster.apply(DEPLOYMENT)
        await cluster.clock.sleep(20)
        pods = (await cluster.client.list(PodMetrics)).items  # type: ignore[union-attr]
        assert len(pods) == 2 and pods[0].metadata.labels["app"] == "web"
        for p in pods:
            cluster.custom_metrics.publish("Pod", p.metadata.name, "rps", "30")
        cluster.custom_metrics.publish_external("queue_ready", 50, labels={"queue": "jobs"})
        metrics = [
            {
                "type": "Pods",
                "pods": {
                    "metric": {"name": "rps"},
                    "target": {"type": "AverageValue", "averageValue": "10"},
                },
            },
            {
                "type": "External",
                "external": {
                    "metric": {
                        "name": "queue_ready",
                        "selector": {"matchLabels": {"queue": "jobs"}},
                    },
                    "target": {"type": "AverageValue", "averageValue": "10"},
                },
            },
        ]
        await cluster.apply(hpa(metrics))
        await cluster.clock.sleep(1)
        # Pods: 30 per pod over 10 -> 6; External: 50 / 10 -> 5; the larger
        # wins, first limited to max(2 x 2, 4) = 4 without behavior.
        assert await replicas(cluster) == 4
        await cluster.clock.sleep(15)
        assert await replicas(cluster) == 6
        status = (await cluster.get(HorizontalPodAutoscaler, "web")).status
        active = status.condition("ScalingActive")
        assert active is not None and active.reason == "ValidMetricFound"
        assert active.message is not None and "pods metric rps" in active.message
        assert [m.type for m in status.current_metrics] == ["Pods", "External"]


async def test_invalid_metric_blocks_scale_down() -> None:
    async with Cluster() as cluster:
        await cluster.apply(DEPLOYMENT)
        await cluster.clock.sleep(20)
        metrics = [
            *CPU_50,  # 20 % of request: would scale down
            {
                "type": "External",
                "external": {
                    "metric": {"name": "absent"},
                    "target": {"type": "Value", "value": "1"},
                },
            },
        ]
        await cluster.apply(hpa(metrics))
        await cluster.clock.sleep(120)
        assert await replicas(cluster) == 2
        status = (await cluster.get(HorizontalPodAutoscaler, "web")).status
        active = status.condition("ScalingActive")
        assert active is not None and (active.status, active.reason) == (
            "False",
            "FailedGetExternalMetric",
        )
        reasons = {e.reason for e in await cluster.events()}
        assert {"FailedGetExternalMetric", "FailedComputeMetricsReplicas"} <= reasons


async def test_missing_target_and_zero_replicas() -> None:
    async with Cluster() as cluster:
        await cluster.apply(hpa(CPU_50))
        await cluster.clock.sleep(1)
        status = (await cluster.get(HorizontalPodAutoscaler, "web")).status
        able = status.condition("AbleToScale")
        assert able is not None and (able.status, able.reason) == ("False", "FailedGetScale")
        await cluster.apply(DEPLOYMENT.replace("replicas: 2", "replicas: 0"))
        await cluster.clock.sleep(20)
        status = (await cluster.get(HorizontalPodAutoscaler, "web")).status
        active = status.condition("ScalingActive")
        assert active is not None and active.reason == "ScalingDisabled"
        assert await replicas(cluster) == 0


async def test_autoscaling_v1_manifest_scales() -> None:
    load = {"rps": 10.0}
    async with Cluster(ClusterConfig(request_rate=lambda uid: load["rps"])) as cluster:
        await cluster.apply(DEPLOYMENT)
        v1 = {
            "apiVersion": "autoscaling/v1",
            "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "web"},
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
                "maxReplicas": 3,
                "targetCPUUtilizationPercentage": 50,
            },
        }
        await cluster.apply(v1)
        await cluster.clock.sleep(90)
        assert await replicas(cluster) == 3
