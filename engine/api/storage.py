"""The storage.k8s.io/v1 API group's StorageClass: which provisioner makes a
claim's volume, with what reclaim policy, and when (`volumeBindingMode`:
Immediate, or WaitForFirstConsumer, once a pod using the claim is
scheduled). The other kinds of the group (CSIDriver, CSINode, ...) are served
schema-validated (`engine.catalogue`).

Defaults as Kubernetes' SetDefaults_StorageClass: reclaimPolicy Delete,
volumeBindingMode Immediate.

Neighbours: `controllers.volume` (provisions for a class), the scheduler's
VolumeBinding plugin (reads the binding mode).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, StrictBool

from engine.api.base import Resource
from engine.api.validation import register_validator
from engine.api.validation_rules import check_enum, required
from engine.errors import FieldError
from engine.registry import kind

__all__ = ["IS_DEFAULT_CLASS_ANNOTATION", "StorageClass"]

IS_DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


@kind(
    "storage.k8s.io/v1",
    "StorageClass",
    plural="storageclasses",
    namespaced=False,
    status_subresource=False,
)
class StorageClass(Resource):
    provisioner: str
    parameters: dict[str, str] = Field(default_factory=dict)
    reclaim_policy: str = "Delete"
    mount_options: list[str] = Field(default_factory=list)
    allow_volume_expansion: StrictBool | None = None
    volume_binding_mode: str = "Immediate"
    allowed_topologies: list[dict[str, Any]] = Field(default_factory=list)


def _validate(obj: StorageClass) -> list[FieldError]:
    errors: list[FieldError] = []
    if not obj.provisioner:
        errors.append(required("provisioner"))
    check_enum(errors, "reclaimPolicy", obj.reclaim_policy, ("Delete", "Retain"))
    check_enum(
        errors, "volumeBindingMode", obj.volume_binding_mode, ("Immediate", "WaitForFirstConsumer")
    )
    return errors


register_validator(StorageClass, _validate)
