"""The kubelet builds pod statuses from shared values (`engine.sharing`): pods
in the same state share their status parts instead of holding copies."""

from __future__ import annotations

from engine.api.apps import Deployment
from engine.api.core import Pod
from runtime.cluster import Cluster, ClusterConfig, NodePool

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}


async def test_running_pods_share_their_status_parts() -> None:
    config = ClusterConfig(node_pools=(NodePool(count=1),))
    async with Cluster(config) as cluster:
        await cluster.apply([Deployment.model_validate(DEPLOYMENT)])
        await cluster.wait_converged(timeout=60)
        pods = (await cluster.list(Pod)).items
        assert len(pods) == 2
        a, b = (p.status for p in pods)
        assert a.phase == b.phase == "Running"
        assert a.host_ips is b.host_ips  # one node
        assert a.container_statuses[0].state is b.container_statuses[0].state
        assert a.conditions is b.conditions  # the same transitions at the same instants
