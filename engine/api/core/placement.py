"""core/v1 placement rules the scheduler reads: node selector terms, node and
pod (anti-)affinity, tolerations and taints, topology spread constraints.

Kubernetes' long names are kept (`required_during_scheduling_ignored_during_execution`)
so code and manifests read alike. `Toleration.tolerates(taint)` is the
Kubernetes matching rule, used by the scheduler, the taint manager and
DaemonSets alike.

Neighbours: `engine.api.core.pod` (PodSpec), `engine.api.core.node` (NodeSpec
taints), `engine.selectors` (compiles the label selectors here).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engine.api.base import KubeModel, LabelSelector
from engine.api.integers import Int32, Int64

__all__ = [
    "Affinity",
    "NodeAffinity",
    "NodeSelector",
    "NodeSelectorRequirement",
    "NodeSelectorTerm",
    "PodAffinity",
    "PodAffinityTerm",
    "PodAntiAffinity",
    "PreferredSchedulingTerm",
    "Taint",
    "Toleration",
    "TopologySpreadConstraint",
    "WeightedPodAffinityTerm",
]


class NodeSelectorRequirement(KubeModel):
    """`key operator values`; operators In, NotIn, Exists, DoesNotExist, Gt, Lt."""

    key: str
    operator: str
    values: list[str] = Field(default_factory=list)


class NodeSelectorTerm(KubeModel):
    """All requirements of a term must hold (AND); matchFields matches metadata.name."""

    match_expressions: list[NodeSelectorRequirement] = Field(default_factory=list)
    match_fields: list[NodeSelectorRequirement] = Field(default_factory=list)


class NodeSelector(KubeModel):
    """Any one of the terms must hold (OR)."""

    node_selector_terms: list[NodeSelectorTerm] = Field(default_factory=list)


class PreferredSchedulingTerm(KubeModel):
    weight: Int32
    preference: NodeSelectorTerm


class NodeAffinity(KubeModel):
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = Field(
        default_factory=list
    )


class PodAffinityTerm(KubeModel):
    """Pods matching `labelSelector` in `namespaces` (or those matched by
    `namespaceSelector`; the pod's own namespace when both are empty), counted
    per value of the node label `topologyKey`."""

    topology_key: str
    label_selector: LabelSelector | None = None
    namespaces: list[str] = Field(default_factory=list)
    namespace_selector: LabelSelector | None = None
    match_label_keys: list[str] = Field(default_factory=list)
    mismatch_label_keys: list[str] = Field(default_factory=list)


class WeightedPodAffinityTerm(KubeModel):
    weight: Int32
    pod_affinity_term: PodAffinityTerm


class PodAffinity(KubeModel):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = Field(
        default_factory=list
    )
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = Field(
        default_factory=list
    )


class PodAntiAffinity(KubeModel):
    required_during_scheduling_ignored_during_execution: list[PodAffinityTerm] = Field(
        default_factory=list
    )
    preferred_during_scheduling_ignored_during_execution: list[WeightedPodAffinityTerm] = Field(
        default_factory=list
    )


class Affinity(KubeModel):
    node_affinity: NodeAffinity | None = None
    pod_affinity: PodAffinity | None = None
    pod_anti_affinity: PodAntiAffinity | None = None


class Taint(KubeModel):
    """A node's repellent: effect NoSchedule, PreferNoSchedule or NoExecute."""

    key: str
    effect: str
    value: str | None = None
    time_added: datetime | None = None


class Toleration(KubeModel):
    """Lets a pod ignore matching taints; an empty key with Exists tolerates all."""

    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: Int64 | None = None

    def tolerates(self, taint: Taint) -> bool:
        """Kubernetes' ToleratesTaint: effects match (or this one is empty), keys
        match (or this key is empty with Exists), and Equal compares values."""
        if self.effect and self.effect != taint.effect:
            return False
        if self.key and self.key != taint.key:
            return False
        operator = self.operator or "Equal"
        if operator == "Exists":
            return True
        if operator == "Equal":
            return (self.value or "") == (taint.value or "")
        return False


class TopologySpreadConstraint(KubeModel):
    """Spread matching pods over the domains of `topologyKey`, within `maxSkew`."""

    max_skew: Int32
    topology_key: str
    when_unsatisfiable: str
    label_selector: LabelSelector | None = None
    min_domains: Int32 | None = None
    node_affinity_policy: str | None = None
    node_taints_policy: str | None = None
    match_label_keys: list[str] = Field(default_factory=list)
