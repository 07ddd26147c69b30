"""The default StorageClass a kubeloop cluster starts with.

Like kind's and minikube's clusters, a `Cluster` comes with one StorageClass,
`standard`, annotated as the default: DefaultStorageClass admission gives it
to every claim created without `storageClassName`, and the PersistentVolume
controller's simulated provisioner makes a volume for each such claim. So a
StatefulSet from the Kubernetes documentation, whose claim templates name no
class, binds its claims and runs. The class binds at once (`Immediate`, as
minikube's `standard`), so a provisioned volume is pinned to no node and a
pod whose node is lost can be placed elsewhere; its volumes are deleted with
their claims (`Delete`). `ClusterConfig(default_storage_class=False)` starts
without it; a bare `Store` never has it (an apiserver alone makes no
StorageClass either).

Neighbours: `runtime.cluster.cluster` (creates it at start),
`engine.admission.defaultstorageclass`, `controllers.volume`.
"""

from __future__ import annotations

from engine.api import StorageClass
from engine.api.storage import IS_DEFAULT_CLASS_ANNOTATION

__all__ = ["DEFAULT_STORAGE_CLASS", "SIMULATED_PROVISIONER", "default_storage_class"]

DEFAULT_STORAGE_CLASS = "standard"
SIMULATED_PROVISIONER = "kubeloop.dev/simulated"


def default_storage_class() -> StorageClass:
    return StorageClass(
        metadata={
            "name": DEFAULT_STORAGE_CLASS,
            "annotations": {IS_DEFAULT_CLASS_ANNOTATION: "true"},
        },
        provisioner=SIMULATED_PROVISIONER,
        reclaim_policy="Delete",
        volume_binding_mode="Immediate",
    )
