"""NodeAffinity: Filter applies `spec.nodeSelector` and required node affinity
(UnschedulableAndUnresolvable, "node(s) didn't match Pod's node
affinity/selector"); Score sums the weights of matching preferred terms,
normalised by the maximum, weight 2. A required term made only of
`metadata.name In` fields narrows the nodes worth filtering (PreFilterResult).

Masks come from the node table's label columns and are cached per compiled
spec until node labels change, so pods of one template share one mask.

Neighbours: `controllers.scheduler.affinity` (compiled specs),
`cache.snapshot.NodeTable.match_node_affinity`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.affinity import NodeAffinitySpec
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

__all__ = ["REASON", "NodeAffinity"]

REASON: Final = "node(s) didn't match Pod's node affinity/selector"
_STATUS: Final = Status.unresolvable(REASON)


def _node_names(spec: NodeAffinitySpec) -> frozenset[str] | None:
    """Nodes named by `metadata.name In` fields when every term is only that."""
    if spec.required is None or not spec.required:
        return None
    names: set[str] = set()
    for term in spec.required:
        if term.expressions or len(term.fields) != 1:
            return None
        field = term.fields[0]
        if field.key != "metadata.name" or field.operator != "In" or not field.valid:
            return None
        names.update(field.values)
    return frozenset(names)


class NodeAffinity:
    name: Final = "NodeAffinity"
    default_weight: Final = 2

    def __init__(self, handle: Handle) -> None:
        self.table = handle.table
        self._preferred: dict[NodeAffinitySpec, tuple[int, int, npt.NDArray[np.int64]]] = {}

    def pre_filter(self, state: CycleState, pod: PodInfo) -> PreFilterResult | Status | None:
        spec = pod.node_affinity
        if not spec.has_required:
            return Status.skip()
        names = _node_names(spec)
        return PreFilterResult(names) if names is not None else None

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        return window.take(self.table.match_node_affinity(pod.node_affinity))

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        return same_reason(slots, _STATUS)

    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        return None if pod.node_affinity.preferred else Status.skip()

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
        return self._preferred_sums(pod.node_affinity)[slots]

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        return default_normalize(scores, reverse=False)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_LABEL), _node_hint)
        ]


def _node_hint(pod: PodInfo, old: Node | None, new: Node | None) -> bool:
    if new is None:
        return False
    spec = pod.node_affinity
    if not spec.matches_required(new.metadata.labels, new.metadata.name):
        return False
    # An update helps only if the node did not match before.
    return old is None or not spec.matches_required(old.metadata.labels, old.metadata.name)


def new(_args: PluginArgs, handle: Handle) -> Any:
    return NodeAffinity(handle)
