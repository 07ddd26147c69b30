"""Nominated pods: pods that preempted others and wait for room on a node.

A pod is nominated to a node when preemption picks that node for it (and
whenever the informer shows `status.nominatedNodeName`). Until the pod is
bound or deleted, pods of equal or lower priority must leave its share of that
node free, and the nominated pod itself tries its node first.

Neighbours: the scheduler (nominates, clears on bind and delete), the queue's
event handlers, `plugins.node_resources_fit` (reserves nominated resources),
`controllers.scheduler.preemption` (reads and clears lower nominations).
"""

from __future__ import annotations

from controllers.scheduler.podinfo import PodInfo

__all__ = ["Nominator"]

PodKey = tuple[str, str]


class Nominator:
    """node name -> nominated pods, and pod -> node."""

    def __init__(self) -> None:
        self._by_node: dict[str, dict[PodKey, PodInfo]] = {}
        self._node_of: dict[PodKey, str] = {}

    def __bool__(self) -> bool:
        return bool(self._node_of)

    def __len__(self) -> int:
        return len(self._node_of)

    def nominate(self, info: PodInfo, node: str) -> None:
        self.remove(info.key)
        self._by_node.setdefault(node, {})[info.key] = info
        self._node_of[info.key] = node

    def remove(self, key: PodKey) -> None:
        node = self._node_of.pop(key, None)
        if node is None:
            return
        pods = self._by_node[node]
        pods.pop(key, None)
        if not pods:
            del self._by_node[node]

    def node_of(self, key: PodKey) -> str | None:
        return self._node_of.get(key)

    def pods_on(self, node: str) -> list[PodInfo]:
        return list(self._by_node.get(node, {}).values())

    def nodes(self) -> list[str]:
        return list(self._by_node)

    def update(self, info: PodInfo) -> None:
        """Follow `status.nominatedNodeName` of an unassigned pod. An empty
        value does not clear a nomination: the scheduler may have nominated
        the pod a moment ago and not yet written it (bind and delete clear)."""
        nominated = info.pod.status.nominated_node_name
        if nominated:
            if self._node_of.get(info.key) != nominated:
                self.nominate(info, nominated)
            else:
                self._by_node[nominated][info.key] = info
        elif info.key in self._node_of:
            self._by_node[self._node_of[info.key]][info.key] = info
