"""DefaultPreemption (PostFilter): when no node fits, make room by evicting
lower-priority pods (see `controllers.scheduler.preemption` for the algorithm)
and nominate the pod to that node.

Evictions run in the background through the handle's `spawn`: each victim
gets a `DisruptionTarget` condition (reason PreemptionByScheduler), a
Preempted event, and is deleted; lower-priority pods nominated to the chosen
node lose their nomination. Args (DefaultPreemptionArgs):
`minCandidateNodesPercentage` (10), `minCandidateNodesAbsolute` (100).

Neighbours: `controllers.scheduler.preemption.Preemptor`, `handle.Handle`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, Final

from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.diagnostics import Diagnosis
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import PostFilterResult
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.preemption import Preemptor
from controllers.scheduler.status import Status
from engine.api.core import Pod, PodCondition
from engine.errors import ApiError, NotFound

__all__ = ["DefaultPreemption"]


class DefaultPreemption:
    name: Final = "DefaultPreemption"

    def __init__(self, handle: Handle, args: Mapping[str, Any] | None) -> None:
        args = args or {}
        self.handle = handle
        self.preemptor = Preemptor(
            handle,
            min_candidate_percentage=int(args.get("minCandidateNodesPercentage", 10)),
            min_candidate_absolute=int(args.get("minCandidateNodesAbsolute", 100)),
        )
        self.preemptions = 0

    def post_filter(
        self, state: CycleState, pod: PodInfo, diagnosis: Diagnosis
    ) -> PostFilterResult:
        handle = self.handle
        framework = handle.frameworks.get(pod.pod.spec.scheduler_name)
        if framework is None:
            return PostFilterResult(None, Status.error("no framework for this pod"))
        reason = self.preemptor.eligible(pod)
        if reason is not None:
            return PostFilterResult(None, Status.unschedulable(f"preemption: {reason}"))
        result = self.preemptor.find(framework, state, pod, diagnosis)
        candidate = result.candidate
        if candidate is None:
            return PostFilterResult(None, Status.unschedulable(f"preemption: {result.message}"))
        self.preemptions += 1
        for victim in candidate.victims:
            waiting = handle.waiting_pods.get(victim.key)
            if waiting is not None:
                waiting.reject(self.name, "preempted")
            self._spawn(self._evict(victim, pod, candidate.node))
        for lower in self.preemptor.lower_nominated(handle, pod, candidate.node):
            handle.nominator.remove(lower.key)
            self._spawn(self._clear_nomination(lower))
        handle.nominator.nominate(pod, candidate.node)
        return PostFilterResult(candidate.node, None)

    def _spawn(self, coro: Any) -> None:
        if self.handle.spawn is None:
            coro.close()
            return
        self.handle.spawn(coro)

    async def _evict(self, victim: PodInfo, preemptor: PodInfo, node: str) -> None:
        client = self.handle.client
        if client is None:
            return
        current = victim.pod
        condition = PodCondition(
            type="DisruptionTarget",
            status="True",
            reason="PreemptionByScheduler",
            message=f"{preemptor.pod.spec.scheduler_name}: preempting to accommodate a "
            "higher priority pod",
            last_transition_time=self.handle.clock.now(),
        )
        conditions = [c for c in current.status.conditions if c.type != "DisruptionTarget"]
        conditions.append(condition)
        # Best effort: the deletion below is what matters.
        with contextlib.suppress(ApiError):
            await client.update_status(
                current.model_copy(
                    update={"status": current.status.model_copy(update={"conditions": conditions})}
                )
            )
        recorder = self.handle.recorder
        if recorder is not None:
            recorder.record(
                current,
                "Normal",
                "Preempted",
                f"Preempted by pod {preemptor.uid} on node {node}",
            )
        with contextlib.suppress(NotFound):
            await client.delete(Pod, victim.name, namespace=victim.namespace)

    async def _clear_nomination(self, pod: PodInfo) -> None:
        client = self.handle.client
        if client is None:
            return
        try:
            current = await client.get(Pod, pod.name, namespace=pod.namespace)
            if current.status.nominated_node_name:
                await client.update_status(
                    current.model_copy(
                        update={
                            "status": current.status.model_copy(
                                update={"nominated_node_name": None}
                            )
                        }
                    )
                )
        except ApiError:
            pass


def new(args: PluginArgs, handle: Handle) -> Any:
    return DefaultPreemption(handle, args)
