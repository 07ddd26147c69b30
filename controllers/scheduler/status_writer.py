"""Writes scheduling outcomes into pod status in the background: the
PodScheduled=False condition (reason Unschedulable or SchedulerError, with the
diagnostic message) and `status.nominatedNodeName`.

Writes coalesce per pod (the latest outcome wins) and are skipped when nothing
would change, as kube-scheduler's updatePod does; `lastTransitionTime` moves
only when the condition's status changes. A Conflict re-reads the pod and
retries; a pod that was deleted or bound meanwhile is left alone.

Neighbours: `controllers.scheduler.scheduler` (queues outcomes and runs
`run()`), `engine.client.Client.update_status`.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from engine.api.core import Pod, PodCondition
from engine.client import Client
from engine.clock import Clock
from engine.errors import ApiError, Conflict, NotFound

__all__ = ["KEEP", "Outcome", "PodStatusWriter"]

PodKey = tuple[str, str]
KEEP: Final = "\x00keep"
"""`nominated` value meaning: leave status.nominatedNodeName as it is."""


@dataclass(frozen=True, slots=True)
class Outcome:
    reason: str
    message: str
    nominated: str | None = KEEP


def updated_status(pod: Pod, outcome: Outcome, now: datetime) -> Pod | None:
    """`pod` with the outcome applied, or None when nothing changes."""
    status = pod.status
    old = status.condition("PodScheduled")
    same_condition = (
        old is not None
        and old.status == "False"
        and old.reason == outcome.reason
        and old.message == outcome.message
    )
    nominated = status.nominated_node_name if outcome.nominated == KEEP else outcome.nominated
    if same_condition and nominated == status.nominated_node_name:
        return None
    conditions = list(status.conditions)
    if not same_condition:
        transition = old.last_transition_time if old is not None and old.status == "False" else now
        condition = PodCondition(
            type="PodScheduled",
            status="False",
            reason=outcome.reason,
            message=outcome.message,
            last_probe_time=None,
            last_transition_time=transition,
        )
        conditions = [c for c in conditions if c.type != "PodScheduled"]
        conditions.append(condition)
    return pod.model_copy(
        update={
            "status": status.model_copy(
                update={"conditions": conditions, "nominated_node_name": nominated}
            )
        }
    )


class PodStatusWriter:
    def __init__(
        self,
        client: Client | None,
        clock: Clock,
        current: Callable[[PodKey], Pod | None],
    ) -> None:
        self.client = client
        self.clock = clock
        self._current = current
        self._pending: OrderedDict[PodKey, Outcome] = OrderedDict()
        self._wakeup = asyncio.Event()
        self.written = 0

    def submit(self, key: PodKey, outcome: Outcome) -> None:
        self._pending[key] = outcome
        self._pending.move_to_end(key)
        self._wakeup.set()

    def __len__(self) -> int:
        return len(self._pending)

    async def run(self) -> None:
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
            await self.flush()

    async def flush(self) -> None:
        while self._pending:
            key, outcome = self._pending.popitem(last=False)
            await self._write(key, outcome)

    async def _write(self, key: PodKey, outcome: Outcome) -> None:
        client = self.client
        if client is None:
            return
        pod = self._current(key)
        for _attempt in range(3):
            if pod is None or pod.spec.node_name or pod.metadata.deletion_timestamp is not None:
                return
            new = updated_status(pod, outcome, self.clock.now())
            if new is None:
                return
            try:
                await client.update_status(new)
                self.written += 1
                return
            except Conflict:
                try:
                    pod = await client.get(Pod, key[1], namespace=key[0])
                except NotFound:
                    return
            except ApiError:
                return
