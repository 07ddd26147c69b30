"""The ephemeral volume controller: kube-controller-manager's
`ephemeral-volume-controller`, which makes the claims of generic ephemeral
volumes.

For every pod not being deleted, each `volumes[].ephemeral` gets a
PersistentVolumeClaim named `<pod>-<volume>` in the pod's namespace, made from
`ephemeral.volumeClaimTemplate` (its labels, annotations and spec) and
controlled by the pod (an owner reference with `controller` and
`blockOwnerDeletion`), so the garbage collector deletes it with the pod and
the storage-object-in-use protection keeps it while the pod runs. From there
the claim is like any other: the PersistentVolume controller binds or
provisions it, the scheduler's volume plugins read it and the kubelet waits
for it to be Bound (`engine.volumes.pod_claims`).

A claim of that name that exists already is left alone; if the pod does not
control it, the pod cannot use it (the scheduler and the kubelet say "PVC
ns/x was not created for pod ns/p (pod is not owner)"). A template the API
refuses (a bad spec) gives the pod a Warning `FailedBinding` event "PVC
creation failed: ..." and is retried with back-off, as in Kubernetes.

Level-triggered: a reconcile reads the pod and the claims from the caches;
a claim deleted while its pod lives is made again.

Neighbours: `engine.volumes` (claim naming and ownership),
`controllers.garbagecollector` (deletes the claims of deleted pods),
`controllers.storageprotection`, `controllers.volume`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError

from engine.api import core
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import AlreadyExists, ApiError
from engine.events import EventRecorder
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager
from engine.volumes import ephemeral_claim_name

__all__ = ["EphemeralVolumeController", "setup"]

log = get_logger("ephemeralvolume")

COMPONENT = "ephemeral_volume"


def _has_ephemeral(pod: core.Pod) -> bool:
    return any(v.ephemeral is not None for v in pod.spec.volumes)


def _pod_of(pod: core.Pod) -> Iterable[Request]:
    if pod.spec.volumes and _has_ephemeral(pod):
        yield Request(core.Pod, pod.metadata.namespace, pod.metadata.name)


def _owner_pod(claim: core.PersistentVolumeClaim) -> Iterable[Request]:
    ref = claim.metadata.controller_ref()
    if ref is not None and ref.kind == "Pod" and ref.api_version == "v1":
        yield Request(core.Pod, claim.metadata.namespace, ref.name)


def claim_for(pod: core.Pod, volume: core.Volume) -> core.PersistentVolumeClaim:
    """The claim of `pod`'s ephemeral `volume`, from its volumeClaimTemplate
    (ValidationError when the template is not a valid claim)."""
    template: dict[str, Any] = (volume.ephemeral or {}).get("volumeClaimTemplate") or {}
    template_meta: dict[str, Any] = template.get("metadata") or {}
    owner = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": pod.metadata.name,
        "uid": pod.metadata.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }
    metadata = {
        "name": ephemeral_claim_name(pod.metadata.name, volume.name),
        "namespace": pod.metadata.namespace,
        "labels": dict(template_meta.get("labels") or {}),
        "annotations": dict(template_meta.get("annotations") or {}),
        "ownerReferences": [owner],
    }
    return core.PersistentVolumeClaim.model_validate(
        {"metadata": metadata, "spec": template.get("spec") or {}}
    )


class EphemeralVolumeController:
    """Makes the claims of generic ephemeral volumes (see the module docstring)."""

    def __init__(self, client: Client, factory: InformerFactory, *, clock: Clock) -> None:
        self.client = client
        self.pods = factory.informer(core.Pod)
        self.claims = factory.informer(core.PersistentVolumeClaim)
        self.recorder = EventRecorder(client, clock, COMPONENT)
        self.controller = Controller("ephemeral-volume", self, clock=clock)
        self.controller.watches(self.pods, _pod_of)
        self.controller.watches(self.claims, _owner_pod)

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)
        manager.add_runnable(self.recorder.run)

    async def reconcile(self, request: Request) -> Result:
        pod = self.pods.cache.get(request.name, request.namespace)
        if pod is None or pod.metadata.deletion_timestamp is not None:
            return Result()
        for volume in pod.spec.volumes:
            if volume.ephemeral is None:
                continue
            name = ephemeral_claim_name(pod.metadata.name, volume.name)
            if self.claims.cache.get(name, request.namespace) is not None:
                continue  # made already (or someone else's: the pod cannot use it)
            await self._create(pod, volume)
        return Result()

    async def _create(self, pod: core.Pod, volume: core.Volume) -> None:
        try:
            claim = claim_for(pod, volume)
            await self.client.create(claim)
        except AlreadyExists:
            return  # the cache has not seen it yet
        except (ValidationError, ApiError) as error:
            detail = str(error).splitlines()[0] if isinstance(error, ValidationError) else error
            self.recorder.record(pod, "Warning", "FailedBinding", f"PVC creation failed: {detail}")
            raise
        log.info(
            "ephemeral claim created",
            claim=f"{claim.metadata.namespace}/{claim.metadata.name}",
            pod=pod.metadata.name,
        )


def setup(manager: Manager, **_: Any) -> EphemeralVolumeController:
    """Build the ephemeral volume controller on `manager` and add it."""
    controller = EphemeralVolumeController(manager.client, manager.factory, clock=manager.clock)
    controller.register(manager)
    return controller
