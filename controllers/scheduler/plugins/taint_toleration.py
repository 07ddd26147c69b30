"""TaintToleration: Filter rejects nodes with a NoSchedule or NoExecute taint
the pod does not tolerate (UnschedulableAndUnresolvable, reason "node(s) had
untolerated taint(s)": as in current Kubernetes, the taint is not printed,
since taint values can be sensitive); Score counts untolerated
PreferNoSchedule taints, normalised in reverse (fewer is better), weight 3.

Vectorised through the node table's taint bitsets: the pod's untolerated
taints become one bitset per word, and a node passes when AND gives zero.
Bitsets are memoised per toleration list until the taint catalogue changes.

Neighbours: `cache.snapshot.NodeTable` (taint catalogue and bitsets),
`engine.api.core.placement.Toleration.tolerates` (the matching rule).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cache.snapshot import HARD_EFFECTS, NodeTable
from controllers.scheduler.cluster_events import (
    NODE,
    UNSCHEDULED_POD,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import BoolMask, Explanation, ScoreResult, Slots
from controllers.scheduler.plugins.helpers import MAX_NODE_SCORE, default_normalize, same_reason
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api.core import Node, Toleration

__all__ = ["REASON", "TaintToleration", "untolerated_taint"]

SOFT_EFFECTS: Final = frozenset({"PreferNoSchedule"})
REASON: Final = "node(s) had untolerated taint(s)"
_STATUS: Final = Status.unresolvable(REASON)
_FILTER_KEY: Final = "PreFilterTaintToleration"
_SCORE_KEY: Final = "PreScoreTaintToleration"
Words = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class _Bits:
    words: Words

    def clone(self) -> _Bits:
        return self


def untolerated_taint(node: Node, tolerations: tuple[Toleration, ...]) -> tuple[str, str] | None:
    """(key, value) of the node's first NoSchedule/NoExecute taint no toleration
    tolerates, in the node's taint order, or None."""
    for taint in node.spec.taints:
        if taint.effect in HARD_EFFECTS and not any(t.tolerates(taint) for t in tolerations):
            return taint.key, taint.value or ""
    return None


class TaintToleration:
    name: Final = "TaintToleration"
    default_weight: Final = 3

    def __init__(self, handle: Handle) -> None:
        self.table: NodeTable = handle.table
        self._memo: dict[tuple[int, ...], tuple[int, Words, Words, tuple[Toleration, ...]]] = {}

    def _bits(self, pod: PodInfo) -> tuple[Words, Words]:
        """(untolerated hard taints, untolerated PreferNoSchedule taints)."""
        tolerations = pod.tolerations
        key = tuple(map(id, tolerations))
        table = self.table
        cached = self._memo.get(key)
        if cached is not None and cached[0] == table.taints_version:
            return cached[1], cached[2]
        hard = table.untolerated_bits(tolerations, HARD_EFFECTS)
        soft_tolerations = tuple(
            t for t in tolerations if t.effect in (None, "", "PreferNoSchedule")
        )
        soft = table.untolerated_bits(soft_tolerations, SOFT_EFFECTS)
        if len(self._memo) > 1024:
            self._memo.clear()
        # Keep the tolerations alive so their ids in the key stay theirs.
        self._memo[key] = (table.taints_version, hard, soft, tolerations)
        return hard, soft

    # -- Filter ---------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if self.table.hard_taint_nodes == 0:
            return Status.skip()
        hard, _ = self._bits(pod)
        if not hard.any():
            return Status.skip()
        state.write(_FILTER_KEY, _Bits(hard))
        return None

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        bits: _Bits = state.read(_FILTER_KEY)
        words = window.take(self.table.taint_words)
        mask: BoolMask | None = None
        for i, word in enumerate(bits.words.tolist()):
            if word:
                ok = (words[i] & np.uint64(word)) == 0
                mask = ok if mask is None else mask & ok
        return mask

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        return same_reason(slots, _STATUS)

    # -- Score ----------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        if self.table.soft_taint_nodes == 0:
            return None
        _, soft = self._bits(pod)
        state.write(_SCORE_KEY, _Bits(soft))
        return None

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        bits: _Bits | None = state.get(_SCORE_KEY)
        if bits is None or not bits.words.any():
            return MAX_NODE_SCORE  # no PreferNoSchedule taint counts anywhere
        words = self.table.taint_words[:, slots]
        counts = np.zeros(len(slots), np.int64)
        for i, word in enumerate(bits.words.tolist()):
            if word:
                counts += np.bitwise_count(words[i] & np.uint64(word)).astype(np.int64)
        return counts

    def normalize_score(
        self, state: CycleState, pod: PodInfo, scores: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.int64]:
        return default_normalize(scores, reverse=True)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(
                ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_TAINT), _node_hint
            ),
            EventRegistration(ClusterEvent(UNSCHEDULED_POD, Action.UPDATE_POD_TOLERATION)),
        ]


def _node_hint(pod: PodInfo, _old: Any, new: Node | None) -> bool:
    return new is not None and untolerated_taint(new, pod.tolerations) is None


def new(_args: PluginArgs, handle: Handle) -> Any:
    return TaintToleration(handle)
