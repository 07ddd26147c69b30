"""The legacy Endpoints controller, EndpointSlice mirroring, the load-balancer
controller and node IPAM, in a simulated cluster."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controllers.common.network import NetworkSettings
from controllers.endpoints import MAX_CAPACITY, desired_subsets
from engine.api import Node, Pod, Service
from engine.api.core import Endpoints, Event
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
      containers: [{name: web, image: nginx, ports: [{name: http, containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {tier: front}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, targetPort: http}]
"""


def config(**kw: Any) -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=2),), **kw)


async def test_endpoints_object_lists_ready_addresses() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(APP)
        await cluster.wait_converged(timeout=120)
        assert cluster.store is not None
        store = cluster.store

        def listed() -> int:
            ep = store.try_get(Endpoints, "web", "default")
            return sum(len(s.addresses) for s in ep.subsets) if ep is not None else 0

        await cluster.wait_for(lambda: listed() == 3, timeout=30)
        ep = store.get(Endpoints, "web", "default")
        assert ep.metadata.labels["tier"] == "front"
        assert ep.metadata.labels["endpointslice.kubernetes.io/skip-mirror"] == "true"
        assert ep.subsets[0].ports[0].port == 8080
        ips = [a.ip for a in ep.subsets[0].addresses]
        assert ips == sorted(ips, key=lambda ip: tuple(int(x) for x in ip.split(".")))
        await cluster.delete(Service, "web")
        await cluster.wait_for(
            lambda: store.try_get(Endpoints, "web", "default") is None, timeout=30
        )


def _pod(i: int, ready: bool) -> Pod:
    return Pod.model_validate(
        {
            "metadata": {
                "name": f"p{i}",
                "namespace": "default",
                "uid": f"u{i}",
                "labels": {"a": "b"},
            },
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {
                "phase": "Running",
                "podIP": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            },
        }
    )


def test_endpoints_capped_at_1000_ready_first() -> None:
    service = Service.model_validate(
        {
            "metadata": {"name": "s", "namespace": "default"},
            "spec": {"selector": {"a": "b"}, "ports": [{"port": 80}]},
        }
    )
    pods = [_pod(i, ready=i % 2 == 0) for i in range(1500)]
    subsets, truncated = desired_subsets(service, pods)
    assert truncated
    ready = sum(len(s.addresses) for s in subsets)
    not_ready = sum(len(s.not_ready_addresses) for s in subsets)
    assert (ready, not_ready) == (750, MAX_CAPACITY - 750)
    deleting = _pod(0, ready=True).model_copy(
        update={
            "metadata": _pod(0, True).metadata.model_copy(
                update={"deletion_timestamp": datetime(2026, 1, 1, tzinfo=UTC)}
            )
        }
    )
    assert desired_subsets(service, [deleting]) == ([], False)


async def test_over_capacity_annotation_set_in_cluster() -> None:
    # No scheduler or nodes: the pods keep the status written here.
    only = ClusterConfig(node_pools=(), controllers=("endpoints",))
    async with Cluster(only) as cluster:
        assert cluster.client is not None and cluster.store is not None
        store = cluster.store
        await cluster.apply(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
            "spec: {selector: {a: b}, ports: [{port: 80}]}\n"
        )
        for i in range(1001):
            pod = _pod(i, ready=True)
            meta = pod.metadata.model_copy(update={"uid": None})
            created = await cluster.client.create(
                pod.model_copy(update={"metadata": meta, "status": pod.status})
            )
            await cluster.client.update_status(created.model_copy(update={"status": pod.status}))

        def truncated() -> bool:
            ep = store.try_get(Endpoints, "s", "default")
            return (
                ep is not None
                and ep.metadata.annotations.get("endpoints.kubernetes.io/over-capacity")
                == "truncated"
            )

        await cluster.wait_for(truncated, timeout=30)
        ep = store.get(Endpoints, "s", "default")
        assert sum(len(s.addresses) for s in ep.subsets) == MAX_CAPACITY


async def test_selectorless_service_endpoints_are_mirrored() -> None:
    async with Cluster(config()) as cluster:
        assert cluster.store is not None
        store = cluster.store
        await cluster.apply(
            """
apiVersion: v1
kind: Service
metadata: {name: external-db}
spec: {ports: [{name: pg, port: 5432}]}
---
apiVersion: v1
kind: Endpoints
metadata: {name: external-db, labels: {team: data}}
subsets:
  - addresses: [{ip: 192.168.1.10}, {ip: 192.168.1.11}]
    notReadyAddresses: [{ip: 192.168.1.12}]
    ports: [{name: pg, port: 5432}]
"""
        )

        def mirrored() -> list[EndpointSlice]:
            return [
                s
                for s in store.objects(EndpointSlice)
                if s.metadata.labels.get("kubernetes.io/service-name") == "external-db"
            ]

        await cluster.wait_for(lambda: len(mirrored()) == 1, timeout=30)
        slice_ = mirrored()[0]
        labels = slice_.metadata.labels
        assert (
            labels["endpointslice.kubernetes.io/managed-by"]
            == "endpointslicemirroring-controller.k8s.io"
        )
        assert labels["team"] == "data"
        got = {e.addresses[0]: e.conditions.ready for e in slice_.endpoints}
        assert got == {"192.168.1.10": True, "192.168.1.11": True, "192.168.1.12": False}
        assert slice_.ports[0].port == 5432
        await cluster.delete(Endpoints, "external-db")
        await cluster.wait_for(lambda: not mirrored(), timeout=30)


async def test_load_balancer_addresses_from_the_pool() -> None:
    network = NetworkSettings(load_balancer_pool="192.168.50.10-192.168.50.11")
    async with Cluster(config(addresses=network)) as cluster:
        assert cluster.store is not None
        store = cluster.store
        lb = (
            "apiVersion: v1\nkind: Service\nmetadata: {{name: {}}}\n"
            "spec: {{type: LoadBalancer, selector: {{a: b}}, ports: [{{port: 80}}]}}\n"
        )
        await cluster.apply(
            lb.format("one") + "---\n" + lb.format("two") + "---\n" + lb.format("three")
        )

        def address(name: str) -> str | None:
            svc = store.try_get(Service, name, "default")
            ingress = svc.status.load_balancer.ingress if svc is not None else []
            return ingress[0].ip if ingress else None

        await cluster.wait_for(
            lambda: address("one") is not None and address("two") is not None, timeout=30
        )
        assert {address("one"), address("two")} == {"192.168.50.10", "192.168.50.11"}
        assert address("three") is None

        def failed() -> list[Event]:
            return [e for e in store.objects(Event) if e.reason == "AllocationFailed"]

        await cluster.wait_for(lambda: bool(failed()), timeout=30)
        assert "no available IPs" in (failed()[0].message or "")
        freed = address("one")
        await cluster.delete(Service, "one")
        await cluster.clock.sleep(31)  # the exhausted one is retried
        await cluster.wait_for(lambda: address("three") == freed, timeout=60)
        store.get(Service, "two", "default")


async def test_pod_ips_lie_in_their_nodes_pod_cidr() -> None:
    import ipaddress

    async with Cluster(config()) as cluster:
        await cluster.apply(APP)
        await cluster.wait_converged(timeout=120)
        assert cluster.store is not None
        nodes = {n.metadata.name: n for n in cluster.store.objects(Node)}
        assert sorted(n.spec.pod_cidr or "" for n in nodes.values()) == [
            "10.244.0.0/24",
            "10.244.1.0/24",
        ]
        for pod in cluster.store.objects(Pod):
            cidr = nodes[pod.spec.node_name or ""].spec.pod_cidr or ""
            assert ipaddress.ip_address(pod.status.pod_ip or "") in ipaddress.ip_network(cidr)


async def test_node_ipam_gives_a_registered_node_a_free_cidr() -> None:
    async with Cluster(config()) as cluster:
        assert cluster.store is not None
        store = cluster.store
        await cluster.apply("apiVersion: v1\nkind: Node\nmetadata: {name: extra}\n")
        await cluster.wait_for(
            lambda: (n := store.try_get(Node, "extra")) is not None and n.spec.pod_cidr is not None,
            timeout=30,
        )
        node = store.get(Node, "extra")
        assert node.spec.pod_cidr == "10.244.2.0/24"
        assert node.spec.pod_cidrs == ["10.244.2.0/24"]


async def test_node_ipam_reports_exhaustion() -> None:
    network = NetworkSettings(cluster_cidr="10.10.0.0/23", node_cidr_mask_size=24)
    async with Cluster(config(addresses=network)) as cluster:
        await cluster.apply("apiVersion: v1\nkind: Node\nmetadata: {name: extra}\n")
        await cluster.wait_for(
            lambda: any(
                e.reason == "CIDRNotAvailable"
                for e in (cluster.store.objects(Event) if cluster.store else ())
            ),
            timeout=30,
        )


def test_default_plan_widens_for_big_clusters() -> None:
    big = ClusterConfig(node_pools=(NodePool(count=1000),))
    assert big.addresses.cluster_cidr == "10.128.0.0/9"
    assert big.addresses.node_cidrs() >= 1000
