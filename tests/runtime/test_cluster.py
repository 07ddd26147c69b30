"""The Cluster facade: start-up, apply, waiting, convergence, node faults and
clean shutdown, all on the virtual clock."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from engine.api.apps import ReplicaSet
from engine.api.core import ConfigMap, Namespace, Node, Pod
from engine.errors import Invalid
from runtime.cluster import Cluster, ClusterConfig, ConvergenceTimeout, NodePool, SyncCluster

REPLICASET = """
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web, namespace: shop}
spec:
  replicas: 6
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
          resources: {requests: {cpu: 500m, memory: 256Mi}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
"""


def config(nodes: int = 3, **kw: object) -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=nodes, zones=("a", "b")),), **kw)  # type: ignore[arg-type]


async def test_start_registers_nodes_and_stops_cleanly() -> None:
    before = asyncio.all_tasks()
    async with Cluster(config(nodes=4)) as cluster:
        nodes = (await cluster.list(Node)).items
        assert [n.metadata.name for n in nodes] == ["node-0", "node-1", "node-2", "node-3"]
        zones = [n.metadata.labels.get("topology.kubernetes.io/zone") for n in nodes]
        assert zones == ["a", "b", "a", "b"]
        assert cluster.converged()
    assert asyncio.all_tasks() == before


async def test_apply_converges_and_is_idempotent() -> None:
    async with Cluster(config()) as cluster:
        applied = await cluster.apply(REPLICASET)
        # namespaces are applied first, whatever their position in the file
        assert [(a.kind, a.action) for a in applied] == [
            ("Namespace", "created"),
            ("ReplicaSet", "created"),
        ]
        await cluster.wait_converged(timeout=60)
        pods = (await cluster.list(Pod, "shop")).items
        assert len(pods) == 6
        assert all(p.spec.node_name and p.status.phase == "Running" for p in pods)
        again = await cluster.apply(REPLICASET)
        assert [a.action for a in again] == ["unchanged", "unchanged"]
        changed = await cluster.apply(REPLICASET.replace("replicas: 6", "replicas: 2"))
        assert [a.action for a in changed] == ["unchanged", "configured"]
        await cluster.wait_converged(timeout=60)
        assert cluster.pod_counts().ready == 2


async def test_a_bad_document_applies_nothing() -> None:
    bad = REPLICASET + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad_Name}\n"
    async with Cluster(config()) as cluster:
        with pytest.raises(Invalid, match=r"metadata\.name"):
            await cluster.apply(bad)
        assert cluster.store is not None
        assert cluster.store.try_get(Namespace, "shop") is None
        assert (await cluster.list(ReplicaSet)).items == []


async def test_wait_for_wakes_on_writes_and_times_out_in_cluster_time() -> None:
    async with Cluster(config(nodes=1)) as cluster:
        await cluster.apply(ConfigMap(metadata={"name": "flag"}, data={"ready": "no"}))

        async def flip() -> None:
            await cluster.clock.sleep(30)
            cm = await cluster.get(ConfigMap, "flag")
            await cluster.apply(cm.model_copy(update={"data": {"ready": "yes"}}))

        task = asyncio.create_task(flip())
        store = cluster.store
        assert store is not None
        await cluster.wait_for(
            lambda: store.get(ConfigMap, "flag").data["ready"] == "yes", timeout=60
        )
        assert cluster.clock.monotonic() == pytest.approx(30, abs=1)
        await task
        with pytest.raises(ConvergenceTimeout, match="never"):
            await cluster.wait_for(lambda: False, timeout=10, what="never")


async def test_unschedulable_pods_do_not_block_convergence_but_are_reported() -> None:
    huge = REPLICASET.replace("cpu: 500m", "cpu: '64'").replace("replicas: 6", "replicas: 1")
    async with Cluster(config()) as cluster:
        await cluster.apply(huge)
        await cluster.clock.sleep(5)
        assert cluster.pod_counts().unschedulable == 1
        assert cluster.unconverged() == ["replicaset shop/web: 0 ready of 1"]


async def test_failed_node_heals_through_eviction_and_recreation() -> None:
    async with Cluster(config(nodes=3)) as cluster:
        await cluster.apply(REPLICASET)
        await cluster.wait_converged(timeout=60)
        victims = [
            p.metadata.name
            for p in (await cluster.list(Pod, "shop")).items
            if p.spec.node_name == "node-0"
        ]
        assert victims
        failed_at = cluster.clock.monotonic()
        await cluster.crash_node("node-0")
        store = cluster.store
        assert store is not None
        # Nobody can tell at once: the node looks healthy until its lease expires.
        assert cluster.converged()
        await cluster.wait_for(lambda: not store.get(Node, "node-0").is_ready, timeout=120)
        assert 40 <= cluster.clock.monotonic() - failed_at <= 60
        await cluster.wait_converged(timeout=1200)
        healed_after = cluster.clock.monotonic() - failed_at
        # node-monitor-grace-period (50 s), then the pods' tolerationSeconds (300 s)
        assert 350 <= healed_after <= 420
        pods = (await cluster.list(Pod, "shop")).items
        active = [p for p in pods if p.metadata.deletion_timestamp is None]
        assert len(active) == 6
        assert all(p.spec.node_name != "node-0" for p in active)
        # As in Kubernetes, evicted pods stay Terminating until their kubelet returns.
        stuck = {p.metadata.name for p in pods if p.metadata.deletion_timestamp is not None}
        assert stuck == set(victims)
        await cluster.restore_node("node-0")
        await cluster.wait_for(
            lambda: all(p.metadata.deletion_timestamp is None for p in cluster.tracker.pods()),
            timeout=600,
        )


def test_sync_cluster_for_scripts() -> None:
    with SyncCluster(config(nodes=2)) as cluster:
        cluster.apply(REPLICASET)
        cluster.wait_converged(timeout=60)
        assert cluster.converged()
        rs = cluster.get(ReplicaSet, "web", "shop")
        assert rs.status.ready_replicas == 6


async def test_apply_reads_paths_and_directories(tmp_path: Path) -> None:
    (tmp_path / "rs.yaml").write_text(REPLICASET)
    async with Cluster(config()) as cluster:
        applied = await cluster.apply(tmp_path)
        assert len(applied) == 2
