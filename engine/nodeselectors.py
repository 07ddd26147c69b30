"""Node selector matching: does a core/v1 NodeSelector (a volume's or a pod's
required node affinity) admit a node?

Role: one pure implementation of Kubernetes' NodeSelectorTerm semantics for
the code outside the scheduler (which compiles its own for speed): terms are
ORed, a term's requirements ANDed, an empty term matches nothing;
matchExpressions read the node's labels (In, NotIn, Exists, DoesNotExist,
Gt, Lt), matchFields only `metadata.name`.

Neighbours: `runtime.kubelet.admission` (a pod's affinity on its node),
`controllers.volume` (a volume's nodeAffinity).
"""

from __future__ import annotations

from engine.api import core

__all__ = ["node_selector_matches", "term_matches"]


def _requirement_matches(
    requirement: core.NodeSelectorRequirement, value: str | None, present: bool
) -> bool:
    op = requirement.operator
    if op == "In":
        return present and value in requirement.values
    if op == "NotIn":
        return not present or value not in requirement.values
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    if op in ("Gt", "Lt"):
        if not present or len(requirement.values) != 1:
            return False
        try:
            actual, bound = int(value or ""), int(requirement.values[0])
        except ValueError:
            return False
        return actual > bound if op == "Gt" else actual < bound
    return False


def term_matches(term: core.NodeSelectorTerm, node: core.Node) -> bool:
    """Every requirement of the term holds for `node` (an empty term: False)."""
    if not term.match_expressions and not term.match_fields:
        return False
    labels = node.metadata.labels
    for requirement in term.match_expressions:
        present = requirement.key in labels
        if not _requirement_matches(requirement, labels.get(requirement.key), present):
            return False
    for requirement in term.match_fields:
        if requirement.key != "metadata.name":
            return False
        if not _requirement_matches(requirement, node.metadata.name, True):
            return False
    return True


def node_selector_matches(selector: core.NodeSelector, node: core.Node) -> bool:
    """Any of the selector's terms matches `node`."""
    return any(term_matches(term, node) for term in selector.node_selector_terms)
