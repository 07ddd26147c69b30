"""The PersistentVolume controller (kube-controller-manager's pv binder and a
simulated provisioner).

Claims (`syncClaim`):

* a claim bound before (`pv.kubernetes.io/bind-completed`) stays Bound while
  its volume exists and points back at it; a missing volume, or one bound to
  another claim, makes it Lost;
* a claim naming a volume (`spec.volumeName`, pre-binding) binds to that
  volume once it exists and is unclaimed (or claims it) and fits (size,
  access modes, class, volumeMode); until then it is Pending;
* any other claim binds to the best matching volume
  (`engine.volumes`): the volume's `claimRef` is set first
  (`pv.kubernetes.io/bound-by-controller` on the volume), then the claim's
  volumeName with `bind-completed` and `bound-by-controller`, then both
  statuses (the claim's with the volume's capacity and access modes);
* with no matching volume, a claim of a StorageClass is provisioned: a
  volume `pvc-<claim uid>` of the requested size, the claim's access modes
  and volumeMode and the class's reclaimPolicy and mountOptions, pre-bound to
  the claim (`pv.kubernetes.io/provisioned-by`: the class's provisioner,
  whatever it is: storage is simulated). A CSI driver's volume (any
  provisioner outside `kubernetes.io/`) gets the `csi` source an external
  provisioner writes (`driver`: the provisioner, `volumeHandle`: the volume's
  name), which the scheduler's NodeVolumeLimits counts. A WaitForFirstConsumer class
  waits for the scheduler's `volume.kubernetes.io/selected-node`; the claim
  then binds to a matching volume reachable from that node, or the new
  volume gets node affinity for that node (`kubernetes.io/hostname`). A
  claim of a class that does not exist stays Pending.

Volumes (`syncVolume`): unclaimed (or pre-bound by name only) volumes are
Available; a volume whose claim exists and names it is Bound; one whose
claim is gone (checked against the API, not only the cache) is Released and
then reclaimed by its policy: Retain keeps it Released, Delete deletes it,
Recycle (deprecated) makes it Available again.

Events on the claim, as kube-controller-manager's `persistentvolume-controller`
writes them (repeats fold into a count): Normal `FailedBinding` "no
persistent volumes available for this claim and no storage class is set"
for a class-less claim no volume fits; Normal `WaitForFirstConsumer`
"waiting for first consumer to be created before binding" while a
WaitForFirstConsumer claim has no selected node; Warning
`ProvisioningFailed` `storageclass.storage.k8s.io "x" not found` for a
missing class; on provisioning, for a CSI driver's class Normal
`ExternalProvisioning` ("waiting for a volume to be created, either by
external provisioner "x" or manually created by system administrator")
then `ProvisioningSucceeded` "Successfully provisioned volume pvc-..." (in
Kubernetes the external provisioner writes the latter; here the simulated
provisioner is this controller), and for an in-tree `kubernetes.io/`
provisioner `ProvisioningSucceeded` "Successfully provisioned volume pvc-...
using kubernetes.io/...".

Not done: volume expansion. The storage-object-in-use protection finalizers
are `controllers.storageprotection`'s. (A claim created without
storageClassName gets the default class from DefaultStorageClass admission,
`engine.admission.defaultstorageclass`, before this controller sees it.)

Neighbours: `engine.controller` (runs this), the scheduler's VolumeBinding
plugin (sets selected-node), `runtime.kubelet.volumes` (waits for Bound).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from engine.api import StorageClass, core
from engine.api.base import ObjectMeta
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import AlreadyExists, NotFound
from engine.events import EventRecorder
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager
from engine.registry import REGISTRY, Registry
from engine.volumes import (
    claim_class,
    find_matching_volume,
    is_bound_to,
    requested_storage,
)

__all__ = ["PersistentVolumeController", "setup"]

log = get_logger("persistentvolume")

HOSTNAME_LABEL = "kubernetes.io/hostname"
IN_TREE_PREFIX = "kubernetes.io/"
DATA_SOURCE_RETRY = 10.0
"""Seconds between looks for a claim's missing data source (a snapshot not
made yet)."""
_YES = "yes"
COMPONENT = "persistentvolume-controller"
NO_CLASS_MESSAGE = "no persistent volumes available for this claim and no storage class is set"
WAIT_MESSAGE = "waiting for first consumer to be created before binding"


def _claim_request(namespace: str, name: str) -> Request:
    return Request(core.PersistentVolumeClaim, namespace, name)


def _volume_request(name: str) -> Request:
    return Request(core.PersistentVolume, "", name)


def _claim_ref(claim: core.PersistentVolumeClaim) -> core.ObjectReference:
    meta = claim.metadata
    return core.ObjectReference(
        api_version="v1",
        kind="PersistentVolumeClaim",
        namespace=meta.namespace,
        name=meta.name,
        uid=meta.uid,
        resource_version=meta.resource_version or None,
    )


def _csi_source(provisioner: str, volume: str) -> dict[str, str] | None:
    if provisioner.startswith(IN_TREE_PREFIX):
        return None  # an in-tree plugin's volume has its own source kind
    return {"driver": provisioner, "volumeHandle": volume}


class PersistentVolumeController:
    """Binds claims to volumes and provisions for StorageClasses (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        *,
        clock: Clock,
        registry: Registry = REGISTRY,
        recorder: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.registry = registry
        self.recorder = recorder or EventRecorder(client, clock, COMPONENT)
        self.claims = factory.informer(core.PersistentVolumeClaim)
        self.volumes = factory.informer(core.PersistentVolume)
        self.classes = factory.informer(StorageClass)
        self.nodes = factory.informer(core.Node)
        # One worker, as kube-controller-manager's binder: two claims never race
        # for one volume (a stale cache still meets a Conflict and a retry).
        self.controller = Controller("persistentvolume", self, clock=clock, workers=1)
        self.controller.watches(self.claims, self._for_claim)
        self.controller.watches(self.volumes, self._for_volume)
        self.controller.watches(self.classes, self._for_class)

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)
        manager.add_runnable(self.recorder.run)

    # -- mapping events to requests ----------------------------------------------------

    def _for_claim(self, claim: core.PersistentVolumeClaim) -> Iterable[Request]:
        yield _claim_request(claim.metadata.namespace, claim.metadata.name)
        if claim.spec.volume_name:
            yield _volume_request(claim.spec.volume_name)

    def _pending_claims(self) -> Iterable[Request]:
        for claim in self.claims.cache.list():
            if claim.status.phase == "Pending":
                yield _claim_request(claim.metadata.namespace, claim.metadata.name)

    def _for_volume(self, volume: core.PersistentVolume) -> Iterable[Request]:
        yield _volume_request(volume.metadata.name)
        ref = volume.spec.claim_ref
        if ref is not None and ref.name:
            yield _claim_request(ref.namespace or "", ref.name)
        else:
            yield from self._pending_claims()  # a free volume: a waiting claim may fit now

    def _for_class(self, _: StorageClass) -> Iterable[Request]:
        return self._pending_claims()

    # -- reconcile ---------------------------------------------------------------------

    async def reconcile(self, request: Request) -> Result:
        if request.kind is core.PersistentVolumeClaim:
            claim = self.claims.cache.get(request.name, request.namespace)
            if claim is not None and claim.metadata.deletion_timestamp is None:
                return await self._sync_claim(claim)
        else:
            volume = self.volumes.cache.get(request.name)
            if volume is not None and volume.metadata.deletion_timestamp is None:
                await self._sync_volume(volume)
        return Result()

    async def _sync_claim(self, claim: core.PersistentVolumeClaim) -> Result:
        name = claim.spec.volume_name
        if name and core.ANN_BIND_COMPLETED in claim.metadata.annotations:
            volume = self.volumes.cache.get(name)
            if volume is None:
                await self._claim_phase(claim, "Lost")
            elif volume.spec.claim_ref is None or is_bound_to(volume, claim):
                await self._bind(volume, claim)
            else:
                await self._claim_phase(claim, "Lost")  # its volume went to another claim
            return Result()
        if name:
            volume = self.volumes.cache.get(name)
            fits = volume is not None and find_matching_volume(claim, [volume]) is volume
            free = volume is not None and volume.spec.claim_ref is None
            if volume is not None and (is_bound_to(volume, claim) or (free and fits)):
                await self._bind(volume, claim)
            else:
                await self._claim_phase(claim, "Pending")
            return Result()
        class_name = claim_class(claim)
        storage_class = self.classes.cache.get(class_name) if class_name else None
        delay = (
            storage_class is not None
            and storage_class.volume_binding_mode == "WaitForFirstConsumer"
        )
        selected = claim.metadata.annotations.get(core.ANN_SELECTED_NODE) if delay else None
        node = self.nodes.cache.get(selected) if selected else None
        volume = find_matching_volume(
            claim,
            self.volumes.cache.list(),
            node=node,
            delay_binding=delay and selected is None,
        )
        if volume is not None:
            await self._bind(volume, claim)
        elif storage_class is not None and (selected is not None or not delay):
            if not await self._data_source_exists(claim):
                await self._claim_phase(claim, "Pending")
                return Result(requeue_after=DATA_SOURCE_RETRY)
            await self._provision(claim, storage_class, selected)
        else:
            await self._claim_phase(claim, "Pending")
            if not class_name:
                self.recorder.record(claim, "Normal", "FailedBinding", NO_CLASS_MESSAGE)
            elif storage_class is None:
                message = f'storageclass.storage.k8s.io "{class_name}" not found'
                self.recorder.record(claim, "Warning", "ProvisioningFailed", message)
            else:
                self.recorder.record(claim, "Normal", "WaitForFirstConsumer", WAIT_MESSAGE)
        return Result()

    async def _data_source_exists(self, claim: core.PersistentVolumeClaim) -> bool:
        """A claim populated from a snapshot, another claim or a populator's
        object is provisioned only once that object exists, as the external
        provisioner waits for it (retrying); a kind nobody serves never
        exists."""
        source: Any = claim.spec.data_source_ref or claim.spec.data_source
        if source is None:
            return True
        group = source.api_group or ""
        namespace = getattr(source, "namespace", None) or claim.metadata.namespace
        if not group and source.kind == "PersistentVolumeClaim":
            return self.claims.cache.get(source.name, namespace) is not None
        info = next((i for i in self.registry if (i.group, i.kind) == (group, source.kind)), None)
        if info is None:
            return False
        try:
            await self.client.get(
                info.model, source.name, namespace=namespace if info.namespaced else ""
            )
        except NotFound:
            return False
        return True

    async def _bind(self, volume: core.PersistentVolume, claim: core.PersistentVolumeClaim) -> None:
        meta = claim.metadata
        ref = volume.spec.claim_ref
        if ref is None or ref.uid != meta.uid:
            annotations = dict(volume.metadata.annotations)
            if ref is None:
                annotations[core.ANN_BOUND_BY_CONTROLLER] = _YES
            volume = await self.client.update(
                volume.model_copy(
                    update={
                        "metadata": volume.metadata.model_copy(update={"annotations": annotations}),
                        "spec": volume.spec.model_copy(update={"claim_ref": _claim_ref(claim)}),
                    }
                )
            )
        volume = await self._volume_phase(volume, "Bound")
        if claim.spec.volume_name != volume.metadata.name or (
            core.ANN_BIND_COMPLETED not in meta.annotations
        ):
            annotations = {**meta.annotations, core.ANN_BIND_COMPLETED: _YES}
            if claim.spec.volume_name != volume.metadata.name:
                annotations[core.ANN_BOUND_BY_CONTROLLER] = _YES
            claim = await self.client.update(
                claim.model_copy(
                    update={
                        "metadata": meta.model_copy(update={"annotations": annotations}),
                        "spec": claim.spec.model_copy(update={"volume_name": volume.metadata.name}),
                    }
                )
            )
        status = claim.status.model_copy(
            update={
                "phase": "Bound",
                "access_modes": list(volume.spec.access_modes),
                "capacity": dict(volume.spec.capacity),
            }
        )
        if status != claim.status:
            await self.client.update_status(claim.model_copy(update={"status": status}))
            log.info(
                "claim bound", claim=f"{meta.namespace}/{meta.name}", volume=volume.metadata.name
            )

    async def _claim_phase(self, claim: core.PersistentVolumeClaim, phase: str) -> None:
        if claim.status.phase != phase:
            status = claim.status.model_copy(update={"phase": phase})
            await self.client.update_status(claim.model_copy(update={"status": status}))

    async def _volume_phase(
        self, volume: core.PersistentVolume, phase: str, message: str | None = None
    ) -> core.PersistentVolume:
        if volume.status.phase == phase:
            return volume
        status = core.PersistentVolumeStatus(
            phase=phase, message=message, last_phase_transition_time=self.clock.now()
        )
        return await self.client.update_status(volume.model_copy(update={"status": status}))

    async def _provision(
        self, claim: core.PersistentVolumeClaim, storage_class: StorageClass, node: str | None
    ) -> None:
        meta = claim.metadata
        name = f"pvc-{meta.uid}"
        if self.volumes.cache.get(name) is not None:
            return  # made already: its event brings the claim back to bind
        if meta.annotations.get(core.ANN_STORAGE_PROVISIONER) != storage_class.provisioner:
            annotations = {
                **meta.annotations,
                core.ANN_STORAGE_PROVISIONER: storage_class.provisioner,
            }
            claim = await self.client.update(
                claim.model_copy(
                    update={"metadata": meta.model_copy(update={"annotations": annotations})}
                )
            )
        affinity = None
        if node is not None:
            affinity = core.VolumeNodeAffinity.model_validate(
                {
                    "required": {
                        "nodeSelectorTerms": [
                            {
                                "matchExpressions": [
                                    {"key": HOSTNAME_LABEL, "operator": "In", "values": [node]}
                                ]
                            }
                        ]
                    }
                }
            )
        volume = core.PersistentVolume(
            metadata=ObjectMeta(
                name=name, annotations={core.ANN_PROVISIONED_BY: storage_class.provisioner}
            ),
            spec=core.PersistentVolumeSpec(
                capacity={"storage": requested_storage(claim)},
                access_modes=list(claim.spec.access_modes),
                claim_ref=_claim_ref(claim),
                persistent_volume_reclaim_policy=storage_class.reclaim_policy,
                storage_class_name=storage_class.metadata.name,
                mount_options=list(storage_class.mount_options),
                volume_mode=claim.spec.volume_mode,
                node_affinity=affinity,
                csi=_csi_source(storage_class.provisioner, name),
            ),
        )
        provisioner = storage_class.provisioner
        external = not provisioner.startswith(IN_TREE_PREFIX)
        if external:
            self.recorder.record(
                claim,
                "Normal",
                "ExternalProvisioning",
                "waiting for a volume to be created, either by external provisioner "
                f'"{provisioner}" or manually created by system administrator',
            )
        with contextlib.suppress(AlreadyExists):
            await self.client.create(volume)
            log.info("volume provisioned", volume=name, claim=f"{meta.namespace}/{meta.name}")
            message = f"Successfully provisioned volume {name}"
            if not external:
                message += f" using {provisioner}"
            self.recorder.record(claim, "Normal", "ProvisioningSucceeded", message)

    async def _sync_volume(self, volume: core.PersistentVolume) -> None:
        ref = volume.spec.claim_ref
        if ref is None or not ref.uid:
            await self._volume_phase(volume, "Available")  # free, or waiting for its named claim
            return
        claim = self.claims.cache.get(ref.name or "", ref.namespace or "")
        if claim is None or claim.metadata.uid != ref.uid:
            # The cache may lag behind a claim just made: ask the API before releasing.
            try:
                claim = await self.client.get(
                    core.PersistentVolumeClaim, ref.name or "", namespace=ref.namespace or ""
                )
            except NotFound:
                claim = None
        if claim is not None and claim.metadata.uid == ref.uid:
            if claim.spec.volume_name == volume.metadata.name:
                await self._volume_phase(volume, "Bound")
            else:
                self.controller.enqueue(
                    _claim_request(claim.metadata.namespace, claim.metadata.name)
                )
            return
        await self._reclaim(volume)

    async def _reclaim(self, volume: core.PersistentVolume) -> None:
        if volume.status.phase == "Failed":
            return
        policy = volume.spec.persistent_volume_reclaim_policy
        volume = await self._volume_phase(volume, "Released")
        if policy == "Delete":
            with contextlib.suppress(NotFound):
                await self.client.delete(core.PersistentVolume, volume.metadata.name)
            log.info("volume deleted", volume=volume.metadata.name)
        elif policy == "Recycle":
            # Recycling scrubs the data and frees the volume for a new claim.
            freed = volume.model_copy(
                update={"spec": volume.spec.model_copy(update={"claim_ref": None})}
            )
            await self.client.update(freed)


def setup(
    manager: Manager, *, registry: Registry = REGISTRY, **_: Any
) -> PersistentVolumeController:
    """Build the PersistentVolume controller on `manager` and add it."""
    controller = PersistentVolumeController(
        manager.client, manager.factory, clock=manager.clock, registry=registry
    )
    controller.register(manager)
    return controller
