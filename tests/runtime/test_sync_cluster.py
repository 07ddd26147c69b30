"""`SyncCluster` offers every public `Cluster` method as an ordinary call, and
the async iterator `logs` as an ordinary iterator."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest

from engine.api.apps import Deployment
from engine.api.core import Node, Pod
from runtime.cluster import Cluster, ClusterConfig, NodePool, SyncCluster
from runtime.cluster.sync import NOT_MIRRORED, mirrored_methods

NGINX = Path(__file__).resolve().parents[2] / "examples" / "nginx-deployment.yaml"


def test_every_public_cluster_method_is_offered() -> None:
    public = [
        name
        for name, value in vars(Cluster).items()
        if not name.startswith("_") and callable(value)
    ]
    assert {"list", "events", "rollout_status", "rollback", "pause", "resume"} <= set(public)
    assert {"fail_node", "crash_node", "partition_node", "restore_node", "logs"} <= set(public)
    missing = [
        name
        for name in public
        if name not in NOT_MIRRORED
        and getattr(getattr(SyncCluster, name, None), "__wrapped__", None)
        is not vars(Cluster)[name]
    ]
    assert missing == []
    assert mirrored_methods() == [n for n in public if n not in NOT_MIRRORED]
    # help(SyncCluster.list) shows Cluster.list's signature and docstring.
    assert inspect.signature(vars(SyncCluster)["list"]) == inspect.signature(Cluster.list)


def test_outside_the_with_block_calls_are_refused() -> None:
    with pytest.raises(RuntimeError, match="with SyncCluster"):
        SyncCluster().list(Pod)


def test_list_events_rollouts_and_node_faults() -> None:
    config = ClusterConfig(node_pools=(NodePool(count=2),))
    with SyncCluster(config) as cluster:
        cluster.apply(NGINX)
        assert cluster.rollout_status("nginx-deployment", timeout=300) == (
            'deployment "nginx-deployment" successfully rolled out'
        )
        pods = cluster.list(Pod, "default", label_selector="app=nginx").items
        assert len(pods) == 3
        assert cluster.pod_counts().ready == 3 and cluster.unconverged() == []
        scheduled = [e for e in cluster.events("default") if e.reason == "Scheduled"]
        assert sorted(e.involved_object.name for e in scheduled) == sorted(
            p.metadata.name for p in pods
        )

        paused = cluster.pause("nginx-deployment")
        assert paused.spec.paused
        assert not cluster.resume("nginx-deployment").spec.paused

        cluster.partition_node("node-1")  # a plain method, run on the cluster's loop
        cluster.restore_node("node-1")
        cluster.fail_node("node-0")
        cluster.call(lambda c: c.clock.sleep(60))  # the lease expires after 40 s
        node = cluster.get(Node, "node-0")
        ready = next(c for c in node.status.conditions if c.type == "Ready")
        assert ready.status == "Unknown"
        cluster.restore_node("node-0")
        cluster.wait_converged(timeout=600)
        node = cluster.get(Node, "node-0")
        assert next(c for c in node.status.conditions if c.type == "Ready").status == "True"
        assert cluster.get(Deployment, "nginx-deployment").status.available_replicas == 3


LOGGER = """
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
    - name: talk
      image: busybox
      command: [sh, -c, "echo one; echo two; exec sleep 30"]
"""


def test_logs_is_an_ordinary_iterator() -> None:
    config = ClusterConfig(node_pools=(NodePool(count=1),), runtime="process", virtual_time=False)
    with SyncCluster(config) as cluster:
        cluster.apply(LOGGER)
        cluster.call(
            lambda c: c.wait_for(
                lambda: c.pod_counts().running == 1, timeout=30, what="talker running"
            )
        )
        followed = cluster.logs("talker", follow=True)
        assert [next(followed), next(followed)] == ["one", "two"]
        followed.close()  # closes the async iterator on the cluster's loop
        assert list(cluster.logs("talker", tail=1)) == ["two"]
