"""The cluster autoscaler end to end on the virtual clock: scale-up for
unschedulable pods within the group's bounds, scale-down of underutilized
nodes after scale-down-unneeded-time (never below min, never a node whose
pods cannot move or may not be evicted), provisioning time-outs with back-off,
the status ConfigMap and the events."""

from __future__ import annotations

import asyncio

from engine.api.apps import Deployment
from engine.api.core import ConfigMap, Node, Pod, Taint
from runtime.cluster import Cluster, ClusterConfig, NodePool


def deployment(
    name: str,
    replicas: int,
    cpu: str = "1",
    *,
    namespace: str = "default",
    annotations: str = "{}",
    extra: str = "",
) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}, annotations: {annotations}}}
    spec:
      containers:
        - name: c
          image: nginx
          resources: {{requests: {{cpu: "{cpu}", memory: 1Gi}}}}
{extra}
"""


def pool(**kw: object) -> NodePool:
    values: dict[str, object] = {
        "name": "pool",
        "count": 1,
        "min_count": 1,
        "max_count": 5,
        "cpu": "4",
        "memory": "16Gi",
    }
    values.update(kw)
    return NodePool(**values)  # type: ignore[arg-type]


async def node_names(cluster: Cluster) -> list[str]:
    return sorted(n.metadata.name for n in (await cluster.list(Node)).items)


async def reasons(cluster: Cluster, reason: str) -> list[str]:
    return [e.message or "" for e in await cluster.events() if e.reason == reason]


async def test_scale_up_adds_the_nodes_binpacking_asks_for_after_the_provisioning_delay() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(provisioning_delay=120.0),))) as cluster:
        await cluster.apply(deployment("web", 10))
        await asyncio.sleep(60)
        state = cluster.autoscaler_state()
        assert state is not None
        # 10 pods of 1 cpu, 4 per node: 1 existing node + 2 new ones, not registered yet
        assert state.target_sizes == {"pool": 3} and state.upcoming == {"pool": 2}
        assert await node_names(cluster) == ["pool-0"]
        await cluster.wait_converged(timeout=300)
        assert await node_names(cluster) == ["pool-0", "pool-1", "pool-2"]
        triggered = await reasons(cluster, "TriggeredScaleUp")
        assert len(triggered) == 6
        assert triggered[0] == "pod triggered scale-up: [{pool 1->3 (max: 5)}]"
        status = await cluster.get(ConfigMap, "cluster-autoscaler-status", "kube-system")
        assert "Cluster-wide:" in status.data["status"]
        assert "cloudProviderTarget=3 (minSize=1, maxSize=5)" in status.data["status"]


async def test_scale_up_never_exceeds_max_and_says_why_the_rest_stay_pending() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(max_count=2),))) as cluster:
        await cluster.apply(deployment("web", 12))
        await asyncio.sleep(900)
        assert await node_names(cluster) == ["pool-0", "pool-1"]
        pending = [p for p in (await cluster.list(Pod)).items if not p.spec.node_name]
        assert len(pending) == 4
        assert "pod didn't trigger scale-up: 1 max node group size reached" in await reasons(
            cluster, "NotTriggerScaleUp"
        )


async def test_pods_no_template_fits_do_not_trigger_scale_up() -> None:
    taint = Taint(key="dedicated", value="gpu", effect="NoSchedule")
    async with Cluster(ClusterConfig(node_pools=(pool(taints=(taint,)),))) as cluster:
        await cluster.apply(deployment("web", 1))
        await asyncio.sleep(300)
        assert await node_names(cluster) == ["pool-0"]
        messages = await reasons(cluster, "NotTriggerScaleUp")
        assert messages and "untolerated taint" in messages[0], messages


async def test_expander_priority_picks_the_configured_group() -> None:
    config = ClusterConfig(
        node_pools=(
            pool(name="cheap", count=0, min_count=0),
            pool(name="fast", count=0, min_count=0),
        )
    )
    config = ClusterConfig(
        node_pools=config.node_pools,
        cluster_autoscaler=type(config.cluster_autoscaler)(expander="priority"),
    )
    async with Cluster(config) as cluster:
        await cluster.apply(
            """
apiVersion: v1
kind: ConfigMap
metadata: {name: cluster-autoscaler-priority-expander, namespace: kube-system}
data:
  priorities: |-
    10:
      - ^cheap$
    50:
      - ^fa.*
"""
        )
        await cluster.apply(deployment("web", 3))
        await cluster.wait_converged(timeout=600)
        assert await node_names(cluster) == ["fast-0"]


async def test_scale_down_removes_unneeded_nodes_after_unneeded_time_never_below_min() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(count=4, min_count=2),))) as cluster:
        await cluster.apply(deployment("web", 2, cpu="500m"))
        await cluster.wait_converged(timeout=60)
        start = cluster.clock.monotonic()
        await asyncio.sleep(9 * 60)
        assert len(await node_names(cluster)) == 4  # not unneeded for 10 min yet
        await asyncio.sleep(30 * 60)
        assert len(await node_names(cluster)) == 2  # min_count
        state = cluster.autoscaler_state()
        assert state is not None and state.scale_downs == 2
        assert state.last_scale_down is not None and state.last_scale_down - start >= 600
        running = [p for p in (await cluster.list(Pod)).items if p.spec.node_name]
        assert len(running) == 2
        assert await reasons(cluster, "ScaleDown")


async def test_scale_down_waits_for_delay_after_add() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(count=1),))) as cluster:
        await cluster.apply(deployment("web", 5))
        await cluster.wait_converged(timeout=300)
        assert len(await node_names(cluster)) == 2
        await cluster.scale(Deployment, "web", 1, "default")
        state = cluster.autoscaler_state()
        assert state is not None and state.last_scale_up is not None
        added = state.last_scale_up
        store = cluster.store
        assert store is not None
        await cluster.wait_for(lambda: sum(1 for _ in store.objects(Node)) == 1, timeout=3600)
        assert cluster.clock.monotonic() - added >= 600


async def drains_to(cluster: Cluster, manifest: str, expected: int, wait: float = 40 * 60) -> None:
    await cluster.apply(manifest)
    await cluster.wait_converged(timeout=120)
    await asyncio.sleep(wait)
    assert len(await node_names(cluster)) == expected


SPREAD = (
    "      affinity: {podAntiAffinity: {requiredDuringSchedulingIgnoredDuringExecution: "
    "[{labelSelector: {matchLabels: {app: web}}, topologyKey: kubernetes.io/hostname}]}}"
)


async def test_scale_down_moves_pods_that_fit_elsewhere_by_eviction() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(count=3),))) as cluster:
        # one pod per node: utilization 0.25 each; two nodes can go, their
        # pods fit on the third
        await drains_to(cluster, deployment("web", 3, extra=SPREAD.replace("web", "none")), 3, 0)
        pods_before = {p.metadata.name for p in (await cluster.list(Pod)).items}
        await asyncio.sleep(40 * 60)
        assert len(await node_names(cluster)) == 1
        await cluster.wait_converged(timeout=120)
        pods_after = {p.metadata.name for p in (await cluster.list(Pod)).items}
        assert pods_after != pods_before  # evicted and recreated
        assert len(pods_after) == 3


async def test_pods_that_fit_nowhere_else_keep_their_node() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(count=3),))) as cluster:
        await drains_to(cluster, deployment("web", 3, extra=SPREAD), 3)


async def test_safe_to_evict_false_blocks_scale_down() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(count=2),))) as cluster:
        annotations = '{"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}'
        await drains_to(cluster, deployment("web", 2, annotations=annotations), 2)


async def test_local_storage_blocks_unless_safe_to_evict() -> None:
    volume = "      volumes: [{name: scratch, emptyDir: {}}]"
    async with Cluster(ClusterConfig(node_pools=(pool(count=2),))) as cluster:
        await drains_to(cluster, deployment("web", 2, extra=volume), 2)
    async with Cluster(ClusterConfig(node_pools=(pool(count=2),))) as cluster:
        annotations = '{"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}'
        await drains_to(cluster, deployment("web", 2, annotations=annotations, extra=volume), 1)


async def test_kube_system_pods_without_budget_block_scale_down() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(count=2),))) as cluster:
        await drains_to(cluster, deployment("dns", 2, namespace="kube-system"), 2)


async def test_pod_without_controller_blocks_scale_down() -> None:
    bare = """
apiVersion: v1
kind: Pod
metadata: {name: lonely, namespace: default}
spec:
  nodeName: pool-1
  containers: [{name: c, image: nginx, resources: {requests: {cpu: 100m}}}]
"""
    async with Cluster(ClusterConfig(node_pools=(pool(count=2),))) as cluster:
        await drains_to(cluster, bare, 1)  # the empty node goes, the pod's stays
        assert await node_names(cluster) == ["pool-1"]


async def test_scale_down_disabled_annotation_keeps_the_node() -> None:
    async with Cluster(ClusterConfig(node_pools=(pool(count=2),))) as cluster:
        node = await cluster.get(Node, "pool-1")
        meta = node.metadata.model_copy(
            update={"annotations": {"cluster-autoscaler.kubernetes.io/scale-down-disabled": "true"}}
        )
        assert cluster.client is not None
        await cluster.client.update(node.model_copy(update={"metadata": meta}))
        await asyncio.sleep(40 * 60)
        assert await node_names(cluster) == ["pool-1"]  # pool-0 went instead


async def test_budget_without_disruptions_blocks_scale_down() -> None:
    pdb = """
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: default}
spec:
  minAvailable: 2
  selector: {matchLabels: {app: web}}
"""
    async with Cluster(ClusterConfig(node_pools=(pool(count=2),))) as cluster:
        await drains_to(cluster, deployment("web", 2, cpu="100m") + pdb, 2)


async def test_nodes_that_never_register_back_off_their_group() -> None:
    slow = pool(name="slow", count=0, min_count=0, provisioning_delay=3600.0)
    async with Cluster(ClusterConfig(node_pools=(slow,))) as cluster:
        await cluster.apply(deployment("web", 1))
        await asyncio.sleep(16 * 60)
        state = cluster.autoscaler_state()
        assert state is not None
        assert state.failed_scale_ups == 1
        assert state.target_sizes == {"slow": 0}
        assert 0 < state.backed_off["slow"] <= 5 * 60
        status = await cluster.get(ConfigMap, "cluster-autoscaler-status", "kube-system")
        assert "ScaleUp:     Backoff" in status.data["status"]
        messages = await reasons(cluster, "NotTriggerScaleUp")
        assert "pod didn't trigger scale-up: 1 in backoff after failed scale-up" in messages
        # the next failure backs off twice as long
        await asyncio.sleep(5 * 60 + 16 * 60)
        state = cluster.autoscaler_state()
        assert state is not None and state.failed_scale_ups == 2
        assert 5 * 60 < state.backed_off["slow"] <= 10 * 60
        assert await node_names(cluster) == []


async def test_no_nodes_at_all_is_unschedulable_as_kube_scheduler_reports_it() -> None:
    async with Cluster(ClusterConfig(node_pools=())) as cluster:
        await cluster.apply(deployment("web", 1))
        await asyncio.sleep(5)
        (pod,) = (await cluster.list(Pod)).items
        condition = pod.status.condition("PodScheduled")
        assert condition is not None and condition.reason == "Unschedulable"
        assert condition.message == "no nodes available to schedule pods"
