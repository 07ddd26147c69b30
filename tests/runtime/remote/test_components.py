"""The controllers and the scheduler in a process of their own: the roles of
`kubeloop serve` over the HTTP API, with leader election."""

from __future__ import annotations

import asyncio
import random

import pytest

from engine.api.apps import Deployment
from engine.api.coordination import Lease
from engine.api.core import Pod
from engine.leaderelection import LeaseTiming
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.cluster.serving import ServeOptions
from runtime.components import ComponentOptions, component_setups, run_component
from runtime.remote import Connection

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

FAST = LeaseTiming(lease_duration=3.0, renew_deadline=2.0, retry_period=0.5)


def _apiserver_only() -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=2),), controllers=(), virtual_time=False)


def test_the_roles_split_the_registry() -> None:
    assert set(component_setups("scheduler")) == {"scheduler"}
    controllers = component_setups("controllers")
    assert "replicaset" in controllers and "deployment" in controllers
    assert "scheduler" not in controllers and "clusterautoscaler" not in controllers
    with pytest.raises(ValueError, match="not one of"):
        ComponentOptions(role="apiserver")


async def test_a_deployment_rolls_out_with_controllers_and_scheduler_in_other_components() -> None:
    async with Cluster(_apiserver_only()) as cluster:
        endpoint = await cluster.serve(ServeOptions(tls=True))
        connection = Connection.from_kubeconfig_text(endpoint.kubeconfig_text())
        tasks = [
            asyncio.create_task(
                run_component(
                    connection,
                    ComponentOptions(role=role, timing=FAST, identity=f"{role}-a"),
                    rng=random.Random(1),
                )
            )
            for role in ("controllers", "scheduler")
        ]
        store = cluster.store
        assert store is not None
        try:
            await cluster.apply(WEB)

            def rolled_out() -> bool:
                pods = store.list(Pod, "default").items
                ready = [p for p in pods if p.status.phase == "Running" and p.spec.node_name]
                deployment = store.try_get(Deployment, "web", "default")
                return (
                    len(ready) == 3
                    and deployment is not None
                    and deployment.status is not None
                    and deployment.status.ready_replicas == 3
                )

            await cluster.wait_for(rolled_out, timeout=60, what="the rollout")
            leases = {
                lease.metadata.name: lease.spec.holder_identity
                for lease in store.list(Lease, "kube-system").items
            }
            assert leases["kube-controller-manager"] == "controllers-a"
            assert leases["kube-scheduler"] == "scheduler-a"
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
