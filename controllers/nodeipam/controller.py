"""The node IPAM controller (kube-controller-manager's nodeipam with
--allocate-node-cidrs and the RangeAllocator): every Node gets a pod CIDR of
the cluster CIDR (default 10.244.0.0/16, a /24 each, as kubeadm and kind).

A Node registered without `spec.podCIDR` gets the lowest free CIDR, written
to `podCIDR` and `podCIDRs` (both are immutable once set, so a Node that has
one keeps it); a Node that registered with a CIDR inside the cluster CIDR
(a kubelet started with --pod-cidr) has it marked as used. A deleted Node's
CIDR is free again. When none is left the Node gets a `CIDRNotAvailable`
warning Event and is retried, as Kubernetes does.

Used CIDRs are tracked from Node events (the cache), plus the ones this
controller just wrote and the cache has not shown yet, so two Nodes never get
the same one.

Neighbours: `controllers.common.network` (the settings), the kubelet (reads
its Node's podCIDR for pod addresses).
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import Any

from controllers.common.network import NetworkSettings
from engine.api import Node
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import NotFound
from engine.events import EventRecorder
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.manager import Manager

__all__ = ["NodeIPAMController", "setup"]

_RETRY = 30.0


class NodeIPAMController:
    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        settings: NetworkSettings | None = None,
    ) -> None:
        self.client = client
        self.settings = settings or NetworkSettings()
        self.network = ipaddress.ip_network(self.settings.cluster_cidr)
        self.nodes = factory.informer(Node)
        self.recorder = EventRecorder(client, clock, "node-ipam-controller")
        self._used: dict[str, str] = {}  # cidr -> node name
        self._next = 0
        self.controller = Controller("nodeipam", self, clock=clock, workers=1)
        self.controller.for_kind(self.nodes)
        self.nodes.add_event_handler(
            EventHandler(
                add=self._seen, update=lambda _old, new: self._seen(new), delete=self._gone
            )
        )

    def _index(self, cidr: str | None) -> int | None:
        if not cidr:
            return None
        try:
            net = ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            return None
        if net.prefixlen != self.settings.node_cidr_mask_size or not net.subnet_of(self.network):  # type: ignore[arg-type]
            return None
        return (int(net.network_address) - int(self.network.network_address)) >> (
            32 - self.settings.node_cidr_mask_size
        )

    def _seen(self, node: Node) -> None:
        cidr = node.spec.pod_cidr
        if self._index(cidr) is not None and cidr is not None:
            self._used[str(ipaddress.ip_network(cidr, strict=False))] = node.metadata.name

    def _gone(self, obj: Any) -> None:
        node = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        cidr = node.spec.pod_cidr
        if cidr:
            key = str(ipaddress.ip_network(cidr, strict=False))
            if self._used.get(key) == node.metadata.name:
                del self._used[key]

    def _free(self) -> str | None:
        total = self.settings.node_cidrs()
        for step in range(total):
            index = (self._next + step) % total
            cidr = self.settings.node_cidr(index)
            if cidr not in self._used:
                self._next = (index + 1) % total
                return cidr
        return None

    async def reconcile(self, request: Request) -> Result:
        node = self.nodes.cache.get(request.name)
        if node is None or node.spec.pod_cidr or node.metadata.deletion_timestamp is not None:
            return Result()
        # A CIDR this controller gave the node that the cache does not show yet.
        if request.name in self._used.values():
            return Result()
        cidr = self._free()
        if cidr is None:
            self.recorder.record(
                node,
                "Warning",
                "CIDRNotAvailable",
                f"Node {request.name} status is now: CIDRNotAvailable",
            )
            return Result(requeue_after=_RETRY)
        self._used[cidr] = request.name
        with contextlib.suppress(NotFound):
            await self.client.patch(
                Node, request.name, {"spec": {"podCIDR": cidr, "podCIDRs": [cidr]}}
            )
        return Result()


def setup(manager: Manager, *, network: NetworkSettings | None = None) -> NodeIPAMController:
    """Create the node IPAM controller on `manager`'s informers and add it."""
    controller = NodeIPAMController(manager.client, manager.factory, manager.clock, network)
    manager.add(controller.controller)
    manager.add_runnable(controller.recorder.run)
    return controller
