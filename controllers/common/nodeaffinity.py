"""Node selectors and node affinity compiled into frozen, hashable matchers
(Kubernetes' nodeaffinity helpers): a node selector term ANDs its
requirements and an empty term matches nothing; terms are ORed; `Gt`/`Lt`
compare integers and never match a label that is not one; `matchFields`
supports `metadata.name` with In/NotIn. A requirement that cannot be parsed
matches nothing (as Kubernetes' lazy-error selectors).

Neighbours: the scheduler (`controllers.scheduler.affinity` builds pod
placement on these) and the daemonset controller (which nodes should run a
daemon pod).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from engine.api.core.placement import Affinity, NodeSelectorRequirement, NodeSelectorTerm

__all__ = [
    "NO_NODE_AFFINITY",
    "NodeAffinitySpec",
    "NodeRequirement",
    "NodeTerm",
    "compile_node_affinity",
    "compile_node_term",
    "parse_int64",
]

NODE_OPERATORS: Final = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})


def parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64), or None."""
    stripped = text[1:] if text[:1] in "+-" else text
    if not stripped.isdigit() or not stripped.isascii():
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


@dataclass(frozen=True, slots=True)
class NodeRequirement:
    """One node selector requirement. `valid` is False when it can never match
    (unknown operator, In/NotIn without values, Gt/Lt without an integer)."""

    key: str
    operator: str
    values: tuple[str, ...] = ()
    bound: int = 0
    valid: bool = True

    @classmethod
    def of(cls, requirement: NodeSelectorRequirement) -> NodeRequirement:
        op = requirement.operator
        values = tuple(requirement.values)
        if op not in NODE_OPERATORS:
            return cls(requirement.key, op, values, valid=False)
        if op in ("In", "NotIn") and not values:
            return cls(requirement.key, op, values, valid=False)
        if op in ("Exists", "DoesNotExist") and values:
            return cls(requirement.key, op, values, valid=False)
        if op in ("Gt", "Lt"):
            bound = parse_int64(values[0]) if len(values) == 1 else None
            if bound is None:
                return cls(requirement.key, op, values, valid=False)
            return cls(requirement.key, op, values, bound)
        return cls(requirement.key, op, values)

    def matches(self, labels: Mapping[str, str]) -> bool:
        if not self.valid:
            return False
        value = labels.get(self.key)
        op = self.operator
        if op == "In":
            return value is not None and value in self.values
        if op == "NotIn":
            return value is None or value not in self.values
        if op == "Exists":
            return value is not None
        if op == "DoesNotExist":
            return value is None
        number = parse_int64(value) if value is not None else None
        if number is None:
            return False
        return number > self.bound if op == "Gt" else number < self.bound


@dataclass(frozen=True, slots=True)
class NodeTerm:
    """A NodeSelectorTerm: every expression and field requirement must hold."""

    expressions: tuple[NodeRequirement, ...] = ()
    fields: tuple[NodeRequirement, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.expressions and not self.fields

    def matches(self, labels: Mapping[str, str], name: str) -> bool:
        if self.empty:
            return False
        if not all(r.matches(labels) for r in self.expressions):
            return False
        fields = {"metadata.name": name}
        return all(r.key == "metadata.name" and r.matches(fields) for r in self.fields)


def compile_node_term(term: NodeSelectorTerm) -> NodeTerm:
    return NodeTerm(
        tuple(NodeRequirement.of(r) for r in term.match_expressions),
        tuple(NodeRequirement.of(r) for r in term.match_fields),
    )


@dataclass(frozen=True, slots=True)
class NodeAffinitySpec:
    """A pod's node constraints: `spec.nodeSelector` (all pairs must match),
    required terms (None when the pod has none; any term must match) and
    weighted preferred terms."""

    node_selector: tuple[tuple[str, str], ...] = ()
    required: tuple[NodeTerm, ...] | None = None
    preferred: tuple[tuple[int, NodeTerm], ...] = ()

    @property
    def has_required(self) -> bool:
        return bool(self.node_selector) or self.required is not None

    def matches_required(self, labels: Mapping[str, str], name: str) -> bool:
        for key, value in self.node_selector:
            if labels.get(key) != value:
                return False
        if self.required is None:
            return True
        return any(term.matches(labels, name) for term in self.required)

    def preferred_score(self, labels: Mapping[str, str], name: str) -> int:
        return sum(w for w, term in self.preferred if term.matches(labels, name))


NO_NODE_AFFINITY: Final = NodeAffinitySpec()


def compile_node_affinity(
    node_selector: Mapping[str, str], affinity: Affinity | None
) -> NodeAffinitySpec:
    selector = tuple(sorted(node_selector.items()))
    node_affinity = affinity.node_affinity if affinity is not None else None
    if node_affinity is None:
        return NodeAffinitySpec(selector) if selector else NO_NODE_AFFINITY
    required_selector = node_affinity.required_during_scheduling_ignored_during_execution
    required = (
        None
        if required_selector is None
        else tuple(compile_node_term(t) for t in required_selector.node_selector_terms)
    )
    preferred = tuple(
        (p.weight, compile_node_term(p.preference))
        for p in node_affinity.preferred_during_scheduling_ignored_during_execution
        if p.weight != 0
    )
    return NodeAffinitySpec(selector, required, preferred)
