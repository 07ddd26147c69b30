"""Node groups over simulated nodes: the cluster autoscaler's cloud provider.

`PoolCloudProvider` turns each autoscaled `NodePool` (one with `max_count`)
into a `PoolNodeGroup` implementing `controllers.clusterautoscaler.NodeGroup`:

* `increase_size(n)` requests n nodes named `<pool>-<i>` (numbers never
  reused, so a new node never inherits a deleted one's pods); each registers
  `provisioning_delay` seconds later, when its kubelet joins the cluster's
  `NodeAgentPool`, exactly like the pool's first nodes (same capacity, labels,
  taints, zones round-robin).
* `delete_nodes(names)` cancels a node still being provisioned, or stops its
  kubelet and deletes its Node object (pods still bound to it are the pod
  garbage collector's, as when a cloud deletes a VM).
* `template_node()` is the Node a new node would register as, built by the
  kubelet's own registration code.

Addresses and pod CIDRs come from one allocator shared by every pool, so a new
node never reuses an address in use; freed ones are reused lowest first.

Neighbours: `controllers.clusterautoscaler.provider` (the protocols),
`runtime.kubelet.pool` (adds and removes the kubelets), `runtime.cluster.cluster`.
"""

from __future__ import annotations

import contextlib
import functools
import heapq
from collections.abc import Callable, Sequence
from typing import Any

from controllers.clusterautoscaler import Instance
from engine.api.core import Node
from engine.client import Client
from engine.clock import Clock, TimerHandle
from engine.errors import NotFound
from runtime.cluster.config import NodePool
from runtime.kubelet import KubeletConfig, NodeAgentPool
from runtime.kubelet.node import registration_node

__all__ = ["IndexAllocator", "PoolCloudProvider", "PoolNodeGroup", "node_overrides"]


def node_overrides(pool: NodePool, index: int) -> dict[str, Any]:
    """The KubeletConfig fields of the `index`-th node of `pool`."""
    capacity = {"cpu": pool.cpu, "memory": pool.memory, "pods": str(pool.pods)}
    capacity.update(pool.extended_resources)
    overrides: dict[str, Any] = {
        "capacity": capacity,
        "labels": dict(pool.labels),
        "taints": pool.taints,
        "container_log_max_size": pool.container_log_max_size,
        "container_log_max_files": pool.container_log_max_files,
    }
    if pool.zones:
        overrides["zone"] = pool.zones[index % len(pool.zones)]
    if pool.region:
        overrides["region"] = pool.region
    return overrides


class IndexAllocator:
    """Cluster-wide node indexes (addresses, pod CIDRs): lowest free first."""

    def __init__(self, used: int) -> None:
        self._next = used
        self._free: list[int] = []

    def take(self) -> int:
        return heapq.heappop(self._free) if self._free else self._take_new()

    def _take_new(self) -> int:
        self._next += 1
        return self._next - 1

    def give_back(self, index: int) -> None:
        heapq.heappush(self._free, index)


class PoolNodeGroup:
    """One autoscaled NodePool (see the module docstring)."""

    def __init__(
        self,
        pool: NodePool,
        agents: Callable[[], NodeAgentPool],
        client: Client,
        clock: Clock,
        indexes: IndexAllocator,
        existing: dict[str, int],
    ) -> None:
        assert pool.max_count is not None
        self.pool = pool
        self._agents = agents
        """The cluster's node agents (read when needed: the cluster makes them
        after its controllers, so informers start in the order they always did)."""
        self._client = client
        self._clock = clock
        self._indexes = indexes
        self._nodes: dict[str, tuple[int, float]] = {n: (i, 0.0) for n, i in existing.items()}
        """node name -> (cluster index, requested at) for every instance."""
        self._creating: dict[str, TimerHandle] = {}
        self._next_member = 1 + max((int(n.rsplit("-", 1)[1]) for n in existing), default=-1)
        self.created = 0
        self.deleted = 0

    @property
    def name(self) -> str:
        return self.pool.name

    @property
    def min_size(self) -> int:
        return self.pool.min_count or 0

    @property
    def max_size(self) -> int:
        assert self.pool.max_count is not None
        return self.pool.max_count

    def target_size(self) -> int:
        return len(self._nodes)

    def instances(self) -> Sequence[Instance]:
        return [Instance(name, at) for name, (_, at) in sorted(self._nodes.items())]

    def _config(self, name: str, index: int, member: int) -> KubeletConfig:
        return KubeletConfig.for_node(name, index, **node_overrides(self.pool, member))

    def has(self, node_name: str) -> bool:
        return node_name in self._nodes

    def template_node(self) -> Node:
        member = self._next_member
        name = f"template-node-for-{self.pool.name}"
        return registration_node(
            self._config(name, 0, member),
            runtime_version="kubeloop-simulated://1",
            boot_id="template",
            now=self._clock.now(),
        )

    def increase_size(self, delta: int) -> None:
        if delta <= 0:
            raise ValueError(f"node group {self.name}: size increase must be positive, got {delta}")
        if self.target_size() + delta > self.max_size:
            raise ValueError(
                f"node group {self.name}: size increase too large: "
                f"{self.target_size()} + {delta} > max {self.max_size}"
            )
        now = self._clock.monotonic()
        for _ in range(delta):
            member = self._next_member
            self._next_member += 1
            name = f"{self.pool.name}-{member}"
            index = self._indexes.take()
            self._nodes[name] = (index, now)
            config = self._config(name, index, member)
            self._creating[name] = self._clock.call_later(
                self.pool.provisioning_delay, functools.partial(self._register, name, config)
            )
            self.created += 1

    def _register(self, name: str, config: KubeletConfig) -> None:
        self._creating.pop(name, None)
        self._agents().add_node(config)

    async def delete_nodes(self, names: Sequence[str]) -> None:
        for name in names:
            entry = self._nodes.pop(name, None)
            if entry is None:
                raise ValueError(f"node {name} is not in node group {self.name}")
            timer = self._creating.pop(name, None)
            if timer is not None:
                timer.cancel()
            else:
                with contextlib.suppress(KeyError):  # never registered
                    await self._agents().remove_node(name)
                with contextlib.suppress(NotFound):
                    await self._client.delete(Node, name)
            self._indexes.give_back(entry[0])
            self.deleted += 1


class PoolCloudProvider:
    """The autoscaled pools of a cluster as node groups."""

    def __init__(self, groups: Sequence[PoolNodeGroup]) -> None:
        self._groups = list(groups)

    def node_groups(self) -> Sequence[PoolNodeGroup]:
        return self._groups

    def node_group_for(self, node_name: str) -> PoolNodeGroup | None:
        for group in self._groups:
            if group.has(node_name):
                return group
        return None
