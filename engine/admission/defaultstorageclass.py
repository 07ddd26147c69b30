"""The DefaultStorageClass admission plugin: a PersistentVolumeClaim created
without `spec.storageClassName` gets the default StorageClass, the one
annotated `storageclass.kubernetes.io/is-default-class: "true"` (or the beta
annotation). With several defaults the newest wins (by creation time, then
name), as since Kubernetes 1.26; with none the claim is left as it is. An
empty `storageClassName: ""` asks for no class and is kept.

Neighbours: `engine.admission` (the chain, mutating phase).
"""

from __future__ import annotations

from engine.admission import AdmissionRequest, served_model
from engine.api import core
from engine.api.base import Resource

__all__ = ["DEFAULT_ANNOTATIONS", "admit"]

DEFAULT_ANNOTATIONS = (
    "storageclass.kubernetes.io/is-default-class",
    "storageclass.beta.kubernetes.io/is-default-class",
)


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    if not isinstance(obj, core.PersistentVolumeClaim) or obj.spec.storage_class_name is not None:
        return obj
    store = request.store
    classes = served_model(store.registry, "storage.k8s.io/v1", "StorageClass")
    if classes is None:
        return obj
    defaults = [
        c
        for c in store.objects_in(classes, "")
        if any(c.metadata.annotations.get(a) == "true" for a in DEFAULT_ANNOTATIONS)
    ]
    if not defaults:
        return obj
    newest = max(defaults, key=lambda c: (c.metadata.creation_timestamp, c.metadata.name))
    spec = obj.spec.model_copy(update={"storage_class_name": newest.metadata.name})
    return obj.model_copy(update={"spec": spec})
