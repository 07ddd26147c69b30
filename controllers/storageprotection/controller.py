"""The pvc-protection and pv-protection controllers: kube-controller-manager's
storage-object-in-use protection.

Claims (`pvc-protection`):

* a claim not being deleted that lacks `kubernetes.io/pvc-protection` gets
  it (admission adds it on create, `engine.admission.storageprotection`;
  this covers claims stored before, or written without admission);
* a claim being deleted keeps the finalizer while a pod uses it, and loses
  it (so the store removes it) once none does. A pod uses a claim when it is
  scheduled (`spec.nodeName` set: the kubelet refuses to start a pod whose
  claim is being deleted, so an unscheduled one never will), names it (a
  persistentVolumeClaim volume, or a generic ephemeral volume whose
  `<pod>-<volume>` claim it controls), has not terminated (phase Succeeded
  or Failed) and was not deleted with no grace left (force-deleted or
  finished by its kubelet). The informer cache is asked first; when it
  knows no user, a live list of the namespace's pods confirms, since a pod
  just made may not be cached yet.

Decision: Kubernetes' current controller counts a terminated pod's
persistentVolumeClaim volumes as in use until the pod object is gone; here,
as the protection's documentation says ("not in active use by a pod"), a
terminated pod no longer holds its claim, so a finished Job's claim can go.

Volumes (`pv-protection`): a volume not being deleted gets
`kubernetes.io/pv-protection`; a volume being deleted loses it once it is
not Bound (its claim released it).

Neighbours: `engine.admission.storageprotection` (adds the finalizers),
`controllers.volume` (binds, releases, reclaims), `engine.volumes` (a pod's claims).
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from engine.admission.storageprotection import PV_PROTECTION_FINALIZER, PVC_PROTECTION_FINALIZER
from engine.api import core
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import NotFound
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager
from engine.volumes import ephemeral_claim_problem, pod_claims

__all__ = [
    "PVCProtectionController",
    "PVProtectionController",
    "claim_in_use",
    "setup_pv_protection",
    "setup_pvc_protection",
]

log = get_logger("storageprotection")

_TERMINAL = ("Succeeded", "Failed")


def _shut_down(pod: core.Pod) -> bool:
    meta = pod.metadata
    return meta.deletion_timestamp is not None and meta.deletion_grace_period_seconds == 0


def claim_in_use(pod: core.Pod, claim: core.PersistentVolumeClaim) -> bool:
    """`pod` holds `claim` (see the module docstring)."""
    if not pod.spec.node_name or pod.metadata.namespace != claim.metadata.namespace:
        return False
    if pod.status.phase in _TERMINAL or _shut_down(pod):
        return False
    name = claim.metadata.name
    for used in pod_claims(pod):
        if used.claim != name:
            continue
        if not used.ephemeral or ephemeral_claim_problem(pod, claim) is None:
            return True
    return False


async def _set_finalizers(client: Client, obj: Any, finalizers: list[str]) -> None:
    meta = obj.metadata.model_copy(update={"finalizers": finalizers})
    with contextlib.suppress(NotFound):  # gone meanwhile: nothing to protect
        await client.update(obj.model_copy(update={"metadata": meta}))


async def _protect(
    client: Client, obj: Any, finalizer: str, in_use: Callable[[], Awaitable[bool]]
) -> bool:
    """Put `finalizer` on `obj` while it is not being deleted; take it off once
    it is being deleted and not `in_use()`. True when it was taken off."""
    meta = obj.metadata
    has = finalizer in meta.finalizers
    if meta.deletion_timestamp is None:
        if not has:
            await _set_finalizers(client, obj, [*meta.finalizers, finalizer])
        return False
    if not has or await in_use():
        return False
    await _set_finalizers(client, obj, [f for f in meta.finalizers if f != finalizer])
    return True


class PVCProtectionController:
    """Keeps a claim while pods use it (see the module docstring)."""

    def __init__(self, client: Client, factory: InformerFactory, *, clock: Clock) -> None:
        self.client = client
        self.claims = factory.informer(core.PersistentVolumeClaim)
        self.pods = factory.informer(core.Pod)
        self.controller = Controller("pvc-protection", self, clock=clock)
        self.controller.for_kind(self.claims)
        self.controller.watches(self.pods, self._for_pod)

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)

    def _for_pod(self, pod: core.Pod) -> Iterable[Request]:
        """The claims being deleted that this pod's change may free."""
        if not pod.spec.volumes:
            return
        namespace = pod.metadata.namespace
        for used in pod_claims(pod):
            claim = self.claims.cache.get(used.claim, namespace)
            if claim is not None and claim.metadata.deletion_timestamp is not None:
                yield Request(core.PersistentVolumeClaim, namespace, used.claim)

    async def reconcile(self, request: Request) -> Result:
        claim = self.claims.cache.get(request.name, request.namespace)
        if claim is not None and await _protect(
            self.client, claim, PVC_PROTECTION_FINALIZER, lambda: self._in_use(claim)
        ):
            meta = claim.metadata
            log.info("claim released for deletion", claim=f"{meta.namespace}/{meta.name}")
        return Result()

    async def _in_use(self, claim: core.PersistentVolumeClaim) -> bool:
        namespace = claim.metadata.namespace
        if any(claim_in_use(p, claim) for p in self.pods.cache.list(namespace)):
            return True
        pods = await self.client.list(core.Pod, namespace=namespace)
        return any(claim_in_use(p, claim) for p in pods.items)


class PVProtectionController:
    """Keeps a volume while it is Bound (see the module docstring)."""

    def __init__(self, client: Client, factory: InformerFactory, *, clock: Clock) -> None:
        self.client = client
        self.volumes = factory.informer(core.PersistentVolume)
        self.controller = Controller("pv-protection", self, clock=clock)
        self.controller.for_kind(self.volumes)

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)

    async def reconcile(self, request: Request) -> Result:
        volume = self.volumes.cache.get(request.name)
        if volume is not None and await _protect(
            self.client, volume, PV_PROTECTION_FINALIZER, lambda: _bound(volume)
        ):
            log.info("volume released for deletion", volume=volume.metadata.name)
        return Result()


async def _bound(volume: core.PersistentVolume) -> bool:
    return volume.status.phase == "Bound"


def setup_pvc_protection(manager: Manager, **_: Any) -> PVCProtectionController:
    """Build the pvc-protection controller on `manager` and add it."""
    controller = PVCProtectionController(manager.client, manager.factory, clock=manager.clock)
    controller.register(manager)
    return controller


def setup_pv_protection(manager: Manager, **_: Any) -> PVProtectionController:
    """Build the pv-protection controller on `manager` and add it."""
    controller = PVProtectionController(manager.client, manager.factory, clock=manager.clock)
    controller.register(manager)
    return controller
