"""The Kubernetes documentation's Service examples, in manifests of our own
to the same shape: an nginx Deployment exposed by a Service (the "connecting
applications with Services" tutorial) and a three-tier guestbook (a Redis
leader, Redis followers and a PHP frontend behind a LoadBalancer). On
simulated nodes both converge with their endpoints listed."""

from __future__ import annotations

import ipaddress

from engine.api import Pod, Service
from engine.api.core import Endpoints
from engine.api.discovery import EndpointSlice
from runtime.cluster import Cluster, ClusterConfig, NodePool

NGINX = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-nginx}
spec:
  selector: {matchLabels: {run: my-nginx}}
  replicas: 2
  template:
    metadata: {labels: {run: my-nginx}}
    spec:
      containers:
        - name: my-nginx
          image: nginx
          ports: [{containerPort: 80}]
---
apiVersion: v1
kind: Service
metadata:
  name: my-nginx
  labels: {run: my-nginx}
spec:
  ports: [{port: 80, protocol: TCP}]
  selector: {run: my-nginx}
"""


def _tier(name: str, replicas: int, image: str, port: int, labels: str) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, labels: {labels}}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {labels}}}
  template:
    metadata: {{labels: {labels}}}
    spec:
      containers:
        - name: {name}
          image: {image}
          resources: {{requests: {{cpu: 100m, memory: 100Mi}}}}
          ports: [{{containerPort: {port}}}]
"""


GUESTBOOK = "---".join(
    [
        _tier("redis-leader", 1, "redis:7", 6379, "{app: redis, role: leader, tier: backend}"),
        """
apiVersion: v1
kind: Service
metadata: {name: redis-leader, labels: {app: redis, role: leader, tier: backend}}
spec:
  ports: [{port: 6379, targetPort: 6379}]
  selector: {app: redis, role: leader, tier: backend}
""",
        _tier("redis-follower", 2, "redis:7", 6379, "{app: redis, role: follower, tier: backend}"),
        """
apiVersion: v1
kind: Service
metadata: {name: redis-follower, labels: {app: redis, role: follower, tier: backend}}
spec:
  ports: [{port: 6379}]
  selector: {app: redis, role: follower, tier: backend}
""",
        _tier(
            "frontend",
            3,
            "registry.example/guestbook-php:v5",
            80,
            "{app: guestbook, tier: frontend}",
        ),
        """
apiVersion: v1
kind: Service
metadata: {name: frontend, labels: {app: guestbook, tier: frontend}}
spec:
  type: LoadBalancer
  ports: [{port: 80}]
  selector: {app: guestbook, tier: frontend}
""",
    ]
)


def listed(cluster: Cluster, service: str) -> set[str]:
    """Pod names the Service's EndpointSlices list as ready."""
    assert cluster.store is not None
    return {
        e.target_ref.name or ""
        for s in cluster.store.objects(EndpointSlice)
        if s.metadata.labels.get("kubernetes.io/service-name") == service
        for e in s.endpoints
        if e.conditions.ready and e.target_ref is not None
    }


def pods_of(cluster: Cluster, **labels: str) -> set[str]:
    assert cluster.store is not None
    return {
        p.metadata.name
        for p in cluster.store.objects(Pod)
        if all(p.metadata.labels.get(k) == v for k, v in labels.items())
    }


async def test_run_my_nginx_and_its_service() -> None:
    async with Cluster(ClusterConfig(node_pools=(NodePool(count=2),))) as cluster:
        await cluster.apply(NGINX)
        await cluster.wait_converged(timeout=120)
        await cluster.wait_for(lambda: len(listed(cluster, "my-nginx")) == 2, timeout=30)
        assert listed(cluster, "my-nginx") == pods_of(cluster, run="my-nginx")
        service = await cluster.get(Service, "my-nginx")
        assert ipaddress.ip_address(service.spec.cluster_ip or "") in ipaddress.ip_network(
            "10.96.0.0/12"
        )
        endpoints = await cluster.get(Endpoints, "my-nginx")
        assert len(endpoints.subsets[0].addresses) == 2
        assert endpoints.subsets[0].ports[0].port == 80
        stats = await cluster.traffic(service="my-nginx", rps=100, duration=5)
        assert (stats.requests, stats.errors) == (500, 0)


async def test_guestbook_converges_with_endpoints_listed() -> None:
    async with Cluster(ClusterConfig(node_pools=(NodePool(count=3),))) as cluster:
        await cluster.apply(GUESTBOOK)
        await cluster.wait_converged(timeout=180)
        want = {"redis-leader": 1, "redis-follower": 2, "frontend": 3}
        await cluster.wait_for(
            lambda: all(len(listed(cluster, s)) == n for s, n in want.items()), timeout=30
        )
        assert listed(cluster, "redis-leader") == pods_of(cluster, app="redis", role="leader")
        assert listed(cluster, "redis-follower") == pods_of(cluster, app="redis", role="follower")
        assert listed(cluster, "frontend") == pods_of(cluster, tier="frontend")

        def address() -> str | None:
            assert cluster.store is not None
            svc = cluster.store.get(Service, "frontend", "default")
            ingress = svc.status.load_balancer.ingress
            return ingress[0].ip if ingress else None

        await cluster.wait_for(lambda: address() is not None, timeout=30)
        assert address() == "172.18.255.200"
        frontend = await cluster.get(Service, "frontend")
        assert frontend.spec.ports[0].node_port is not None
        stats = await cluster.traffic(service="frontend", rps=50, duration=4, external=True)
        assert (stats.requests, stats.errors) == (200, 0)
