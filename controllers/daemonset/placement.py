"""Which nodes a DaemonSet's pod belongs on, and the pod made for one node
(Kubernetes' NodeShouldRunDaemonPod, AddOrUpdateDaemonPodTolerations and
ReplaceDaemonSetPodNodeNameNodeAffinity).

A node should run the daemon pod when the template's `nodeName` (if any)
names it, its labels satisfy `nodeSelector` and the required node affinity,
and every NoSchedule/NoExecute taint is tolerated by the template's
tolerations plus those the controller adds to every daemon pod:

* `node.kubernetes.io/not-ready` and `.../unreachable`, NoExecute, forever;
* `.../disk-pressure`, `.../memory-pressure`, `.../pid-pressure`,
  `.../unschedulable`, NoSchedule;
* `.../network-unavailable`, NoSchedule, for host-network pods.

A pod already on a node may continue running unless a NoExecute taint is not
tolerated. The pod for a node carries a required node affinity whose only
term is `matchFields: metadata.name In [node]`, and the scheduler places it
(Kubernetes' way since 1.12; the node's other constraints were checked here).

Neighbours: `controllers.common.nodeaffinity`; `controllers.daemonset.control`.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from controllers.common.nodeaffinity import NodeAffinitySpec, compile_node_affinity
from engine.api import (
    Affinity,
    Node,
    NodeAffinity,
    NodeSelector,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PodSpec,
    Toleration,
)

__all__ = [
    "Placement",
    "compile_constraints",
    "daemon_spec",
    "placement",
    "target_node",
    "with_daemon_tolerations",
]

_NO_SCHEDULE: Final = (
    "node.kubernetes.io/disk-pressure",
    "node.kubernetes.io/memory-pressure",
    "node.kubernetes.io/pid-pressure",
    "node.kubernetes.io/unschedulable",
)
_NO_EXECUTE: Final = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")
_NETWORK_UNAVAILABLE: Final = "node.kubernetes.io/network-unavailable"
_NO_AFFINITY: Final = Affinity()
_NO_NODE_AFFINITY: Final = NodeAffinity()


class Placement(NamedTuple):
    should_run: bool
    should_continue_running: bool


def with_daemon_tolerations(spec: PodSpec) -> PodSpec:
    """`spec` with the tolerations every daemon pod gets (those it lacks)."""
    wanted = [Toleration(key=k, operator="Exists", effect="NoExecute") for k in _NO_EXECUTE]
    wanted += [Toleration(key=k, operator="Exists", effect="NoSchedule") for k in _NO_SCHEDULE]
    if spec.host_network:
        wanted.append(Toleration(key=_NETWORK_UNAVAILABLE, operator="Exists", effect="NoSchedule"))
    have = spec.tolerations
    missing = [t for t in wanted if t not in have]
    if not missing:
        return spec
    return spec.model_copy(update={"tolerations": [*have, *missing]})


def daemon_spec(spec: PodSpec, node_name: str) -> PodSpec:
    """The spec of the daemon pod for `node_name`, from a template spec that
    already has the daemon tolerations (`with_daemon_tolerations`): its
    required node affinity replaced by the node's name. Built without
    re-validation (the parts are valid by construction): it runs once per
    node."""
    requirement = NodeSelectorRequirement.model_construct(
        key="metadata.name", operator="In", values=[node_name]
    )
    term = NodeSelectorTerm.model_construct(match_expressions=[], match_fields=[requirement])
    required = NodeSelector.model_construct(node_selector_terms=[term])
    affinity = spec.affinity or _NO_AFFINITY
    node_affinity = affinity.node_affinity or _NO_NODE_AFFINITY
    node_affinity = node_affinity.model_copy(
        update={"required_during_scheduling_ignored_during_execution": required}
    )
    affinity = affinity.model_copy(update={"node_affinity": node_affinity})
    return spec.model_copy(update={"affinity": affinity})


def target_node(spec: PodSpec) -> str | None:
    """The node a daemon pod is for: its nodeName, or its affinity's single
    `metadata.name` value (Kubernetes' GetTargetNodeName)."""
    if spec.node_name:
        return spec.node_name
    affinity = spec.affinity
    if affinity is None or affinity.node_affinity is None:
        return None
    required = affinity.node_affinity.required_during_scheduling_ignored_during_execution
    if required is None:
        return None
    for term in required.node_selector_terms:
        for field in term.match_fields:
            if field.key == "metadata.name" and field.operator == "In" and len(field.values) == 1:
                return field.values[0]
    return None


def compile_constraints(spec: PodSpec) -> NodeAffinitySpec:
    return compile_node_affinity(spec.node_selector, spec.affinity)


def placement(spec: PodSpec, constraints: NodeAffinitySpec, node: Node) -> Placement:
    """Whether `node` should run (and may keep running) a pod of `spec`,
    which already carries the daemon tolerations."""
    name = node.metadata.name
    if spec.node_name and spec.node_name != name:
        return Placement(False, False)
    if not constraints.matches_required(node.metadata.labels, name):
        return Placement(False, False)
    should_run = should_continue = True
    for taint in node.spec.taints:
        if taint.effect not in ("NoSchedule", "NoExecute"):
            continue
        if any(t.tolerates(taint) for t in spec.tolerations):
            continue
        should_run = False
        if taint.effect == "NoExecute":
            should_continue = False
    return Placement(should_run, should_continue)
