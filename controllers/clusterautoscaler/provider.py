"""What the cluster autoscaler needs from outside the control plane, as small protocols.

The autoscaler adds and removes machines, which only the node side can do.
As Cluster Autoscaler talks to a cloud provider, this package declares what it
needs and `runtime.cluster.nodegroups` implements it over simulated nodes:

* `NodeGroup`: one group of identical nodes (a `NodePool` with `min_count` and
  `max_count`): its bounds, target size, a template `Node` (labels, taints,
  capacity of a node it would add), the instances it has requested and not
  deleted, `increase_size` (new nodes register after the pool's provisioning
  delay) and `delete_nodes` (stops the node and deletes its Node object, or
  cancels an instance still being created).
* `CloudProvider`: the groups, and which group a node belongs to.
* `Simulator`: the what-if scheduling the autoscaler decides with, the
  scheduler's own PreFilter and Filter plugins over a private node table
  (`controllers.scheduler.SchedulingSimulator`, wired in by
  `controllers.registry`, so this package never imports the scheduler).

Neighbours: `controllers.clusterautoscaler.autoscaler` (the user),
`runtime.cluster.nodegroups` (the implementation), `controllers.registry`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Protocol

from engine.api.core import Node, Pod

__all__ = ["CloudProvider", "Instance", "NodeGroup", "Simulator"]


@dataclass(frozen=True, slots=True)
class Instance:
    """A node a group requested: `name` is the Node it registers as;
    `requested_at` is the clock's monotonic reading when it was requested."""

    name: str
    requested_at: float


class NodeGroup(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def min_size(self) -> int: ...

    @property
    def max_size(self) -> int: ...

    def target_size(self) -> int: ...

    def template_node(self) -> Node: ...

    def instances(self) -> Sequence[Instance]: ...

    def increase_size(self, delta: int) -> None: ...

    async def delete_nodes(self, names: Sequence[str]) -> None: ...


class CloudProvider(Protocol):
    def node_groups(self) -> Sequence[NodeGroup]: ...

    def node_group_for(self, node_name: str) -> NodeGroup | None: ...


class Simulator(Protocol):
    version: int

    def add_node(self, node: Node) -> None: ...

    def remove_node(self, name: str) -> None: ...

    def node(self, name: str) -> Node | None: ...

    def add_pod(self, pod: Pod) -> None: ...

    def remove_pod(self, pod: Pod) -> None: ...

    def forget_info(self, pod: Pod) -> None: ...

    def place(self, pod: Pod, node: str) -> None: ...

    def unbound(self, pod: Pod) -> Pod: ...

    def pods_on(self, name: str) -> list[Pod]: ...

    def utilization(self, name: str) -> tuple[float, float] | None: ...

    def fork(self) -> None: ...

    def mark(self) -> int: ...

    def revert(self, to: int | None = None) -> None: ...

    def fits(self, pod: Pod, node: str) -> str | None: ...

    def find_node(
        self,
        pod: Pod,
        *,
        exclude: Collection[str] = (),
        among: Collection[str] | None = None,
    ) -> str | None: ...
