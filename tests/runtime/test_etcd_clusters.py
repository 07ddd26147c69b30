"""Clusters on one etcd: kube-apiservers sharing their storage.

Skipped with the reason where no etcd binary is installed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.api.apps import Deployment
from engine.api.core import Pod
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.etcdserver import EtcdCluster, etcd_binary

BINARY, WHY = etcd_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason=WHY)

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx}]
"""


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    cluster = EtcdCluster.start(tmp_path, members=1)
    try:
        yield cluster
    finally:
        cluster.stop()


async def test_a_second_apiserver_on_the_same_etcd_serves_the_same_cluster(
    etcd: EtcdCluster,
) -> None:
    urls = tuple(etcd.client_urls)
    working = ClusterConfig(node_pools=(NodePool(count=2),), virtual_time=False, etcd_servers=urls)
    bare = ClusterConfig(node_pools=(), controllers=(), virtual_time=False, etcd_servers=urls)
    async with Cluster(working) as first, Cluster(bare) as second:
        await second.apply(
            WEB
        )  # written through one apiserver, acted on by the other's controllers
        assert second.store is not None

        def running_in_second() -> bool:
            assert second.store is not None
            pods = second.store.list(Pod, "default").items
            return sum(1 for p in pods if p.status.phase == "Running") == 3

        await second.wait_for(running_in_second, timeout=60, what="pods seen by the second")
        uid = second.store.get(Deployment, "web", "default").metadata.uid
        assert first.store is not None
        assert first.store.get(Deployment, "web", "default").metadata.uid == uid
    async with Cluster(working) as again:  # a restart: etcd kept everything
        assert again.store is not None
        restarted = again.store.get(Deployment, "web", "default")
        assert restarted.metadata.uid == uid
        assert len(again.store.list(Pod, "default").items) == 3
