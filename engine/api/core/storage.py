"""core/v1 PersistentVolumeClaim, the claim a StatefulSet's volumeClaimTemplates
stamp out per replica. Volumes themselves (PersistentVolume, StorageClass) are
not modelled: kubeloop binds nothing to real storage.

Neighbours: `engine.api.apps` (StatefulSet.volumeClaimTemplates),
`engine.api.core.volumes` (persistentVolumeClaim volume source).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from engine.api.base import KubeModel, LabelSelector, Resource
from engine.api.core.common import (
    TypedLocalObjectReference,
    TypedObjectReference,
    find_condition,
)
from engine.quantity import ResourceList
from engine.registry import kind

__all__ = [
    "PersistentVolumeClaim",
    "PersistentVolumeClaimCondition",
    "PersistentVolumeClaimSpec",
    "PersistentVolumeClaimStatus",
    "VolumeResourceRequirements",
]


class VolumeResourceRequirements(KubeModel):
    limits: ResourceList = Field(default_factory=dict)
    requests: ResourceList = Field(default_factory=dict)


class PersistentVolumeClaimSpec(KubeModel):
    access_modes: list[str] = Field(default_factory=list)
    selector: LabelSelector | None = None
    resources: VolumeResourceRequirements = Field(default_factory=VolumeResourceRequirements)
    volume_name: str | None = None
    storage_class_name: str | None = None
    volume_mode: str = "Filesystem"
    data_source: TypedLocalObjectReference | None = None
    data_source_ref: TypedObjectReference | None = None
    volume_attributes_class_name: str | None = None


class PersistentVolumeClaimCondition(KubeModel):
    type: str
    status: str
    last_probe_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class PersistentVolumeClaimStatus(KubeModel):
    phase: str = "Pending"
    access_modes: list[str] = Field(default_factory=list)
    capacity: ResourceList = Field(default_factory=dict)
    conditions: list[PersistentVolumeClaimCondition] = Field(default_factory=list)
    allocated_resources: ResourceList = Field(default_factory=dict)
    allocated_resource_statuses: dict[str, str] = Field(default_factory=dict)
    current_volume_attributes_class_name: str | None = None
    modify_volume_status: dict[str, Any] | None = None
    health_status: dict[str, Any] | None = None

    def condition(self, condition_type: str) -> PersistentVolumeClaimCondition | None:
        return find_condition(self.conditions, condition_type)


@kind(
    "v1",
    "PersistentVolumeClaim",
    plural="persistentvolumeclaims",
    namespaced=True,
    status_subresource=True,
)
class PersistentVolumeClaim(Resource):
    spec: PersistentVolumeClaimSpec = Field(default_factory=PersistentVolumeClaimSpec)
    status: PersistentVolumeClaimStatus = Field(default_factory=PersistentVolumeClaimStatus)
