"""A planted HPA bug and the fuzz target that must catch it: `OneSyncHPA`
syncs an HPA when it changes and never again (no periodic resync), so the
metrics that arrive after its first sync never move the Deployment; the
`autoscalers` desired-state check (ESR) finds the count off the formula's.

Neighbours: `runtime.simulation.oracles_autoscaling`,
`tests.simulation.test_autoscaling_fuzz`.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from controllers.podautoscaler import HorizontalController
from engine.controller import Request, Result
from engine.manager import Manager
from runtime.cluster import NodePool
from runtime.simulation.targets import FuzzTarget


class OneSyncHPA(HorizontalController):
    async def reconcile(self, request: Request) -> Result:
        await super().reconcile(request)
        return Result()  # the bug: no resync every 15 s


def one_sync_setup(manager: Manager) -> OneSyncHPA:
    hc = OneSyncHPA(manager.client, manager.factory, manager.clock)
    manager.add(hc.controller)
    manager.add_runnable(hc.recorder.run)
    return hc


def _deployment(name: str) -> dict[str, Any]:
    app = {"app": f"deployment-{name}"}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": app},
            "template": {
                "metadata": {"labels": app},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {"name": "c0", "image": "nginx", "resources": {"requests": {"cpu": "100m"}}}
                    ],
                },
            },
        },
    }


def _hpa(name: str, target: str) -> dict[str, Any]:
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": target},
            "minReplicas": 1,
            "maxReplicas": 3,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 30},
                    },
                }
            ],
        },
    }


def workloads(name: str) -> st.SearchStrategy[dict[str, Any]]:
    """`web` is a Deployment at 50 % of its request; `api` an HPA on it at 30 %."""
    return st.just(_deployment(name) if name == "web" else _hpa(name, "web"))


def target(name: str, setup: Any, ref: str) -> FuzzTarget:
    return FuzzTarget(
        name=name,
        workloads=workloads,
        workload_names=("web", "api"),
        controllers=("scheduler", "deployment", "replicaset", "horizontalpodautoscaler"),
        custom_controllers={"horizontalpodautoscaler": setup} if setup is not None else {},
        fault_kinds=(),
        rules=frozenset({"apply", "wait"}),
        desired_checks=("autoscalers", "deployments"),
        esr_bound=600.0,
        esr_window=60.0,
        max_nodes=1,
        node_pools=(NodePool(count=1),),
        ref=ref,
    )


ONE_SYNC = target(
    "planted-one-sync-hpa", one_sync_setup, "tests.simulation.planted_autoscaling:ONE_SYNC"
)
CORRECT = target("hpa-correct", None, "tests.simulation.planted_autoscaling:CORRECT")
