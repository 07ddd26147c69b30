"""The coordination.k8s.io/v1 API group: Lease, used for leader election and
node heartbeats (one Lease per node in `kube-node-lease`, renewed by its
kubelet).

Neighbours: the kubelet (renews), the node lifecycle controller (reads),
leader election.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engine.api.base import KubeModel, Resource
from engine.api.integers import Int32
from engine.registry import kind

__all__ = ["Lease", "LeaseSpec"]


class LeaseSpec(KubeModel):
    holder_identity: str | None = None
    lease_duration_seconds: Int32 | None = None
    acquire_time: datetime | None = None
    renew_time: datetime | None = None
    lease_transitions: Int32 | None = None
    strategy: str | None = None
    preferred_holder: str | None = None


@kind("coordination.k8s.io/v1", "Lease", plural="leases", namespaced=True, status_subresource=False)
class Lease(Resource):
    spec: LeaseSpec = Field(default_factory=LeaseSpec)
