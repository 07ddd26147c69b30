"""Compiled placement rules: node selectors and node affinity, pod (anti-)affinity
terms and topology spread constraints, in the form the scheduler evaluates.

Semantics are Kubernetes': a node selector term ANDs its requirements and an
empty term matches nothing; terms are ORed; `Gt`/`Lt` compare integers and
never match a label that is not one; `matchFields` supports `metadata.name`
with In/NotIn. A pod affinity term matches a pod when the pod's namespace is
listed (or selected by `namespaceSelector`) and its labels match the selector;
an absent selector matches nothing.

Node selector requirements are parsed as Kubernetes' `labels.NewRequirement`
parses them: a valid label key, In/NotIn with values, Exists/DoesNotExist
without, Gt/Lt with one int64, and every value a valid label value (so
`Gt -1` does not parse: `-1` is not a label value); `matchFields` take In or
NotIn with exactly one value. A required term with a requirement that does not
parse matches no node (Kubernetes' lazy-error node selector); preferred terms
that do not parse are kept as an error (`NodeAffinitySpec.preferred_error`),
which NodeAffinity's PreScore reports as an Error status, as Kubernetes'
`NewPreferredSchedulingTerms` does. Preferred terms of weight 0 or with no
requirement are dropped before parsing, as there.

Every type here is frozen and hashable, so terms with equal content share one
per-node counter in the cache. Each has a scalar `matches` used by queueing
hints and per-node checks; the columnar node table evaluates the same rules as
vector operations (`controllers.scheduler.cache.snapshot`).

Neighbours: `controllers.scheduler.podinfo` compiles pods into these;
`plugins.node_affinity`, `plugins.inter_pod_affinity`,
`plugins.pod_topology_spread` use them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from controllers.common.nodeaffinity import (
    NO_NODE_AFFINITY,
    NodeAffinitySpec,
    NodeRequirement,
    NodeTerm,
    compile_node_affinity,
    compile_node_term,
    compile_preferred,
    parse_int64,
    term_errors,
)
from engine.selectors import Selector

__all__ = [
    "NO_NODE_AFFINITY",
    "AffinityTerm",
    "NodeAffinitySpec",
    "NodeRequirement",
    "NodeTerm",
    "SpreadConstraint",
    "WeightedTerm",
    "compile_node_affinity",
    "compile_node_term",
    "compile_preferred",
    "parse_int64",
    "term_errors",
]


@dataclass(frozen=True, slots=True)
class AffinityTerm:
    """A pod (anti-)affinity term with its namespaces resolved against the pod
    that carries it."""

    namespaces: frozenset[str]
    namespace_selector: Selector | None
    selector: Selector
    topology_key: str

    def matches_namespace(self, namespace: str, namespace_labels: Mapping[str, str] | None) -> bool:
        if namespace in self.namespaces:
            return True
        ns_selector = self.namespace_selector
        if ns_selector is None:
            return False
        return ns_selector.matches(namespace_labels or {})

    def matches(
        self, namespace: str, labels: Mapping[str, str], namespace_labels: Mapping[str, str] | None
    ) -> bool:
        return self.matches_namespace(namespace, namespace_labels) and self.selector.matches(labels)


@dataclass(frozen=True, slots=True)
class WeightedTerm:
    weight: int
    term: AffinityTerm


@dataclass(frozen=True, slots=True)
class SpreadConstraint:
    """A topology spread constraint; `selector` already includes matchLabelKeys."""

    max_skew: int
    topology_key: str
    when_unsatisfiable: str
    selector: Selector
    min_domains: int = 1
    honor_node_affinity: bool = True
    honor_node_taints: bool = False

    @property
    def hard(self) -> bool:
        return self.when_unsatisfiable == "DoNotSchedule"
