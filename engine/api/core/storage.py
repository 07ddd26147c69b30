"""core/v1 PersistentVolumeClaim (a StatefulSet's volumeClaimTemplates stamp one
out per replica) and PersistentVolume, the objects the PersistentVolume
controller (`controllers.volume`) binds. kubeloop attaches no real storage:
a volume's source (hostPath, local, csi, nfs, ...) is kept as given and never
interpreted; binding, phases and reclaiming are what is simulated.

Defaults as Kubernetes': a volume's reclaim policy is Retain and its
volumeMode Filesystem (a claim's too); a new volume's phase is Pending and a
claim's Pending.

Neighbours: `engine.api.apps` (StatefulSet.volumeClaimTemplates),
`engine.api.core.volumes` (persistentVolumeClaim volume source).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from engine.api.base import KubeModel, LabelSelector, Resource
from engine.api.core.common import (
    ObjectReference,
    TypedLocalObjectReference,
    TypedObjectReference,
    find_condition,
)
from engine.api.core.placement import NodeSelector
from engine.quantity import ResourceList
from engine.registry import kind

__all__ = [
    "ANN_BIND_COMPLETED",
    "ANN_BOUND_BY_CONTROLLER",
    "ANN_PROVISIONED_BY",
    "ANN_SELECTED_NODE",
    "ANN_STORAGE_PROVISIONER",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "PersistentVolumeClaimCondition",
    "PersistentVolumeClaimSpec",
    "PersistentVolumeClaimStatus",
    "PersistentVolumeSpec",
    "PersistentVolumeStatus",
    "VolumeNodeAffinity",
    "VolumeResourceRequirements",
]

ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
"""On a claim: the PersistentVolume controller finished binding it."""
ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
"""On a claim or volume: the controller (not the user) set volumeName / claimRef."""
ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
"""On a dynamically provisioned volume: the StorageClass provisioner that made it."""
ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node"
"""On a WaitForFirstConsumer claim: the node the scheduler chose for its first pod."""
ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
"""On a claim waiting for dynamic provisioning: the provisioner expected to act."""


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


JSONObject = dict[str, Any]


class VolumeNodeAffinity(KubeModel):
    """The nodes a volume can be reached from (a local disk's node, a zone)."""

    required: NodeSelector | None = None


class PersistentVolumeSpec(KubeModel):
    capacity: ResourceList = Field(default_factory=dict)
    access_modes: list[str] = Field(default_factory=list)
    claim_ref: ObjectReference | None = None
    persistent_volume_reclaim_policy: str = "Retain"
    storage_class_name: str | None = None
    mount_options: list[str] = Field(default_factory=list)
    volume_mode: str = "Filesystem"
    node_affinity: VolumeNodeAffinity | None = None
    volume_attributes_class_name: str | None = None
    # Sources: kept as given, never interpreted (no real storage is attached).
    host_path: JSONObject | None = None
    local: JSONObject | None = None
    csi: JSONObject | None = None
    nfs: JSONObject | None = None
    iscsi: JSONObject | None = None
    fc: JSONObject | None = None
    rbd: JSONObject | None = None
    cephfs: JSONObject | None = None
    cinder: JSONObject | None = None
    glusterfs: JSONObject | None = None
    flex_volume: JSONObject | None = None
    flocker: JSONObject | None = None
    aws_elastic_block_store: JSONObject | None = None
    gce_persistent_disk: JSONObject | None = None
    azure_disk: JSONObject | None = None
    azure_file: JSONObject | None = None
    vsphere_volume: JSONObject | None = None
    quobyte: JSONObject | None = None
    photon_persistent_disk: JSONObject | None = None
    portworx_volume: JSONObject | None = None
    scale_io: JSONObject | None = Field(None, alias="scaleIO")
    storageos: JSONObject | None = None


class PersistentVolumeStatus(KubeModel):
    phase: str = "Pending"
    message: str | None = None
    reason: str | None = None
    last_phase_transition_time: datetime | None = None


@kind(
    "v1",
    "PersistentVolume",
    plural="persistentvolumes",
    namespaced=False,
    status_subresource=True,
)
class PersistentVolume(Resource):
    spec: PersistentVolumeSpec = Field(default_factory=PersistentVolumeSpec)
    status: PersistentVolumeStatus = Field(default_factory=PersistentVolumeStatus)
