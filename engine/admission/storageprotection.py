"""The StorageObjectInUseProtection admission plugin: every new
PersistentVolumeClaim gets the `kubernetes.io/pvc-protection` finalizer and
every new PersistentVolume `kubernetes.io/pv-protection`, so neither goes
away while in use: deleting one only marks it (deletionTimestamp) until the
protection controllers (`controllers.storageprotection`) see that no pod
uses the claim, or that the volume is no longer Bound, and remove the
finalizer.

Neighbours: `engine.admission` (the chain; this runs after
DefaultStorageClass, as in Kubernetes' order), `controllers.storageprotection`.
"""

from __future__ import annotations

from typing import Final

from engine.admission import AdmissionRequest
from engine.api import core
from engine.api.base import Resource

__all__ = ["PVC_PROTECTION_FINALIZER", "PV_PROTECTION_FINALIZER", "admit"]

PVC_PROTECTION_FINALIZER: Final = "kubernetes.io/pvc-protection"
PV_PROTECTION_FINALIZER: Final = "kubernetes.io/pv-protection"


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    if isinstance(obj, core.PersistentVolumeClaim):
        finalizer = PVC_PROTECTION_FINALIZER
    elif isinstance(obj, core.PersistentVolume):
        finalizer = PV_PROTECTION_FINALIZER
    else:
        return obj
    meta = obj.metadata
    if finalizer in meta.finalizers:
        return obj
    return obj.model_copy(
        update={"metadata": meta.model_copy(update={"finalizers": [*meta.finalizers, finalizer]})}
    )
