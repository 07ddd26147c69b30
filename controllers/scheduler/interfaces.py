"""The plugin interfaces: one small protocol per extension point.

A plugin is any object with a `name` and the methods of the extension points
it takes part in; the framework finds them by name (`pre_filter`, `filter`,
`score`, ...), so a plugin implements only what it needs. The points, in the
order a pod meets them:

=============  ===============================================================
PreEnqueue     `pre_enqueue(pod) -> Status | None`: may keep a pod out of the
               active queue (scheduling gates).
QueueSort      `sort_key(qpod) -> tuple`: smaller keys pop first (one per profile).
PreFilter      `pre_filter(state, pod) -> PreFilterResult | Status | None`:
               compute state; Skip means "my Filter has nothing to check";
               a rejection fails the pod on every node.
               Optional `add_pod`/`remove_pod(state, pod, other, slot)`
               update that state when preemption simulates pods gone or added.
Filter         `filter(state, pod, window) -> bool mask | None` over a Window of
               node slots (None = every node passes), and
               `explain(state, pod, slots) -> (codes, statuses)`: why each
               failing node failed (`statuses[codes[i]]` for slot i).
PostFilter     `post_filter(state, pod, diagnosis) -> PostFilterResult`: runs
               when no node fits (preemption).
PreScore       `pre_score(state, pod, slots) -> Status | None` (Skip = no score).
Score          `score(state, pod, slots) -> int array | int` raw scores per
               feasible slot (an int = the same score for all), optional
               `normalize_score(state, pod, scores) -> array` to 0..100.
Reserve        `reserve(state, pod, node) -> Status | None`, `unreserve(...)`.
Permit         `permit(state, pod, node) -> (Status | None, timeout_seconds)`;
               Wait holds the pod until `WaitingPod.allow/reject`.
PreBind        `async pre_bind(state, pod, node) -> Status | None`.
Bind           `async bind(state, pod, node) -> Status | None` (Skip = next binder).
PostBind       `post_bind(state, pod, node) -> None`.
=============  ===============================================================

`events_to_register() -> list[EventRegistration]` (EnqueueExtensions) names the
cluster events that may undo this plugin's rejections.

Filter and Score are vectorised: they see all candidate nodes at once as a
`Window` over the columnar snapshot. `PerNodeFilter` and `PerNodeScore` adapt
a simpler one-node-at-a-time plugin (see `controllers.scheduler.adapters`).

Neighbours: `controllers.scheduler.framework` (runs these),
`controllers.scheduler.plugins` (the built-in implementations).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cluster_events import EventRegistration
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window

if TYPE_CHECKING:
    from controllers.scheduler.diagnostics import Diagnosis
    from controllers.scheduler.queue import QueuedPodInfo

__all__ = [
    "BindPlugin",
    "BoolMask",
    "Explanation",
    "FilterPlugin",
    "PermitPlugin",
    "Plugin",
    "PostBindPlugin",
    "PostFilterPlugin",
    "PostFilterResult",
    "PreBindPlugin",
    "PreEnqueuePlugin",
    "PreFilterPlugin",
    "PreFilterResult",
    "PreScorePlugin",
    "QueueSortPlugin",
    "ReservePlugin",
    "ScorePlugin",
    "ScoreResult",
    "Slots",
]

BoolMask = npt.NDArray[np.bool_]
Slots = npt.NDArray[np.int64]
Explanation = tuple[npt.NDArray[np.intp], list[Status]]
ScoreResult = npt.NDArray[np.int64] | int


@dataclass(frozen=True, slots=True)
class PreFilterResult:
    """Restricts the nodes worth filtering (None = all)."""

    node_names: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class PostFilterResult:
    nominated_node: str | None = None
    status: Status | None = None


class Plugin(Protocol):
    name: str


class PreEnqueuePlugin(Plugin, Protocol):
    def pre_enqueue(self, pod: PodInfo) -> Status | None: ...


class QueueSortPlugin(Plugin, Protocol):
    def sort_key(self, qpod: QueuedPodInfo) -> tuple[Any, ...]: ...


class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: PodInfo) -> PreFilterResult | Status | None: ...


class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None: ...

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation: ...


class PostFilterPlugin(Plugin, Protocol):
    def post_filter(
        self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis
    ) -> PostFilterResult: ...


class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None: ...


class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult: ...


class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None: ...

    def unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None: ...


class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: PodInfo, node: str) -> tuple[Status | None, float]: ...


class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None: ...


class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None: ...


class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: PodInfo, node: str) -> None: ...


class EnqueueExtensions(Plugin, Protocol):
    def events_to_register(self) -> Iterable[EventRegistration]: ...
