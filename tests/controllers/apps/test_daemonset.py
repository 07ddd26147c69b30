"""The DaemonSet controller on a simulated cluster (virtual clock): one pod
per eligible node placed by the scheduler, node selectors and taints, nodes
added, relabelled and tainted, rolling updates with maxUnavailable and
maxSurge, OnDelete, rollback, pod failure and node loss."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.api import ControllerRevision, DaemonSet, Node, Pod, Taint
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.controllers.apps.support import is_ready, live_pods, pod_log

EXAMPLE = Path(__file__).parents[3] / "examples" / "daemonset.yaml"


def ds_manifest(*, image: str = "agent:1", extra_spec: str = "", node_selector: str = "") -> str:
    selector = f"\n      nodeSelector: {node_selector}" if node_selector else ""
    return f"""
apiVersion: apps/v1
kind: DaemonSet
metadata: {{name: agent}}
spec:
  selector: {{matchLabels: {{app: agent}}}}
{extra_spec}
  template:
    metadata: {{labels: {{app: agent}}}}
    spec:{selector}
      containers:
      - name: agent
        image: {image}
"""


def pools(*pools: NodePool) -> ClusterConfig:
    return ClusterConfig(node_pools=pools or (NodePool(count=3),))


async def patch_node(cluster: Cluster, name: str, patch: dict[str, Any]) -> None:
    assert cluster.client is not None
    await cluster.client.patch(Node, name, patch)


def nodes_of(cluster: Cluster) -> list[str]:
    return sorted(p.spec.node_name or "" for p in live_pods(cluster))


async def test_docs_example_runs_one_pod_per_node() -> None:
    async with Cluster(pools(NodePool(count=4))) as cluster:
        await cluster.apply(EXAMPLE)
        await cluster.wait_converged(timeout=600)
        pods = live_pods(cluster, "kube-system")
        assert sorted(p.spec.node_name or "" for p in pods) == [f"node-{i}" for i in range(4)]
        for pod in pods:
            affinity = pod.spec.affinity
            assert affinity is not None and affinity.node_affinity is not None
            required = affinity.node_affinity.required_during_scheduling_ignored_during_execution
            assert required is not None
            field = required.node_selector_terms[0].match_fields[0]
            assert (field.key, field.values) == ("metadata.name", [pod.spec.node_name])
            keys = {t.key for t in pod.spec.tolerations}
            assert {"node.kubernetes.io/unreachable", "node.kubernetes.io/unschedulable"} <= keys
        ds = await cluster.get(DaemonSet, "fluentd-elasticsearch", "kube-system")
        s = ds.status
        assert (s.desired_number_scheduled, s.current_number_scheduled) == (4, 4)
        assert (s.number_ready, s.number_available, s.updated_number_scheduled) == (4, 4, 4)
        assert (s.number_misscheduled, s.number_unavailable) == (0, 0)


async def test_node_selector_taints_and_relabelling() -> None:
    tainted = NodePool(
        name="gpu", count=1, labels={"disk": "ssd"}, taints=(Taint(key="gpu", effect="NoSchedule"),)
    )
    async with Cluster(
        pools(NodePool(count=2, labels={"disk": "ssd"}), NodePool(name="hdd", count=1), tainted)
    ) as cluster:
        await cluster.apply(ds_manifest(node_selector="{disk: ssd}"))
        await cluster.wait_converged(timeout=600)
        assert nodes_of(cluster) == ["node-0", "node-1"]
        # Relabel: the hdd node now selected, node-1 no longer.
        await patch_node(cluster, "hdd-0", {"metadata": {"labels": {"disk": "ssd"}}})
        await patch_node(cluster, "node-1", {"metadata": {"labels": {"disk": None}}})
        await cluster.wait_for(lambda: nodes_of(cluster) == ["hdd-0", "node-0"], timeout=600)
        await cluster.wait_converged(timeout=600)
        # A NoExecute taint the pod does not tolerate evicts the daemon pod.
        taint = {"spec": {"taints": [{"key": "dedicated", "effect": "NoExecute"}]}}
        await patch_node(cluster, "node-0", taint)
        await cluster.wait_for(lambda: nodes_of(cluster) == ["hdd-0"], timeout=600)
        await cluster.wait_converged(timeout=600)
        s = (await cluster.get(DaemonSet, "agent")).status
        assert (s.desired_number_scheduled, s.number_available) == (1, 1)


async def test_nodes_added_cordoned_and_lost() -> None:
    async with Cluster(pools(NodePool(count=2))) as cluster:
        await cluster.apply(ds_manifest())
        await cluster.wait_converged(timeout=600)
        assert cluster.nodes is not None
        cluster.nodes.add_nodes(1)
        await cluster.wait_for(lambda: len(nodes_of(cluster)) == 3, timeout=600)
        await cluster.wait_converged(timeout=600)
        # A cordoned node keeps (and gets) its daemon pod: daemon pods tolerate unschedulable.
        await patch_node(cluster, "node-2", {"spec": {"unschedulable": True}})
        victim = next(p for p in live_pods(cluster) if p.spec.node_name == "node-2")
        await cluster.delete(Pod, victim.metadata.name)
        await cluster.wait_for(
            lambda: any(
                p.spec.node_name == "node-2"
                and p.metadata.uid != victim.metadata.uid
                and is_ready(p)
                for p in live_pods(cluster)
            ),
            timeout=600,
        )
        # A lost node: its daemon pod tolerates unreachable forever and is not replaced.
        await cluster.crash_node("node-1")
        await cluster.clock.sleep(600)
        assert sum(1 for p in live_pods(cluster) if p.spec.node_name == "node-1") == 1
        await cluster.restore_node("node-1")
        await cluster.wait_converged(timeout=600)


async def test_rolling_update_max_unavailable_and_rollback() -> None:
    async with Cluster(pools(NodePool(count=4))) as cluster:
        store = cluster.store
        assert store is not None
        await cluster.apply(ds_manifest())
        await cluster.wait_converged(timeout=600)
        original = {r.metadata.name for r in store.objects(ControllerRevision)}
        worst = 0

        def watch(_record: object) -> None:
            nonlocal worst
            ready_nodes = {p.spec.node_name for p in live_pods(cluster) if is_ready(p)}
            worst = max(worst, 4 - len(ready_nodes))

        with pod_log(store) as log:
            store.observers.append(watch)
            await cluster.apply(ds_manifest(image="agent:2"))
            await cluster.wait_converged(timeout=600)
            store.observers.remove(watch)
        assert worst == 1  # maxUnavailable 1 (the default)
        assert max(log.max_per_node.values()) == 1
        assert {p.spec.containers[0].image for p in live_pods(cluster)} == {"agent:2"}
        await cluster.apply(ds_manifest())  # rollback to the first template
        await cluster.wait_converged(timeout=600)
        assert {p.spec.containers[0].image for p in live_pods(cluster)} == {"agent:1"}
        ds = await cluster.get(DaemonSet, "agent")
        hashes = {p.metadata.labels["controller-revision-hash"] for p in live_pods(cluster)}
        assert {f"agent-{h}" for h in hashes} == original
        assert ds.status.updated_number_scheduled == 4


async def test_max_surge_starts_the_new_pod_before_stopping_the_old() -> None:
    async with Cluster(pools(NodePool(count=3))) as cluster:
        store = cluster.store
        assert store is not None
        surge = (
            "  updateStrategy:\n"
            "    {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
        )
        await cluster.apply(ds_manifest(extra_spec=surge))
        await cluster.wait_converged(timeout=600)
        worst = 0

        def watch(_record: object) -> None:
            nonlocal worst
            ready_nodes = {p.spec.node_name for p in live_pods(cluster) if is_ready(p)}
            worst = max(worst, 3 - len(ready_nodes))

        with pod_log(store) as log:
            store.observers.append(watch)
            await cluster.apply(ds_manifest(extra_spec=surge, image="agent:2"))
            await cluster.wait_converged(timeout=600)
            store.observers.remove(watch)
        assert worst == 0  # never a node without a ready daemon pod
        assert max(log.max_per_node.values()) == 2  # the surge pod beside the old one
        assert {p.spec.containers[0].image for p in live_pods(cluster)} == {"agent:2"}


async def test_on_delete_replaces_only_deleted_pods() -> None:
    async with Cluster(pools(NodePool(count=2))) as cluster:
        on_delete = "  updateStrategy: {type: OnDelete}"
        await cluster.apply(ds_manifest(extra_spec=on_delete))
        await cluster.wait_converged(timeout=600)
        await cluster.apply(ds_manifest(extra_spec=on_delete, image="agent:2"))
        await cluster.wait_converged(timeout=600)
        assert {p.spec.containers[0].image for p in live_pods(cluster)} == {"agent:1"}
        victim = next(p for p in live_pods(cluster) if p.spec.node_name == "node-0")
        await cluster.delete(Pod, victim.metadata.name)
        await cluster.wait_for(
            lambda: any(
                p.spec.node_name == "node-0" and p.spec.containers[0].image == "agent:2"
                for p in live_pods(cluster)
            ),
            timeout=600,
        )
        await cluster.wait_converged(timeout=600)
        assert (await cluster.get(DaemonSet, "agent")).status.updated_number_scheduled == 1


async def test_failed_pod_is_replaced() -> None:
    async with Cluster(pools(NodePool(count=2))) as cluster:
        await cluster.apply(ds_manifest())
        await cluster.wait_converged(timeout=600)
        await cluster.fail_node("node-0")  # nothing rewrites the pod's status
        pod = next(p for p in live_pods(cluster) if p.spec.node_name == "node-0")
        assert cluster.client is not None
        failed = pod.status.model_copy(update={"phase": "Failed"})
        await cluster.client.update_status(pod.model_copy(update={"status": failed}))
        await cluster.wait_for(
            lambda: any(
                p.spec.node_name == "node-0" and p.metadata.uid != pod.metadata.uid
                for p in live_pods(cluster)
            ),
            timeout=600,
        )
        await cluster.restore_node("node-0")
        await cluster.wait_converged(timeout=600)


async def test_surge_update_with_min_ready_seconds_completes() -> None:
    """Found by fuzzing: with maxSurge, the old pod is deleted once the new one
    has been ready for minReadySeconds; nothing else wakes the DaemonSet then."""
    async with Cluster(pools(NodePool(count=2))) as cluster:
        await cluster.apply(ds_manifest())
        await cluster.clock.sleep(0.5)
        surge = (
            "  minReadySeconds: 2\n"
            "  updateStrategy:\n"
            "    {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}"
        )
        await cluster.apply(ds_manifest(extra_spec=surge, image="agent:2"))
        await cluster.wait_converged(timeout=600)
        assert [p.spec.containers[0].image for p in live_pods(cluster)] == ["agent:2"] * 2
