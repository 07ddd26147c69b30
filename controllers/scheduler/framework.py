"""The Framework: one profile's plugins, run at each extension point in order.

Built from a `Profile` (plugin names in order, weights, args) and a registry of
plugin factories; each plugin is instantiated once and takes part in every
extension point whose method it has. Order matters where Kubernetes says it
does: filters run in profile order and the diagnostics blame the first one
that rejects a node; the first Bind plugin that does not Skip binds.

Contract per point:
* PreFilter: Skip removes that plugin's Filter for this pod; a rejection ends
  the attempt for every node; PreFilterResults intersect.
* Filter: masks over a Window, ANDed with node validity.
* PreScore: Skip removes that plugin's Score for this pod.
* Score: raw scores, normalised by the plugin if it can, checked to be within
  0..100, multiplied by the weight and summed. An int result is a score every
  node shares (already normalised).

Neighbours: `controllers.scheduler.config` (profiles), `interfaces` (the
protocols), `algorithm` (the scheduling cycle on top), `binding`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from controllers.scheduler.cluster_events import (
    ASSIGNED_POD,
    NODE,
    UNSCHEDULED_POD,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.config import PluginFactory, Profile
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.diagnostics import AttemptRecord, Diagnosis
from controllers.scheduler.handle import Handle, WaitingPod
from controllers.scheduler.interfaces import (
    BindPlugin,
    BoolMask,
    FilterPlugin,
    PermitPlugin,
    PostBindPlugin,
    PostFilterPlugin,
    PostFilterResult,
    PreBindPlugin,
    PreEnqueuePlugin,
    PreFilterPlugin,
    PreFilterResult,
    PreScorePlugin,
    ReservePlugin,
    Slots,
)
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Code, Status
from controllers.scheduler.window import Window

__all__ = ["Framework", "ScoreEntry"]

MAX_NODE_SCORE = 100


@dataclass(slots=True)
class ScoreEntry:
    plugin: Any
    name: str
    weight: int
    normalize: Callable[[CycleState, PodInfo, npt.NDArray[np.int64]], npt.NDArray[np.int64]] | None
    checked: bool


class Framework:
    """The plugins of one profile and the code that runs them."""

    def __init__(
        self, profile: Profile, registry: Mapping[str, PluginFactory], handle: Handle
    ) -> None:
        self.profile = profile
        self.scheduler_name = profile.scheduler_name
        self.handle = handle
        self.plugins: dict[str, Any] = {}
        for spec in profile.plugins:
            if spec.name in profile.disabled:
                continue
            factory = registry.get(spec.name)
            if factory is None:
                known = ", ".join(sorted(registry))
                raise ValueError(f"unknown scheduler plugin {spec.name!r} (registered: {known})")
            args = profile.plugin_args.get(spec.name, spec.args)
            plugin = factory(args, handle)
            if getattr(plugin, "name", None) != spec.name:
                raise ValueError(f"plugin factory for {spec.name!r} returned {plugin!r}")
            self.plugins[spec.name] = plugin
        plugins = list(self.plugins.values())
        self.pre_enqueue: list[PreEnqueuePlugin] = [p for p in plugins if hasattr(p, "pre_enqueue")]
        sorters = [p for p in plugins if hasattr(p, "sort_key")]
        if len(sorters) != 1:
            raise ValueError(
                f"profile {profile.scheduler_name!r} needs exactly one QueueSort plugin, "
                f"got {[p.name for p in sorters]}"
            )
        self.queue_sort = sorters[0]
        self.pre_filter: list[PreFilterPlugin] = [p for p in plugins if hasattr(p, "pre_filter")]
        self.filter: list[FilterPlugin] = [p for p in plugins if hasattr(p, "filter")]
        self.post_filter: list[PostFilterPlugin] = [p for p in plugins if hasattr(p, "post_filter")]
        self.pre_score: list[PreScorePlugin] = [p for p in plugins if hasattr(p, "pre_score")]
        self.score: list[ScoreEntry] = []
        weights = {s.name: s.weight for s in profile.plugins}
        for p in plugins:
            if hasattr(p, "score"):
                configured = weights.get(p.name)
                weight = (
                    configured if configured is not None else int(getattr(p, "default_weight", 1))
                )
                normalize = getattr(p, "normalize_score", None)
                builtin = type(p).__module__.startswith("controllers.scheduler.plugins")
                self.score.append(ScoreEntry(p, p.name, weight, normalize, not builtin))
        self.reserve: list[ReservePlugin] = [p for p in plugins if hasattr(p, "reserve")]
        self.permit: list[PermitPlugin] = [p for p in plugins if hasattr(p, "permit")]
        self.pre_bind: list[PreBindPlugin] = [p for p in plugins if hasattr(p, "pre_bind")]
        self.bind: list[BindPlugin] = [p for p in plugins if hasattr(p, "bind")]
        self.post_bind: list[PostBindPlugin] = [p for p in plugins if hasattr(p, "post_bind")]
        self.pod_extensions: list[Any] = [p for p in self.pre_filter if hasattr(p, "remove_pod")]
        self.percentage_of_nodes_to_score = profile.percentage_of_nodes_to_score

    # -- registrations ----------------------------------------------------------------------

    def event_registrations(self) -> list[tuple[str, EventRegistration]]:
        """Every plugin's registrations. A plugin that can reject pods but does
        not say which events might undo that is woken by every event, as
        Kubernetes assumes for plugins without EnqueueExtensions."""
        out: list[tuple[str, EventRegistration]] = []
        for plugin in self.plugins.values():
            register = getattr(plugin, "events_to_register", None)
            if register is not None:
                out.extend((plugin.name, reg) for reg in register())
            elif any(
                hasattr(plugin, point)
                for point in (
                    "pre_enqueue",
                    "pre_filter",
                    "filter",
                    "reserve",
                    "permit",
                    "pre_bind",
                )
            ):
                out.extend(
                    (plugin.name, EventRegistration(ClusterEvent(resource, Action.ALL)))
                    for resource in (NODE, ASSIGNED_POD, UNSCHEDULED_POD)
                )
        return out

    # -- queueing ---------------------------------------------------------------------------

    def run_pre_enqueue(self, pod: PodInfo) -> Status | None:
        for plugin in self.pre_enqueue:
            status = plugin.pre_enqueue(pod)
            if status is not None and not status.is_success:
                return status.with_plugin(plugin.name)
        return None

    # -- filtering --------------------------------------------------------------------------

    def run_pre_filter(
        self, state: CycleState, pod: PodInfo
    ) -> tuple[frozenset[str] | None, Status | None]:
        """(node names worth filtering or None for all, a failure or None).
        Plugins that narrowed the nodes are in `state.restricted_by`."""
        names: frozenset[str] | None = None
        for plugin in self.pre_filter:
            result = plugin.pre_filter(state, pod)
            if result is None:
                continue
            if isinstance(result, PreFilterResult):
                if result.node_names is not None:
                    names = result.node_names if names is None else names & result.node_names
                    state.restricted_by.append(plugin.name)
                continue
            if result.code is Code.SKIP:
                state.skip_filter.add(plugin.name)
            elif result.code is not Code.SUCCESS:
                return names, result.with_plugin(plugin.name)
        return names, None

    def run_filter(
        self, state: CycleState, pod: PodInfo, window: Window
    ) -> tuple[BoolMask, list[tuple[FilterPlugin, BoolMask]]]:
        """The feasibility mask over `window`, and each plugin's own mask.
        Masks plugins return may be shared views: nothing here writes to them."""
        mask: BoolMask | None = None
        failures: list[tuple[FilterPlugin, BoolMask]] = []
        skip = state.skip_filter
        for plugin in self.filter:
            if plugin.name in skip:
                continue
            result = plugin.filter(state, pod, window)
            if result is None:
                continue
            failures.append((plugin, result))
            mask = result if mask is None else mask & result
        table = self.handle.table
        if mask is None:
            mask = np.array(window.take(table.valid), dtype=np.bool_, copy=True)
        elif table.count != table.size or not window.contiguous:
            mask = mask & window.take(table.valid)
        return mask, failures

    def filter_one(self, state: CycleState, pod: PodInfo, slot: int) -> Status | None:
        """Run every filter on one node; the first rejection, or None."""
        window = Window.of([slot])
        if not self.handle.table.valid[slot]:
            return Status.unresolvable("node not found")
        skip = state.skip_filter
        for plugin in self.filter:
            if plugin.name in skip:
                continue
            result = plugin.filter(state, pod, window)
            if result is not None and not result[0]:
                codes, statuses = plugin.explain(state, pod, window.slots)
                return statuses[int(codes[0])].with_plugin(plugin.name)
        return None

    def fits_one(self, state: CycleState, pod: PodInfo, slot: int) -> bool:
        """Whether every filter passes on one node (no explanation)."""
        if not self.handle.table.valid[slot]:
            return False
        window = Window.of([slot])
        skip = state.skip_filter
        for plugin in self.filter:
            if plugin.name in skip:
                continue
            result = plugin.filter(state, pod, window)
            if result is not None and not result[0]:
                return False
        return True

    def run_post_filter(
        self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis
    ) -> PostFilterResult | None:
        messages = []
        for plugin in self.post_filter:
            result: PostFilterResult = plugin.post_filter(state, pod, diagnosis)
            if result.nominated_node is not None:
                if result.status is not None and result.status.reasons:
                    diagnosis.post_filter_message = result.status.message()
                return result
            if result.status is not None and result.status.reasons:
                messages.append(result.status.message())
        diagnosis.post_filter_message = " ".join(messages)
        return None

    # -- scoring ----------------------------------------------------------------------------

    def run_pre_score(self, state: CycleState, pod: PodInfo, slots: Slots) -> Status | None:
        for plugin in self.pre_score:
            status = plugin.pre_score(state, pod, slots)
            if status is None:
                continue
            if status.code is Code.SKIP:
                state.skip_score.add(plugin.name)
            elif status.code is not Code.SUCCESS:
                return status.with_plugin(plugin.name)
        return None

    def run_score(
        self, state: CycleState, pod: PodInfo, slots: Slots, record: AttemptRecord | None = None
    ) -> npt.NDArray[np.int64]:
        """Weighted sum of normalised scores, one per slot. Scores every node
        shares do not change the choice, so they are added only to a record."""
        total: npt.NDArray[np.int64] | None = None
        constant = 0
        skip = state.skip_score
        names = self._names(slots) if record is not None else []
        for entry in self.score:
            if entry.name in skip:
                continue
            raw = entry.plugin.score(state, pod, slots)
            if isinstance(raw, int):
                constant += raw * entry.weight
                if record is not None:
                    record.score[entry.name] = dict.fromkeys(names, raw)
                    record.normalized_score[entry.name] = dict.fromkeys(names, raw)
                continue
            if record is not None:
                record.score[entry.name] = dict(zip(names, raw.tolist(), strict=True))
            scores = raw if entry.normalize is None else entry.normalize(state, pod, raw)
            if (
                entry.checked
                and len(scores)
                and (scores.min() < 0 or scores.max() > MAX_NODE_SCORE)
            ):
                raise ValueError(f"plugin {entry.name} returned scores outside 0..{MAX_NODE_SCORE}")
            if record is not None:
                record.normalized_score[entry.name] = dict(zip(names, scores.tolist(), strict=True))
            weighted = scores if entry.weight == 1 else scores * entry.weight
            total = weighted if total is None else total + weighted
        if total is None:
            return np.full(len(slots), constant, np.int64)
        if record is not None and constant:
            total = total + constant
        return total

    def _names(self, slots: Slots) -> list[str]:
        names = self.handle.table.names
        return [names[s] for s in slots.tolist()]

    # -- reserve / permit / bind ------------------------------------------------------------

    def run_reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.reserve:
            status = plugin.reserve(state, pod, node)
            if status is not None and not status.is_success:
                return status.with_plugin(plugin.name)
        return None

    def run_unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for plugin in reversed(self.reserve):
            plugin.unreserve(state, pod, node)

    def run_permit(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        """None to go on, a rejection, or Wait (then `wait_on_permit`)."""
        waiting: dict[str, float] = {}
        for plugin in self.permit:
            status, timeout = plugin.permit(state, pod, node)
            if status is None or status.is_success:
                continue
            if status.code is Code.WAIT:
                waiting[plugin.name] = timeout
                continue
            return status.with_plugin(plugin.name)
        if waiting:
            self.handle.waiting_pods.add(WaitingPod(pod.key, set(waiting)))
            state.write(_PERMIT_TIMEOUT, _Timeout(min(waiting.values())))
            return Status.wait()
        return None

    async def wait_on_permit(self, state: CycleState, pod: PodInfo) -> Status | None:
        waiting = self.handle.waiting_pods.get(pod.key)
        if waiting is None:
            return None
        timeout = state.get(_PERMIT_TIMEOUT)
        seconds = timeout.seconds if isinstance(timeout, _Timeout) else 0.0
        try:
            return await asyncio.wait_for(asyncio.shield(waiting.future), seconds)
        except TimeoutError:
            plugin = min(waiting.pending) if waiting.pending else ""
            return Status.unschedulable(
                f"rejected due to timeout after waiting {seconds:g}s at permit", plugin=plugin
            )
        finally:
            self.handle.waiting_pods.remove(pod.key)

    async def run_pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.pre_bind:
            status = await plugin.pre_bind(state, pod, node)
            if status is not None and not status.is_success:
                return status.with_plugin(plugin.name)
        return None

    async def run_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        for plugin in self.bind:
            status = await plugin.bind(state, pod, node)
            if status is not None and status.code is Code.SKIP:
                continue
            if status is not None and not status.is_success:
                return status.with_plugin(plugin.name)
            return None
        return Status.error("no bind plugin bound the pod")

    def run_post_bind(self, state: CycleState, pod: PodInfo, node: str) -> None:
        for plugin in self.post_bind:
            plugin.post_bind(state, pod, node)


_PERMIT_TIMEOUT = "framework/permit-timeout"


@dataclass(frozen=True, slots=True)
class _Timeout:
    seconds: float

    def clone(self) -> _Timeout:
        return self
