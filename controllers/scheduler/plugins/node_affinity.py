"""NodeAffinity: Filter applies `spec.nodeSelector` and required node affinity
(UnschedulableAndUnresolvable, "node(s) didn't match Pod's node
affinity/selector"); Score sums the weights of matching preferred terms,
normalised by the maximum, weight 2.

As Kubernetes' plugin:

* PreFilter narrows the nodes worth filtering from `metadata.name In` field
  requirements: within a term they intersect (whatever else the term says),
  across terms they unite; a term without one leaves every node possible.
  An empty result is UnschedulableAndUnresolvable "pod affinity terms
  conflict".
* Preferred terms that do not parse make PreScore return an Error (the pod
  backs off as after any scheduling error).
* The plugin's `addedAffinity` argument (`{"addedAffinity": {
  "requiredDuringSchedulingIgnoredDuringExecution": ...,
  "preferredDuringSchedulingIgnoredDuringExecution": [...]}}`) applies to every
  pod of the profile: nodes outside its required selector are rejected with
  "node(s) didn't match scheduler-enforced node affinity", and its preferred
  terms add to every pod's score. Terms that do not parse are a
  configuration error.

Masks come from the node table's label columns and are cached per compiled
spec until node labels change, so pods of one template share one mask.

Neighbours: `controllers.scheduler.affinity` (compiled specs),
`cache.snapshot.NodeTable.match_node_affinity`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.affinity import (
    NodeAffinitySpec,
    compile_node_term,
    compile_preferred,
    term_errors,
)
from controllers.scheduler.cluster_events import NODE, Action, ClusterEvent, EventRegistration
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import (
    BoolMask,
    Explanation,
    PreFilterResult,
    ScoreResult,
    Slots,
)
from controllers.scheduler.plugins.helpers import default_normalize, same_reason
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Node
from engine.api.core.placement import NodeAffinity as NodeAffinityModel

__all__ = ["CONFLICT", "ENFORCED", "REASON", "NodeAffinity"]

REASON: Final = "node(s) didn't match Pod's node affinity/selector"
ENFORCED: Final = "node(s) didn't match scheduler-enforced node affinity"
CONFLICT: Final = "pod affinity terms conflict"
_STATUS: Final = Status.unresolvable(REASON)
_ENFORCED_STATUS: Final = Status.unresolvable(ENFORCED)
_CONFLICT_STATUS: Final = Status.unresolvable(CONFLICT)


def _node_names(spec: NodeAffinitySpec) -> frozenset[str] | None:
    """The union over required terms of the intersection of each term's
    `metadata.name In` values; None when some term has none (any node may do)."""
    if not spec.required:
        return None
    names: set[str] = set()
    for term in spec.required:
        term_names: set[str] | None = None
        for field in term.fields:
            if field.key == "metadata.name" and field.operator == "In":
                values = set(field.values)
                term_names = values if term_names is None else term_names & values
        if term_names is None:
            return None
        names |= term_names
    return frozenset(names)


def _added_affinity(args: PluginArgs) -> tuple[NodeAffinitySpec | None, NodeAffinitySpec | None]:
    """(required, preferred) specs from the `addedAffinity` argument; ValueError
    naming the path when a term does not parse."""
    raw = (args or {}).get("addedAffinity")
    if not raw:
        return None, None
    try:
        model = NodeAffinityModel.model_validate(raw)
    except ValueError as invalid:
        raise ValueError(f"NodeAffinity: invalid addedAffinity: {invalid}") from None
    required: NodeAffinitySpec | None = None
    selector = model.required_during_scheduling_ignored_during_execution
    if selector is not None:
        terms = tuple(compile_node_term(t) for t in selector.node_selector_terms)
        errors = [e for i, t in enumerate(terms) for e in term_errors(t, f"nodeSelectorTerms[{i}]")]
        if errors:
            raise ValueError(
                "NodeAffinity: parsing addedAffinity.requiredDuringSchedulingIgnoredDuring"
                f"Execution: {', '.join(errors)}"
            )
        required = NodeAffinitySpec(required=terms)
    preferred_terms = model.preferred_during_scheduling_ignored_during_execution
    preferred, error = compile_preferred(preferred_terms)
    if error:
        raise ValueError(
            "NodeAffinity: parsing addedAffinity.preferredDuringSchedulingIgnoredDuring"
            f"Execution: {error}"
        )
    return required, NodeAffinitySpec(preferred=preferred) if preferred else None


class NodeAffinity:
    name: Final = "NodeAffinity"
    default_weight: Final = 2

    def __init__(self, handle: Handle, args: PluginArgs = None) -> None:
        self.table = handle.table
        self._preferred: dict[NodeAffinitySpec, tuple[int, int, npt.NDArray[np.int64]]] = {}
        self.added_required, self.added_preferred = _added_affinity(args)

    @property
    def enforces(self) -> bool:
        """Whether `addedAffinity` constrains or scores every pod."""
        return self.added_required is not None or self.added_preferred is not None

    def pre_filter(self, state: CycleState, pod: PodInfo) -> PreFilterResult | Status | None:
        spec = pod.node_affinity
        if not spec.has_required and self.added_required is None:
            return Status.skip()
        names = _node_names(spec)
        if names is None:
            return None
        return PreFilterResult(names) if names else _CONFLICT_STATUS

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        table = self.table
        mask: BoolMask | None = None
        if pod.node_affinity.has_required:
            mask = window.take(table.match_node_affinity(pod.node_affinity))
        if self.added_required is not None:
            added = window.take(table.match_node_affinity(self.added_required))
            mask = added if mask is None else mask & added
        return mask

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        if self.added_required is None:
            return same_reason(slots, _STATUS)
        added = self.table.match_node_affinity(self.added_required)[slots]
        # The enforced selector is checked first, as in Kubernetes' Filter.
        return np.where(added, 0, 1).astype(np.intp), [_STATUS, _ENFORCED_STATUS]

    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        spec = pod.node_affinity
        if spec.preferred_error:
            return Status.error(spec.preferred_error)
        return None if spec.preferred or self.added_preferred is not None else Status.skip()

    def _preferred_sums(self, spec: NodeAffinitySpec) -> npt.NDArray[np.int64]:
        table = self.table
        cached = self._preferred.get(spec)
        if cached is not None and cached[0] == table.labels_version and cached[1] == table.size:
            return cached[2]
        sums = np.zeros(table.size, np.int64)
        for weight, term in spec.preferred:
            sums += np.where(table.match_term(term), weight, 0)
        if len(self._preferred) > 256:
            self._preferred.clear()
        self._preferred[spec] = (table.labels_version, table.size, sums)
        return sums

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        spec = pod.node_affinity
        if self.added_preferred is None:
            return self._preferred_sums(spec)[slots]
        added = self._preferred_sums(self.added_preferred)[slots]
        return added + self._preferred_sums(spec)[slots] if spec.preferred else added

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        return default_normalize(scores, reverse=False)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(
                ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_LABEL), self._node_hint
            )
        ]

    def _node_hint(self, pod: PodInfo, old: Node | None, new: Node | None) -> bool:
        if new is None:
            return False
        labels, name = new.metadata.labels, new.metadata.name
        added = self.added_required
        if added is not None and not added.matches_required(labels, name):
            return False
        spec = pod.node_affinity
        if not spec.matches_required(labels, name):
            return False
        # An update helps only if the node did not match before.
        return old is None or not spec.matches_required(old.metadata.labels, old.metadata.name)


def new(args: PluginArgs, handle: Handle) -> Any:
    return NodeAffinity(handle, args)
