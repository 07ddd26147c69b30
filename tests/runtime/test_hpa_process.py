"""Acceptance: with the process runtime, a CPU-burning Python container
behind an HPA scales out from really measured usage (procfs, scraped by the
metrics server) and back in once it stops burning. Real time, bounded: the
metric resolution and the HPA's sync period are 1 s (both are flags in
Kubernetes), the scale-down window 0 s (behavior)."""

from __future__ import annotations

import sys
from typing import Any

from controllers import podautoscaler
from engine.api import Deployment
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.cluster.config import ALL_CONTROLLERS

BURN_SECONDS = 4
BURNER = (
    "import time\n"
    f"end = time.monotonic() + {BURN_SECONDS}\n"
    "while time.monotonic() < end:\n"
    "    pass\n"
    "time.sleep(3600)\n"
)


def manifests() -> list[dict[str, Any]]:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "burn"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "burn"}},
            "template": {
                "metadata": {"labels": {"app": "burn"}},
                "spec": {
                    "terminationGracePeriodSeconds": 0,
                    "containers": [
                        {
                            "name": "burn",
                            "image": "python",
                            "command": [sys.executable, "-c", BURNER],
                            "resources": {"requests": {"cpu": "100m"}},
                        }
                    ],
                },
            },
        },
    }
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "burn"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "burn"},
            "minReplicas": 1,
            "maxReplicas": 2,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 50},
                    },
                }
            ],
            "behavior": {"scaleDown": {"stabilizationWindowSeconds": 0}},
        },
    }
    return [deployment, hpa]


async def test_cpu_burner_scales_out_and_back_in() -> None:
    config = ClusterConfig(
        node_pools=(NodePool(count=1),),
        runtime="process",
        virtual_time=False,
        metric_resolution=1.0,
        controllers=tuple(c for c in ALL_CONTROLLERS if c != "horizontalpodautoscaler"),
    )
    async with Cluster(config) as cluster:
        assert cluster.manager is not None and cluster.store is not None
        podautoscaler.setup(cluster.manager, config=podautoscaler.HPAConfig(sync_period=1.0))
        store = cluster.store
        await cluster.apply(manifests())

        def replicas() -> int:
            return store.get(Deployment, "burn").spec.replicas

        await cluster.wait_for(lambda: replicas() == 2, timeout=30, what="scale out")
        await cluster.wait_for(lambda: replicas() == 1, timeout=40, what="scale back in")
