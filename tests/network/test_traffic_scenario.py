"""The `traffic` scenario step and the summary's traffic figures; Ingress
routing with 404 and 503; refused requests; per-pod request rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.errors import Invalid
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.scenario import load_scenario, run_scenario
from runtime.summary import summarize

SCENARIO = """
cluster: {nodes: 2}
steps:
  - apply: |
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web}}
        template:
          metadata:
            labels: {app: web}
            annotations: {sim.kubeloop.io/latency: 10ms}
          spec:
            containers: [{name: web, image: nginx, ports: [{containerPort: 80}]}]
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: web}
      spec:
        selector: {app: web}
        ports: [{port: 80}]
      ---
      apiVersion: v1
      kind: Service
      metadata: {name: empty}
      spec:
        selector: {app: nothing}
        ports: [{port: 80}]
      ---
      apiVersion: networking.k8s.io/v1
      kind: Ingress
      metadata: {name: site}
      spec:
        rules:
          - host: shop.example.com
            http:
              paths:
                - {path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}
                - path: /empty
                  pathType: Prefix
                  backend: {service: {name: empty, port: {number: 80}}}
  - wait: converged
    timeout: 120
  - wait: 2
  - traffic: {service: web, rps: 100, duration: 10}
  - traffic: {ingress: site, host: shop.example.com, path: /cart, rps: 50, duration: 10}
  - traffic: {ingress: site, host: shop.example.com, path: /empty/x, rps: 10, duration: 10}
  - traffic: {ingress: site, host: other.example.com, path: /, rps: 10, duration: 10}
  - traffic: {service: empty, rps: 10, duration: 10}
"""


async def test_traffic_steps_reach_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    async with Cluster(scenario.config()) as cluster:
        results = await run_scenario(cluster, scenario)
        assert all(r.ok for r in results)
        rates = cluster.request_rates()
        summary = summarize(cluster, results, cluster.converged(), 1.0)
    traffic = summary.to_json()["traffic"]
    assert traffic["service/default/web"]["requests"] == 1000
    assert traffic["service/default/web"]["errors"] == 0
    assert 9.9 < traffic["service/default/web"]["p50_ms"] < 10.1
    assert traffic["ingress/default/site"]["requests"] == 500 + 100 + 100
    assert traffic["ingress/default/site"]["errors"] == 200  # the 503s and the 404s
    assert traffic["service/default/empty"]["errors"] == 100  # refused: no endpoint
    # two pods shared 150 requests/s for 10 s: 1,500 requests in the 15 s window
    assert len(rates) == 2 and sum(rates.values()) == pytest.approx(1500 / 15)


def test_traffic_step_needs_one_target(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("steps:\n  - traffic: {rps: 10, duration: 5}\n")
    with pytest.raises(Invalid, match="exactly one of service or ingress"):
        load_scenario(path)


async def test_cluster_traffic_to_a_missing_service_is_refused() -> None:
    async with Cluster(ClusterConfig(node_pools=(NodePool(count=1),))) as cluster:
        stats = await cluster.traffic(service="nope", rps=10, duration=1)
        assert (stats.requests, stats.errors) == (10, 10)
