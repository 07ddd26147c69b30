"""DefaultBinder (Bind): writes the pods/binding subresource through the client.

Neighbours: `engine.client.Client.bind`; the binding cycle in
`controllers.scheduler.binding` calls it.
"""

from __future__ import annotations

from typing import Any, Final

from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from engine.errors import ApiError

__all__ = ["DefaultBinder"]


class DefaultBinder:
    name: Final = "DefaultBinder"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    async def bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        client = self.handle.client
        if client is None:
            return Status.error("DefaultBinder has no client")
        try:
            await client.bind(pod.name, node, namespace=pod.namespace)
        except ApiError as error:
            return Status.error(f"binding rejected: {error}")
        return None


def new(_args: PluginArgs, handle: Handle) -> Any:
    return DefaultBinder(handle)
