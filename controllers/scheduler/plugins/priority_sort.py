"""PrioritySort (QueueSort): higher `spec.priority` first, then the older pod
(creation time), then the order pods entered the queue.

Neighbours: `controllers.scheduler.queue` orders its active heap by `sort_key`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from controllers.scheduler.config import PluginArgs
from controllers.scheduler.handle import Handle

if TYPE_CHECKING:
    from controllers.scheduler.queue import QueuedPodInfo

__all__ = ["PrioritySort"]


class PrioritySort:
    name: Final = "PrioritySort"

    def sort_key(self, qpod: QueuedPodInfo) -> tuple[int, datetime, int]:
        return (-qpod.info.priority, qpod.info.created, qpod.seq)


def new(_args: PluginArgs, _handle: Handle) -> Any:
    return PrioritySort()
