"""PodDisruptionBudgets: the disruption controller's status, the eviction
subresource's budget checks (429 and the DisruptionTarget condition), the
unhealthy-pod policy, and `Cluster.drain_node` with the `drain` scenario step."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import Node, Pod, PodDisruptionBudget, PodDisruptionBudgetStatus
from engine.errors import TooManyRequests
from runtime.cluster import Cluster, ClusterConfig, DrainTimeout, NodePool
from runtime.scenario import load_scenario, run_scenario
from tests.controllers.apps.support import is_ready, live_pods

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 5
      containers: [{name: web, image: nginx}]
"""


def pdb(spec: str) -> str:
    return f"""
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {{name: web}}
spec:
  selector: {{matchLabels: {{app: web}}}}
  {spec}
"""


def config(nodes: int = 3) -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=nodes),))


def _status(cluster: Cluster) -> PodDisruptionBudgetStatus:
    assert cluster.store is not None
    return cluster.store.get(PodDisruptionBudget, "web").status


async def _budget(cluster: Cluster) -> PodDisruptionBudget:
    return await cluster.get(PodDisruptionBudget, "web")


async def test_status_and_eviction_honour_min_available() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(DEPLOYMENT + "---" + pdb("minAvailable: 2"))
        await cluster.wait_converged(timeout=600)
        await cluster.wait_for(lambda: _status(cluster).expected_pods == 3, timeout=60)
        s = (await _budget(cluster)).status
        assert (s.expected_pods, s.desired_healthy, s.current_healthy) == (3, 2, 3)
        assert s.disruptions_allowed == 1
        condition = s.condition("DisruptionAllowed")
        assert condition is not None and (condition.status, condition.reason) == (
            "True",
            "SufficientPods",
        )
        first, second, _ = live_pods(cluster)
        assert cluster.client is not None
        await cluster.client.evict(first.metadata.name)
        evicted = await cluster.get(Pod, first.metadata.name)
        target = next(c for c in evicted.status.conditions if c.type == "DisruptionTarget")
        assert target.reason == "EvictionByEvictionAPI"
        assert evicted.metadata.deletion_timestamp is not None
        with pytest.raises(TooManyRequests, match="would violate the pod's disruption budget"):
            await cluster.client.evict(second.metadata.name)
        # Once the replacement is ready, the budget allows one more.
        await cluster.wait_converged(timeout=600)
        await cluster.wait_for(
            lambda: _status(cluster).disruptions_allowed == 1,
            timeout=60,
        )
        await cluster.client.evict(second.metadata.name)


async def test_max_unavailable_percent_uses_the_controller_scale() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(DEPLOYMENT + "---" + pdb("maxUnavailable: 50%"))
        await cluster.wait_converged(timeout=600)
        await cluster.wait_for(
            lambda: _status(cluster).expected_pods == 3,
            timeout=60,
        )
        s = (await _budget(cluster)).status
        # 50% of 3 rounds up to 2 unavailable: 1 must stay healthy.
        assert (s.desired_healthy, s.disruptions_allowed) == (1, 2)


async def test_pods_without_controller_fail_the_sync_for_percentages() -> None:
    bare = """
apiVersion: v1
kind: Pod
metadata: {name: lonely, labels: {app: web}}
spec: {containers: [{name: c, image: busybox}]}
"""
    async with Cluster(config()) as cluster:
        await cluster.apply(bare + "---" + pdb("minAvailable: 50%"))
        await cluster.wait_for(
            lambda: _status(cluster).observed_generation == 1,
            timeout=60,
        )
        s = (await _budget(cluster)).status
        condition = s.condition("DisruptionAllowed")
        assert condition is not None and condition.reason == "SyncFailed"
        assert s.disruptions_allowed == 0


async def test_unhealthy_pod_eviction_policy() -> None:
    never_ready = DEPLOYMENT.replace(
        "    metadata: {labels: {app: web}}",
        "    metadata:\n"
        "      labels: {app: web}\n"
        "      annotations: {sim.kubeloop.io/readiness-probe: failure}",
    ).replace(
        "containers: [{name: web, image: nginx}]",
        "containers: [{name: web, image: nginx, readinessProbe: "
        "{exec: {command: [check]}, periodSeconds: 5}}]",
    )
    for policy, allowed in (("IfHealthyBudget", False), ("AlwaysAllow", True)):
        async with Cluster(config()) as cluster:
            spec = f"minAvailable: 1\n  unhealthyPodEvictionPolicy: {policy}"
            await cluster.apply(never_ready + "---" + pdb(spec))
            await cluster.wait_for(
                lambda: len([p for p in live_pods(cluster) if p.status.phase == "Running"]) == 3,
                timeout=600,
            )
            await cluster.clock.sleep(30)
            assert not any(is_ready(p) for p in live_pods(cluster))
            assert cluster.client is not None
            name = live_pods(cluster)[0].metadata.name
            if allowed:
                await cluster.client.evict(name)
            else:
                with pytest.raises(TooManyRequests):
                    await cluster.client.evict(name)


async def test_drain_evicts_within_the_budget_and_skips_daemon_pods() -> None:
    daemon = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec: {containers: [{name: a, image: agent}]}
"""
    async with Cluster(config()) as cluster:
        store = cluster.store
        assert store is not None
        await cluster.apply(DEPLOYMENT + "---" + pdb("minAvailable: 2") + "---" + daemon)
        await cluster.wait_converged(timeout=600)
        # Put every web pod on node-0 so that draining it must wait for replacements.
        pods = [p for p in live_pods(cluster) if p.metadata.labels.get("app") == "web"]
        node = pods[0].spec.node_name
        assert node is not None
        lowest = 3

        def watch(_record: object) -> None:
            nonlocal lowest
            healthy = [
                p
                for p in live_pods(cluster)
                if p.metadata.labels.get("app") == "web" and is_ready(p)
            ]
            lowest = min(lowest, len(healthy))

        store.observers.append(watch)
        evicted = await cluster.drain_node(node, timeout=600)
        store.observers.remove(watch)
        on_node = [p for p in live_pods(cluster) if p.spec.node_name == node]
        assert [p.metadata.labels.get("app") for p in on_node] == ["agent"]
        assert evicted == [f"default/{p.metadata.name}" for p in pods if p.spec.node_name == node]
        assert (await cluster.get(Node, node)).spec.unschedulable
        assert lowest >= 2
        await cluster.wait_converged(timeout=600)


async def test_drain_times_out_when_the_budget_never_allows() -> None:
    async with Cluster(config(nodes=1)) as cluster:
        await cluster.apply(DEPLOYMENT + "---" + pdb("minAvailable: 3"))
        await cluster.wait_converged(timeout=600)
        with pytest.raises(DrainTimeout, match="not evicted"):
            await cluster.drain_node("node-0", timeout=60)
        assert len(live_pods(cluster)) == 3


async def test_drain_scenario_step(tmp_path: Path) -> None:
    (tmp_path / "web.yaml").write_text(DEPLOYMENT)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        """
cluster: {nodes: 2}
steps:
  - apply: web.yaml
  - wait: converged
    timeout: 600
  - drain: node-0
    timeout: 600
  - wait: converged
    timeout: 600
"""
    )
    loaded = load_scenario(scenario)
    async with Cluster(loaded.config()) as cluster:
        results = await run_scenario(cluster, loaded)
        assert results[2].description == "drain node-0"
        assert (await cluster.get(Node, "node-0")).spec.unschedulable
        assert all(p.spec.node_name == "node-1" for p in live_pods(cluster))
