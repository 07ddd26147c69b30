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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from engine.api.core.placement import (
    Affinity,
    NodeSelectorRequirement,
    NodeSelectorTerm,
    PreferredSchedulingTerm,
)
from engine.selectors import label_key_errors, label_value_errors

__all__ = [
    "NODE_OPERATORS",
    "NO_NODE_AFFINITY",
    "NodeAffinitySpec",
    "NodeRequirement",
    "NodeTerm",
    "compile_node_affinity",
    "compile_node_term",
    "compile_preferred",
    "parse_int64",
    "term_errors",
]

NODE_OPERATORS: Final = frozenset({"In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"})


def parse_int64(text: str) -> int | None:
    """strconv.ParseInt(text, 10, 64), or None."""
    stripped = text[1:] if text[:1] in "+-" else text
    if not stripped.isdigit() or not stripped.isascii():
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


def _expression_error(requirement: NodeSelectorRequirement) -> str:
    """Why `labels.NewRequirement` would reject this expression, or ""."""
    op = requirement.operator
    values = requirement.values
    if op not in NODE_OPERATORS:
        return f'operator: Unsupported value: "{op}"'
    errors = label_key_errors(requirement.key)
    if errors:
        return f'key: Invalid value: "{requirement.key}": {"; ".join(errors)}'
    if op in ("In", "NotIn") and not values:
        return "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty"
    if op in ("Exists", "DoesNotExist") and values:
        return "values: Invalid value: values set must be empty for exists and does not exist"
    if op in ("Gt", "Lt"):
        if len(values) != 1:
            return "values: Invalid value: for 'Gt', 'Lt' operators, exactly one value is required"
        if parse_int64(values[0]) is None:
            return (
                f'values[0]: Invalid value: "{values[0]}": '
                "for 'Gt', 'Lt' operators, the value must be an integer"
            )
    for index, value in enumerate(values):
        errors = label_value_errors(value)
        if errors:
            return f'values[{index}]: Invalid value: "{value}": {"; ".join(errors)}'
    return ""


def _field_error(requirement: NodeSelectorRequirement) -> str:
    """Why `nodeSelectorRequirementsAsFieldSelector` would reject this field
    requirement, or ""."""
    if requirement.operator not in ("In", "NotIn"):
        return f'operator: Unsupported value: "{requirement.operator}"'
    if len(requirement.values) != 1:
        return "values: Invalid value: must have one element"
    return ""


@dataclass(frozen=True, slots=True)
class NodeRequirement:
    """One node selector requirement. `valid` is False when it does not parse
    (`error` says why); such a requirement never matches."""

    key: str
    operator: str
    values: tuple[str, ...] = ()
    bound: int = 0
    valid: bool = True
    error: str = ""

    @classmethod
    def of(cls, requirement: NodeSelectorRequirement, *, field: bool = False) -> NodeRequirement:
        op = requirement.operator
        values = tuple(requirement.values)
        error = _field_error(requirement) if field else _expression_error(requirement)
        if error:
            return cls(requirement.key, op, values, valid=False, error=error)
        if op in ("Gt", "Lt"):
            bound = parse_int64(values[0])
            assert bound is not None
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
        tuple(NodeRequirement.of(r, field=True) for r in term.match_fields),
    )


def term_errors(term: NodeTerm, path: str) -> list[str]:
    """The parse errors of a compiled term, each prefixed with its field path."""
    return [
        f"{path}.{part}[{index}].{requirement.error}"
        for part, requirements in (
            ("matchExpressions", term.expressions),
            ("matchFields", term.fields),
        )
        for index, requirement in enumerate(requirements)
        if requirement.error
    ]


def compile_preferred(
    terms: Sequence[PreferredSchedulingTerm],
) -> tuple[tuple[tuple[int, NodeTerm], ...], str]:
    """(weighted terms, parse errors joined, or "") of preferred scheduling
    terms; weight-0 and empty terms are left out before parsing."""
    compiled: list[tuple[int, NodeTerm]] = []
    errors: list[str] = []
    for index, preferred in enumerate(terms):
        term = compile_node_term(preferred.preference)
        if preferred.weight == 0 or term.empty:
            continue
        errors.extend(term_errors(term, f"[{index}]"))
        compiled.append((preferred.weight, term))
    return tuple(compiled), ", ".join(errors)


@dataclass(frozen=True, slots=True)
class NodeAffinitySpec:
    """A pod's node constraints: `spec.nodeSelector` (all pairs must match),
    required terms (None when the pod has none; any term must match) and
    weighted preferred terms."""

    node_selector: tuple[tuple[str, str], ...] = ()
    required: tuple[NodeTerm, ...] | None = None
    preferred: tuple[tuple[int, NodeTerm], ...] = ()
    preferred_error: str = ""

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
    preferred, error = compile_preferred(
        node_affinity.preferred_during_scheduling_ignored_during_execution
    )
    return NodeAffinitySpec(selector, required, preferred, error)
