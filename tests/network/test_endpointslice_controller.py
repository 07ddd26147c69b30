"""The EndpointSlice controller in a simulated cluster: slices follow the
Service's pods through scaling, readiness, relabelling and deletion."""

from __future__ import annotations

from engine.api import Pod, Service
from engine.api.apps import Deployment
from engine.api.discovery import EndpointSlice
from runtime.cluster import Cluster, ClusterConfig, NodePool

APP = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: nginx
          image: nginx:1.27
          ports: [{name: http, containerPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def config() -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=2, zones=("a", "b")),))


def ready_ips(cluster: Cluster, name: str = "web") -> set[str]:
    assert cluster.store is not None
    ips: set[str] = set()
    for s in cluster.store.objects(EndpointSlice):
        if s.metadata.labels.get("kubernetes.io/service-name") != name:
            continue
        for e in s.endpoints:
            if e.conditions.ready:
                ips.update(e.addresses)
    return ips


def pod_ips(cluster: Cluster) -> set[str]:
    assert cluster.store is not None
    return {
        p.status.pod_ip
        for p in cluster.store.objects(Pod)
        if p.metadata.labels.get("app") == "web"
        and p.metadata.deletion_timestamp is None
        and p.status.pod_ip
    }


async def test_slices_follow_scaling_and_deletion() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(APP)
        await cluster.wait_converged(timeout=120)
        await cluster.wait_for(lambda: len(ready_ips(cluster)) == 3, timeout=30)
        assert ready_ips(cluster) == pod_ips(cluster)
        slices = (await cluster.list(EndpointSlice, "default")).items
        mine = [s for s in slices if s.metadata.labels.get("kubernetes.io/service-name") == "web"]
        assert len(mine) == 1
        assert mine[0].ports[0].port == 8080
        assert {e.zone for e in mine[0].endpoints} <= {"a", "b"}
        assert all(e.node_name for e in mine[0].endpoints)

        await cluster.scale(Deployment, "web", 5)
        await cluster.wait_converged(timeout=120)
        await cluster.wait_for(lambda: len(ready_ips(cluster)) == 5, timeout=30)
        assert ready_ips(cluster) == pod_ips(cluster)

        await cluster.scale(Deployment, "web", 0)
        await cluster.wait_converged(timeout=120)
        await cluster.wait_for(lambda: not ready_ips(cluster), timeout=60)

        await cluster.delete(Service, "web")

        def gone() -> bool:
            assert cluster.store is not None
            return not any(
                s.metadata.labels.get("kubernetes.io/service-name") == "web"
                for s in cluster.store.objects(EndpointSlice)
            )

        await cluster.wait_for(gone, timeout=60)


async def test_relabelled_pod_leaves_the_service() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(APP)
        await cluster.wait_converged(timeout=120)
        await cluster.wait_for(lambda: len(ready_ips(cluster)) == 3, timeout=30)
        assert cluster.store is not None
        victim = next(p for p in cluster.store.objects(Pod) if p.metadata.labels.get("app"))
        assert cluster.client is not None
        await cluster.client.patch(
            Pod,
            victim.metadata.name,
            {"metadata": {"labels": {"app": "debug"}}},
            namespace="default",
        )
        await cluster.wait_for(lambda: victim.status.pod_ip not in ready_ips(cluster), timeout=30)
        # the ReplicaSet replaces it; the slice lists the replacement
        await cluster.wait_for(lambda: len(ready_ips(cluster)) == 3, timeout=120)
        assert ready_ips(cluster) == pod_ips(cluster)


async def test_a_slice_deleted_behind_the_controllers_back_is_made_again() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(APP)
        await cluster.wait_converged(timeout=120)
        await cluster.wait_for(lambda: len(ready_ips(cluster)) == 3, timeout=30)
        assert cluster.store is not None
        for round_ in range(3):
            mine = [
                s
                for s in cluster.store.objects(EndpointSlice)
                if s.metadata.labels.get("kubernetes.io/service-name") == "web"
            ]
            for s in mine:
                await cluster.delete(EndpointSlice, s.metadata.name, "default")
            await cluster.wait_for(lambda: len(ready_ips(cluster)) == 3, timeout=30)
            assert ready_ips(cluster) == pod_ips(cluster), round_


def test_tracker_stops_waiting_for_a_slice_that_was_deleted() -> None:
    from controllers.endpointslice.controller import _Tracker

    tracker = _Tracker()
    key = ("default", "web")
    tracker.wrote(key, "web-abcde", 10)
    assert tracker.stale(key, {})  # written, not in the cache yet
    tracker.deleted(key, "web-abcde")  # then deleted by someone else
    assert not tracker.stale(key, {})
