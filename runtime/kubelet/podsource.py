"""Where a kubelet learns about the pods bound to its node.

Role: the kubelet's pod watch, behind a tiny interface so one shared pod
informer can serve thousands of simulated kubelets.

* `PodSource` (protocol): `subscribe(node, listener)` delivers every add,
  update and delete of a pod whose spec.nodeName is `node`, as
  `listener(pod, deleted)`; `pods(node)` lists the node's pods now.
* `InformerPodSource` wraps a `SharedInformer[Pod]` and routes its events by
  spec.nodeName through a by-node index (`engine.cache.index_pods_by_node`).
  Over an informer of *all* pods it serves every node of a `NodeAgentPool`
  at the cost of one watch; over an informer with the field selector
  `spec.nodeName=<node>` it is a standalone kubelet's own watch (what a real
  kubelet does).

Contract: listeners run inline in the informer's task and must be quick
(the kubelet only records the pod and marks it dirty). Per pod, events
arrive in revision order. A pod first seen unbound and then bound arrives
as an update whose new version names the node. Deletes missed across a
relist arrive as deletes of the last known state.

Neighbours: `engine.informer` (the informer), `runtime.kubelet.kubelet`
(the listener), `runtime.kubelet.pool` (shares one source).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol

from engine.api import core
from engine.cache import index_pods_by_node
from engine.informer import DeletedFinalStateUnknown, SharedInformer

__all__ = ["NODE_INDEX", "InformerPodSource", "PodListener", "PodSource"]

NODE_INDEX = "spec.nodeName"
PodListener = Callable[[core.Pod, bool], None]


class PodSource(Protocol):
    def subscribe(self, node_name: str, listener: PodListener) -> None: ...

    def unsubscribe(self, node_name: str) -> None: ...

    def pods(self, node_name: str) -> list[core.Pod]: ...

    @property
    def has_synced(self) -> bool: ...

    async def wait_for_sync(self) -> None: ...


class InformerPodSource:
    """Pods by node from one shared informer (see the module docstring)."""

    def __init__(self, informer: SharedInformer[core.Pod]) -> None:
        self.informer = informer
        # Another source over the same informer may have added the index already.
        with contextlib.suppress(ValueError):
            informer.add_indexer(NODE_INDEX, index_pods_by_node)
        self._listeners: dict[str, PodListener] = {}
        informer.add_event_handler(self)

    def subscribe(self, node_name: str, listener: PodListener) -> None:
        self._listeners[node_name] = listener

    def unsubscribe(self, node_name: str) -> None:
        self._listeners.pop(node_name, None)

    def pods(self, node_name: str) -> list[core.Pod]:
        return self.informer.cache.by_index(NODE_INDEX, node_name)

    @property
    def has_synced(self) -> bool:
        return self.informer.has_synced

    async def wait_for_sync(self) -> None:
        await self.informer.wait_for_sync()

    # -- informer handler -----------------------------------------------------------

    def on_add(self, obj: core.Pod, is_in_initial_list: bool) -> None:
        node = obj.spec.node_name
        if node:
            listener = self._listeners.get(node)
            if listener is not None:
                listener(obj, False)

    def on_update(self, old: core.Pod, new: core.Pod) -> None:
        self.on_add(new, False)

    def on_delete(self, obj: core.Pod | DeletedFinalStateUnknown[Any]) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        node = pod.spec.node_name
        if node:
            listener = self._listeners.get(node)
            if listener is not None:
                listener(pod, True)
