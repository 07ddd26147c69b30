"""core/v1 pod volumes: `Volume` with every volume source Kubernetes has.

The sources kubeloop's node side and controllers read are typed (configMap,
secret, emptyDir, hostPath, persistentVolumeClaim, projected, downwardAPI);
the cloud and network sources are kept as plain JSON objects, accepted so
manifests load, and never interpreted. A volume that names no source gets an
emptyDir, as Kubernetes' SetDefaults_Volume does; the file modes default to
0644 (420) as in SetDefaults_*VolumeSource.

Neighbours: `engine.api.core.pod` (PodSpec.volumes), `engine.api.core.containers`
(VolumeMount names a volume), `engine.api.validation` (one source per volume).
"""

from __future__ import annotations

from typing import Any, Final, Self

from pydantic import Field, StrictBool, model_validator

from engine.api.base import KubeModel, LabelSelector
from engine.api.core.containers import ObjectFieldSelector, ResourceFieldSelector
from engine.api.integers import Int32, Int64
from engine.quantity import Quantity

__all__ = [
    "VOLUME_SOURCE_FIELDS",
    "ClusterTrustBundleProjection",
    "ConfigMapProjection",
    "ConfigMapVolumeSource",
    "DownwardAPIProjection",
    "DownwardAPIVolumeFile",
    "DownwardAPIVolumeSource",
    "EmptyDirVolumeSource",
    "HostPathVolumeSource",
    "KeyToPath",
    "PersistentVolumeClaimVolumeSource",
    "PodCertificateProjection",
    "ProjectedVolumeSource",
    "SecretProjection",
    "SecretVolumeSource",
    "ServiceAccountTokenProjection",
    "Volume",
    "VolumeProjection",
]

DEFAULT_FILE_MODE: Final = 0o644


class KeyToPath(KubeModel):
    """Projects one key of a ConfigMap or Secret to a relative file path."""

    key: str
    path: str
    mode: Int32 | None = None
    user: Int64 | None = None


class ConfigMapVolumeSource(KubeModel):
    name: str | None = None
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: Int32 = DEFAULT_FILE_MODE
    default_user: Int64 | None = None
    optional: StrictBool | None = None


class SecretVolumeSource(KubeModel):
    secret_name: str | None = None
    items: list[KeyToPath] = Field(default_factory=list)
    default_mode: Int32 = DEFAULT_FILE_MODE
    default_user: Int64 | None = None
    optional: StrictBool | None = None


class EmptyDirVolumeSource(KubeModel):
    """Scratch space for the pod's lifetime; `medium: Memory` makes it a tmpfs."""

    medium: str | None = None
    size_limit: Quantity | None = None
    mode: Int32 | None = None


class HostPathVolumeSource(KubeModel):
    path: str
    type: str = ""


class PersistentVolumeClaimVolumeSource(KubeModel):
    claim_name: str
    read_only: StrictBool | None = None


class DownwardAPIVolumeFile(KubeModel):
    path: str
    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    mode: Int32 | None = None
    user: Int64 | None = None


class DownwardAPIVolumeSource(KubeModel):
    items: list[DownwardAPIVolumeFile] = Field(default_factory=list)
    default_mode: Int32 = DEFAULT_FILE_MODE
    default_user: Int64 | None = None


class ConfigMapProjection(KubeModel):
    name: str | None = None
    items: list[KeyToPath] = Field(default_factory=list)
    optional: StrictBool | None = None


class SecretProjection(KubeModel):
    name: str | None = None
    items: list[KeyToPath] = Field(default_factory=list)
    optional: StrictBool | None = None


class DownwardAPIProjection(KubeModel):
    items: list[DownwardAPIVolumeFile] = Field(default_factory=list)


class ServiceAccountTokenProjection(KubeModel):
    path: str
    audience: str | None = None
    expiration_seconds: Int64 = 3600
    user: Int64 | None = None


class ClusterTrustBundleProjection(KubeModel):
    path: str
    name: str | None = None
    signer_name: str | None = None
    label_selector: LabelSelector | None = None
    optional: StrictBool | None = None
    user: Int64 | None = None


class PodCertificateProjection(KubeModel):
    signer_name: str
    key_type: str
    max_expiration_seconds: Int32 | None = None
    credential_bundle_path: str | None = None
    key_path: str | None = None
    certificate_chain_path: str | None = None
    user: Int64 | None = None
    user_annotations: dict[str, str] = Field(default_factory=dict)


class VolumeProjection(KubeModel):
    """One source of a projected volume; exactly one field is set."""

    secret: SecretProjection | None = None
    downward_api: DownwardAPIProjection | None = Field(None, alias="downwardAPI")
    config_map: ConfigMapProjection | None = None
    service_account_token: ServiceAccountTokenProjection | None = None
    cluster_trust_bundle: ClusterTrustBundleProjection | None = None
    pod_certificate: PodCertificateProjection | None = None


class ProjectedVolumeSource(KubeModel):
    sources: list[VolumeProjection] = Field(default_factory=list)
    default_mode: Int32 = DEFAULT_FILE_MODE
    default_user: Int64 | None = None


JSONObject = dict[str, Any]


class Volume(KubeModel):
    """A named volume of a pod; exactly one source field is set."""

    name: str
    # Sources kubeloop reads.
    empty_dir: EmptyDirVolumeSource | None = None
    host_path: HostPathVolumeSource | None = None
    config_map: ConfigMapVolumeSource | None = None
    secret: SecretVolumeSource | None = None
    persistent_volume_claim: PersistentVolumeClaimVolumeSource | None = None
    projected: ProjectedVolumeSource | None = None
    downward_api: DownwardAPIVolumeSource | None = Field(None, alias="downwardAPI")
    # Sources accepted as given and never interpreted.
    ephemeral: JSONObject | None = None
    csi: JSONObject | None = None
    image: JSONObject | None = None
    nfs: JSONObject | None = None
    iscsi: JSONObject | None = None
    git_repo: JSONObject | None = None
    aws_elastic_block_store: JSONObject | None = None
    gce_persistent_disk: JSONObject | None = None
    azure_disk: JSONObject | None = None
    azure_file: JSONObject | None = None
    cephfs: JSONObject | None = None
    cinder: JSONObject | None = None
    fc: JSONObject | None = None
    flex_volume: JSONObject | None = None
    flocker: JSONObject | None = None
    glusterfs: JSONObject | None = None
    photon_persistent_disk: JSONObject | None = None
    portworx_volume: JSONObject | None = None
    quobyte: JSONObject | None = None
    rbd: JSONObject | None = None
    scale_io: JSONObject | None = Field(None, alias="scaleIO")
    storageos: JSONObject | None = None
    vsphere_volume: JSONObject | None = None

    @model_validator(mode="after")
    def _default_to_empty_dir(self) -> Self:
        if not self.sources():
            object.__setattr__(self, "empty_dir", EmptyDirVolumeSource())
        return self

    def sources(self) -> list[str]:
        """The wire names of the source fields that are set (one when valid)."""
        return [alias for attr, alias in VOLUME_SOURCE_FIELDS if getattr(self, attr) is not None]


VOLUME_SOURCE_FIELDS: Final[tuple[tuple[str, str], ...]] = tuple(
    (attr, info.alias or attr) for attr, info in Volume.model_fields.items() if attr != "name"
)
"""(attribute, wire name) of every volume source field of `Volume`."""
