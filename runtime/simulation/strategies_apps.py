"""Hypothesis strategies for the apps workloads and disruption budgets:
StatefulSets, DaemonSets, ReplicationControllers and PodDisruptionBudgets,
valid by construction like those of `runtime.simulation.strategies`, and
`all_workloads(name)`, the mix the built-in fuzz target applies, which also
holds Services over those workloads' pods (for the EndpointSlice oracle).

Small on purpose: up to 4 replicas, OrderedReady or Parallel, a partition
now and then, a claim template now and then, DaemonSets with maxUnavailable
or maxSurge, budgets that select another workload's pods by its `app` label
with an absolute or percentage minAvailable or maxUnavailable.

Neighbours: `runtime.simulation.strategies` (pod templates, workloads),
`runtime.simulation.targets` (BUILTIN uses `all_workloads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import strategies as st

from runtime.simulation.strategies import _template, app_label, reused, workloads

__all__ = [
    "HPA_TARGETS",
    "WORKLOAD_KINDS",
    "all_workloads",
    "autoscalers",
    "daemon_sets",
    "disruption_budgets",
    "replication_controllers",
    "services",
    "stateful_sets",
]

WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController")
_NAMES = ("web", "api", "db")


@reused
@st.composite
def stateful_sets(draw: st.DrawFn, name: str, *, max_replicas: int = 4) -> dict[str, Any]:
    app = app_label("StatefulSet", name)
    _, template = _template(draw, app)
    replicas = draw(st.integers(0, max_replicas))
    spec: dict[str, Any] = {
        "replicas": replicas,
        "serviceName": name,
        "podManagementPolicy": draw(st.sampled_from(("OrderedReady", "Parallel"))),
        "minReadySeconds": draw(st.sampled_from((0, 0, 2))),
        "selector": {"matchLabels": {"app": app}},
        "template": template,
    }
    strategy = draw(st.sampled_from(("default", "partition", "maxUnavailable", "OnDelete")))
    if strategy == "partition":
        spec["updateStrategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"partition": draw(st.integers(0, 2))},
        }
    elif strategy == "maxUnavailable":
        spec["updateStrategy"] = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxUnavailable": draw(st.sampled_from((1, 2, "50%")))},
        }
    elif strategy == "OnDelete":
        spec["updateStrategy"] = {"type": "OnDelete"}
    if draw(st.booleans()):
        spec["ordinals"] = {"start": draw(st.integers(0, 3))}
    if draw(st.integers(0, 2)) == 0:
        spec["volumeClaimTemplates"] = [
            {
                "metadata": {"name": "data"},
                "spec": {
                    "accessModes": ["ReadWriteOnce"],
                    "resources": {"requests": {"storage": "1Gi"}},
                },
            }
        ]
        spec["persistentVolumeClaimRetentionPolicy"] = {
            "whenDeleted": draw(st.sampled_from(("Retain", "Delete"))),
            "whenScaled": draw(st.sampled_from(("Retain", "Delete"))),
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": name},
        "spec": spec,
    }


@reused
@st.composite
def daemon_sets(draw: st.DrawFn, name: str) -> dict[str, Any]:
    app = app_label("DaemonSet", name)
    _, template = _template(draw, app)
    kind = draw(st.sampled_from(("RollingUpdate", "RollingUpdate", "OnDelete")))
    strategy: dict[str, Any] = {"type": kind}
    if kind == "RollingUpdate":
        if draw(st.booleans()):
            strategy["rollingUpdate"] = {
                "maxSurge": draw(st.sampled_from((1, "50%"))),
                "maxUnavailable": 0,
            }
        else:
            strategy["rollingUpdate"] = {"maxUnavailable": draw(st.sampled_from((1, 2, "50%")))}
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {"name": name},
        "spec": {
            "minReadySeconds": draw(st.sampled_from((0, 0, 2))),
            "selector": {"matchLabels": {"app": app}},
            "updateStrategy": strategy,
            "template": template,
        },
    }


@reused
@st.composite
def replication_controllers(draw: st.DrawFn, name: str, *, max_replicas: int = 5) -> dict[str, Any]:
    app = app_label("ReplicationController", name)
    _, template = _template(draw, app)
    return {
        "apiVersion": "v1",
        "kind": "ReplicationController",
        "metadata": {"name": name},
        "spec": {
            "replicas": draw(st.integers(0, max_replicas)),
            "selector": {"app": app},
            "template": template,
        },
    }


@reused
@st.composite
def disruption_budgets(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A budget named `name` over the pods of another workload (any kind, any name)."""
    kind = draw(st.sampled_from(WORKLOAD_KINDS))
    target = draw(st.sampled_from(_NAMES))
    spec: dict[str, Any] = {"selector": {"matchLabels": {"app": app_label(kind, target)}}}
    if draw(st.booleans()):
        spec["minAvailable"] = draw(st.sampled_from((1, 2, "50%")))
    else:
        spec["maxUnavailable"] = draw(st.sampled_from((0, 1, "50%")))
    if draw(st.booleans()):
        spec["unhealthyPodEvictionPolicy"] = draw(
            st.sampled_from(("IfHealthyBudget", "AlwaysAllow"))
        )
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": spec,
    }


HPA_TARGETS = {"web": "api", "api": "db", "db": "web"}
"""The Deployment each workload name's HorizontalPodAutoscaler scales: never
its own slot's, and never one another HPA scales (two HPAs on one target
fight, which Kubernetes leaves undefined)."""


@reused
@st.composite
def autoscalers(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """An autoscaling/v2 HPA on the Deployment `HPA_TARGETS[name]`, on cpu
    utilization. The simulated pods use half their cpu request (constant load),
    so a target of 30 % scales to max, 70 or 90 % to min, 50 % holds."""
    minimum = draw(st.integers(1, 2))
    spec: dict[str, Any] = {
        "scaleTargetRef": {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": HPA_TARGETS[name],
        },
        "minReplicas": minimum,
        "maxReplicas": draw(st.integers(minimum, 5)),
        "metrics": [
            {
                "type": "Resource",
                "resource": {
                    "name": "cpu",
                    "target": {
                        "type": "Utilization",
                        "averageUtilization": draw(st.sampled_from((30, 50, 70, 90))),
                    },
                },
            }
        ],
    }
    if draw(st.booleans()):
        window = draw(st.sampled_from((0, 60)))
        spec["behavior"] = {"scaleDown": {"stabilizationWindowSeconds": window}}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name},
        "spec": spec,
    }


@reused
@st.composite
def services(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A Service named `name` over another workload's pods (by its `app`
    label) or over every pod of a tier; now and then headless, or publishing
    not-ready addresses."""
    if draw(st.integers(0, 3)) == 0:
        selector = {"tier": draw(st.sampled_from(("web", "cache", "batch")))}
    else:
        kind = draw(st.sampled_from(WORKLOAD_KINDS))
        selector = {"app": app_label(kind, draw(st.sampled_from(_NAMES)))}
    spec: dict[str, Any] = {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]}
    if draw(st.integers(0, 3)) == 0:
        spec["clusterIP"] = "None"
    if draw(st.integers(0, 3)) == 0:
        spec["publishNotReadyAddresses"] = True
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


@reused
def all_workloads(
    name: str, *, kinds: Sequence[str] = ("Deployment", "ReplicaSet")
) -> st.SearchStrategy[dict[str, Any]]:
    """Any workload kind the built-in controllers drive (`kinds` of those
    `strategies.workloads` makes, and every apps kind), a disruption budget,
    or a HorizontalPodAutoscaler (on the Deployment of another name), or a
    Service."""
    return st.one_of(
        workloads(name, kinds=kinds),
        autoscalers(name),
        stateful_sets(name),
        daemon_sets(name),
        replication_controllers(name),
        disruption_budgets(name),
        services(name),
    )
