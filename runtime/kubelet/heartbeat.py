"""The kubelet's heartbeats: node registration, the node Lease and NodeStatus.

Role: everything that tells the control plane this node is alive.

Contract (Kubernetes' kubelet):

* `register()` creates the Node (see `runtime.kubelet.node`). If it already
  exists (a restarted kubelet), its labels are brought up to date, its
  taints and podCIDR are kept, and its status is posted.
* `renew_lease()` renews the Lease `<node>` in `kube-node-lease`
  (holderIdentity the node, leaseDurationSeconds 40, renewTime now, owned
  by the Node so that it goes with it), creating it when missing. The
  kubelet calls it every `lease_renew_interval` (10 s) plus up to 4 %
  jitter. Like Kubernetes' lease controller, it renews from the Lease it
  last wrote without reading it first, and reads it again only when that
  update fails (a Conflict or NotFound: someone else wrote or deleted it).
* `update_status()` reads the Node, computes the status the kubelet would
  post and posts it only if it differs from the API's (heartbeat times
  aside: e.g. the node lifecycle controller set Ready=Unknown) or if
  `node_status_report_frequency` (5 min) passed since the last post.
* When the Node is gone, nothing is recreated: Kubernetes' kubelet only
  registers at start-up. The failures are counted in `errors`.

Neighbours: `runtime.kubelet.kubelet` (schedules these), `runtime.kubelet.node`
(pure status logic), `controllers.nodelifecycle` (watches Leases and Nodes).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from engine.api import core
from engine.api.base import ObjectMeta, OwnerReference, copied
from engine.api.coordination import Lease, LeaseSpec
from engine.client import Client
from engine.clock import Clock
from engine.errors import AlreadyExists, Conflict, NotFound
from runtime.kubelet.config import KubeletConfig
from runtime.kubelet.node import node_labels, refreshed_status, registration_node, status_changed

__all__ = ["NODE_LEASE_NAMESPACE", "Heartbeat"]

NODE_LEASE_NAMESPACE = "kube-node-lease"


class Heartbeat:
    """Registration, Lease renewal and NodeStatus posting of one node."""

    def __init__(
        self, client: Client, clock: Clock, config: KubeletConfig, runtime_version: str
    ) -> None:
        self.client = client
        self.clock = clock
        self.config = config
        self.runtime_version = runtime_version
        self.boot_id = ""
        self.node: core.Node | None = None
        self.lease: Lease | None = None  # as last written by this kubelet
        self.last_post = -math.inf
        self.last_check = -math.inf
        self.lease_renewals = 0
        self.status_posts = 0
        self.errors = 0
        # Told of every status this kubelet posted: (the Node before, after);
        # the kubelet records its node condition events from it.
        self.on_posted: Callable[[core.Node | None, core.Node], None] | None = None

    async def register(self, boot_id: str) -> core.Node:
        self.boot_id = boot_id
        self.lease = None  # a (re)starting kubelet remembers nothing
        now = self.clock.now()
        desired = registration_node(
            self.config, runtime_version=self.runtime_version, boot_id=boot_id, now=now
        )
        existing: core.Node | None = None
        try:
            node = await self.client.create(desired)
        except AlreadyExists:
            existing = await self.client.get(core.Node, self.config.node_name)
            labels = {**existing.metadata.labels, **node_labels(self.config)}
            if labels != existing.metadata.labels:
                existing = await self.client.update(
                    existing.model_copy(
                        update={"metadata": existing.metadata.model_copy(update={"labels": labels})}
                    )
                )
            status = refreshed_status(
                existing,
                self.config,
                runtime_version=self.runtime_version,
                boot_id=boot_id,
                now=now,
            )
            node = await self.client.update_status(existing.model_copy(update={"status": status}))
        self.node = node
        self.last_post = self.last_check = self.clock.monotonic()
        self.status_posts += 1
        if self.on_posted is not None:
            self.on_posted(existing, node)
        return node

    async def renew_lease(self) -> None:
        # As Kubernetes' lease controller does, renew from the Lease this kubelet
        # last wrote, without reading it first; only when that fails (someone
        # else wrote or deleted it) read it again, or create it.
        latest = self.lease
        if latest is not None:
            try:
                self.lease = await self.client.update(self._renewed(latest))
            except (Conflict, NotFound):
                self.lease = None
            else:
                self.lease_renewals += 1
                return
        name = self.config.node_name
        try:
            lease = await self.client.get(Lease, name, namespace=NODE_LEASE_NAMESPACE)
        except NotFound:
            await self._create_lease()
            return
        try:
            self.lease = await self.client.update(self._renewed(lease))
        except (Conflict, NotFound):
            self.errors += 1
            return
        self.lease_renewals += 1

    def _renewed(self, lease: Lease) -> Lease:
        spec = copied(
            lease.spec,
            {
                "renew_time": self.clock.now(),
                "holder_identity": self.config.node_name,
                "lease_duration_seconds": self.config.node_lease_duration_seconds,
            },
        )
        return copied(lease, {"spec": spec})

    async def _create_lease(self) -> None:
        node = self.node
        if node is None:
            self.errors += 1
            return
        name = self.config.node_name
        lease = Lease(
            metadata=ObjectMeta(
                name=name,
                namespace=NODE_LEASE_NAMESPACE,
                owner_references=[
                    OwnerReference(api_version="v1", kind="Node", name=name, uid=node.metadata.uid)
                ],
            ),
            spec=LeaseSpec(
                holder_identity=name,
                lease_duration_seconds=self.config.node_lease_duration_seconds,
                renew_time=self.clock.now(),
            ),
        )
        try:
            self.lease = await self.client.create(lease)
        except AlreadyExists:
            self.errors += 1
            return
        self.lease_renewals += 1

    async def update_status(self, *, force: bool = False) -> None:
        """Post the node's status if it changed or a report is due."""
        now_mono = self.clock.monotonic()
        if (
            not force
            and now_mono - self.last_check < self.config.node_status_update_frequency - 1e-6
        ):
            return
        self.last_check = now_mono
        try:
            node = await self.client.get(core.Node, self.config.node_name)
        except NotFound:
            self.errors += 1
            return
        due = now_mono - self.last_post >= self.config.node_status_report_frequency - 1e-6
        if node is self.node and not (force or due):
            return  # nobody wrote the Node since we did: nothing can have changed
        self.node = node
        status = refreshed_status(
            node,
            self.config,
            runtime_version=self.runtime_version,
            boot_id=self.boot_id,
            now=self.clock.now(),
        )
        if not (force or due or status_changed(node.status, status)):
            return
        try:
            self.node = await self.client.update_status(node.model_copy(update={"status": status}))
        except (Conflict, NotFound):
            self.errors += 1
            return
        self.last_post = now_mono
        self.status_posts += 1
        if self.on_posted is not None:
            self.on_posted(node, self.node)
