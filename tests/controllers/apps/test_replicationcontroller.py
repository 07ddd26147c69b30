"""ReplicationControllers, driven by the ReplicaSet controller's logic with an
equality selector: defaulting, validation, scale (also through the scale
subresource), replacement of deleted pods and node loss."""

from __future__ import annotations

import pytest

from engine.api import Pod, ReplicationController
from engine.errors import Invalid
from engine.manifests import load_manifests
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.controllers.apps.support import live_pods

RC = """
apiVersion: v1
kind: ReplicationController
metadata: {name: nginx}
spec:
  replicas: 3
  template:
    metadata: {labels: {app: nginx}}
    spec:
      containers:
      - name: nginx
        image: nginx
"""


def test_selector_and_labels_default_to_the_template_labels() -> None:
    (rc,) = load_manifests(RC)
    assert isinstance(rc, ReplicationController)
    assert rc.spec.selector == {"app": "nginx"}
    assert rc.metadata.labels == {"app": "nginx"}


def test_a_selector_that_does_not_match_the_template_is_invalid() -> None:
    bad = RC.replace("  replicas: 3\n", "  replicas: 3\n  selector: {app: other}\n")
    with pytest.raises(Invalid, match=r"spec\.template\.metadata\.labels"):
        load_manifests(bad)


async def test_scales_and_replaces_pods() -> None:
    async with Cluster(ClusterConfig(node_pools=(NodePool(count=3),))) as cluster:
        await cluster.apply(RC)
        await cluster.wait_converged(timeout=600)
        pods = live_pods(cluster)
        assert len(pods) == 3
        ref = pods[0].metadata.controller_ref()
        assert ref is not None and ref.kind == "ReplicationController"
        rc = await cluster.get(ReplicationController, "nginx")
        assert (rc.status.replicas, rc.status.ready_replicas, rc.status.available_replicas) == (
            3,
            3,
            3,
        )
        assert cluster.client is not None
        scale = await cluster.client.get_scale(ReplicationController, "nginx")
        assert (scale.replicas, scale.selector) == (3, "app=nginx")
        await cluster.scale(ReplicationController, "nginx", 5)
        await cluster.wait_converged(timeout=600)
        assert len(live_pods(cluster)) == 5
        victim = live_pods(cluster)[0]
        await cluster.delete(Pod, victim.metadata.name)
        await cluster.wait_for(
            lambda: (
                len(live_pods(cluster)) == 5
                and victim.metadata.uid not in {p.metadata.uid for p in live_pods(cluster)}
            ),
            timeout=600,
        )
        await cluster.scale(ReplicationController, "nginx", 1)
        await cluster.wait_converged(timeout=600)
        assert len(live_pods(cluster)) == 1


async def test_pods_of_a_lost_node_are_replaced() -> None:
    async with Cluster(ClusterConfig(node_pools=(NodePool(count=3),))) as cluster:
        await cluster.apply(RC)
        await cluster.wait_converged(timeout=600)
        node = live_pods(cluster)[0].spec.node_name
        assert node is not None
        await cluster.crash_node(node)
        await cluster.wait_for(
            lambda: sum(1 for p in live_pods(cluster) if p.spec.node_name != node) == 3,
            timeout=900,
        )
        rc = await cluster.get(ReplicationController, "nginx")
        assert rc.spec.replicas == 3
