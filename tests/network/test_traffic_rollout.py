"""Simulated traffic through a Service during a rolling update: with
maxUnavailable 0 and readiness probes no request fails; with maxUnavailable
100 % the gap is counted."""

from __future__ import annotations

from engine.api.apps import Deployment
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.scenario import SetImageArgs, set_image


def app(max_unavailable: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 4
  strategy:
    type: RollingUpdate
    rollingUpdate: {{maxUnavailable: {max_unavailable}, maxSurge: 1}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata:
      labels: {{app: web}}
      annotations:
        sim.kubeloop.io/ready-after: 3s
        sim.kubeloop.io/latency: normal(20ms,2ms)
    spec:
      containers:
        - name: web
          image: nginx:1.27
          ports: [{{name: http, containerPort: 8080}}]
          readinessProbe:
            httpGet: {{path: /, port: http}}
            periodSeconds: 1
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80, targetPort: http}}]
"""


async def rollout_under_traffic(max_unavailable: str) -> tuple[int, int, float]:
    config = ClusterConfig(node_pools=(NodePool(count=3),))
    async with Cluster(config) as cluster:
        await cluster.apply(app(max_unavailable))
        await cluster.wait_converged(timeout=120)
        await cluster.clock.sleep(2)  # the slices catch up
        task = cluster.start_traffic(service="web", rps=200, duration=90)
        await cluster.clock.sleep(5)
        await set_image(cluster, SetImageArgs(deployment="web", image="nginx:1.28"))
        await cluster.wait_for(
            lambda: (
                cluster.converged()
                and all(
                    d.status.updated_replicas == 4
                    for d in (cluster.store.objects(Deployment) if cluster.store else ())
                )
            ),
            timeout=80,
        )
        stats = await task
        return stats.requests, stats.errors, stats.percentile(50)


async def test_max_unavailable_zero_with_readiness_probes_has_no_errors() -> None:
    requests, errors, p50 = await rollout_under_traffic("0")
    assert requests == 200 * 90
    assert errors == 0
    assert 18 < p50 < 22  # the pods' declared latency


async def test_max_unavailable_all_counts_errors() -> None:
    requests, errors, _ = await rollout_under_traffic("100%")
    assert requests == 200 * 90
    assert errors > 0
