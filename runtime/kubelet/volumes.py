"""The kubelet's volume set-up: can a pod's volumes be mounted yet?

Role: what Kubernetes' volume manager does before a pod's sandbox is made
(WaitForAttachAndMount): every configMap, secret and persistentVolumeClaim
volume (and the configMap / secret sources of a projected volume) must
exist; a claim must be Bound and not being deleted, and a generic ephemeral
volume's claim `<pod>-<volume>` must exist, be controlled by the pod and be
Bound. Until then the pod stays Pending with its
containers waiting in ContainerCreating, and each failure is a `FailedMount`
Warning event with the kubelet's message:

* `MountVolume.SetUp failed for volume "config" : configmap "settings" not found`
  (`secret "..." not found`, `configmap references non-existent config key: k`);
* for a claim, `Unable to attach or mount volumes: unmounted volumes=[data],
  unattached volumes=[data]: error processing PVC default/data: failed to fetch
  PVC from API server: persistentvolumeclaims "data" not found` (or `PVC
  default/data has non-bound phase ("Pending") or empty pvc.Spec.VolumeName
  ("")`, `can't start pod because PVC default/data is being deleted`, `PVC
  default/p-scratch was not created for pod default/p (pod is not owner)`),
  as the volume manager's populator words it.

A volume marked `optional: true` never blocks (a missing optional item key
does not either). The caller retries with the volume manager's exponential
back-off (`mount_retry_delay`: 0.5 s doubling to 2m2s); once everything is
there the pod starts, and later changes to the objects do not stop it (as
in Kubernetes, a mounted volume stays mounted).

The kubelet records the messages as FailedMount events
(`runtime.kubelet.events`); the recorder folds repeats of one message into
a rising `count`.

Neighbours: `runtime.kubelet.pods` (calls `mount_failures` before the
sandbox), `runtime.cluster.workloads` (reports pods stuck on FailedMount).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

from engine.api import core
from engine.client import Client
from engine.errors import NotFound
from engine.logging import get_logger
from engine.volumes import PodClaim, ephemeral_claim_problem, pod_claims

__all__ = ["mount_failures", "mount_retry_delay"]

log = get_logger("kubelet.volumes")

_INITIAL_DELAY: Final = 0.5
_MAX_DELAY: Final = 122.0  # 2m2s, the volume manager's exponential back-off cap


def mount_retry_delay(failures: int) -> float:
    """The wait before set-up attempt `failures + 1` (`failures` >= 1)."""
    return min(_INITIAL_DELAY * 2.0 ** (failures - 1), _MAX_DELAY)


def _sources(
    volume: core.Volume,
) -> Iterator[tuple[str, str | None, list[core.KeyToPath], bool]]:
    """(kind, name, items, optional) of each configMap / secret the volume reads."""
    if volume.config_map is not None:
        source = volume.config_map
        yield "configmap", source.name, source.items, bool(source.optional)
    if volume.secret is not None:
        secret = volume.secret
        yield "secret", secret.secret_name, secret.items, bool(secret.optional)
    if volume.projected is not None:
        for projection in volume.projected.sources:
            if projection.config_map is not None:
                cm = projection.config_map
                yield "configmap", cm.name, cm.items, bool(cm.optional)
            if projection.secret is not None:
                sp = projection.secret
                yield "secret", sp.name, sp.items, bool(sp.optional)


async def _object_problem(
    client: Client, kind: str, name: str, items: list[core.KeyToPath], namespace: str
) -> str | None:
    model: type[core.ConfigMap] | type[core.Secret] = (
        core.ConfigMap if kind == "configmap" else core.Secret
    )
    try:
        obj = await client.get(model, name, namespace=namespace)
    except NotFound:
        return f'{kind} "{name}" not found'
    keys = set(obj.data)
    if isinstance(obj, core.ConfigMap):
        keys |= set(obj.binary_data)
    else:
        keys |= set(obj.string_data)
    for item in items:
        if item.key not in keys:
            return f"{kind} references non-existent config key: {item.key}"
    return None


async def _claim_problem(client: Client, pod: core.Pod, used: PodClaim) -> str | None:
    namespace, claim = pod.metadata.namespace, used.claim
    prefix = f"error processing PVC {namespace}/{claim}"
    try:
        pvc = await client.get(core.PersistentVolumeClaim, claim, namespace=namespace)
    except NotFound:
        return (
            f"{prefix}: failed to fetch PVC from API server: "
            f'persistentvolumeclaims "{claim}" not found'
        )
    if used.ephemeral:
        problem = ephemeral_claim_problem(pod, pvc)
        if problem is not None:
            return f"{prefix}: {problem}"
    if pvc.metadata.deletion_timestamp is not None:
        return f"{prefix}: can't start pod because PVC {namespace}/{claim} is being deleted"
    if pvc.status.phase != "Bound" or not pvc.spec.volume_name:
        return (
            f"{prefix}: PVC {namespace}/{claim} has non-bound phase "
            f'("{pvc.status.phase}") or empty pvc.Spec.VolumeName ("{pvc.spec.volume_name or ""}")'
        )
    return None


async def mount_failures(client: Client, pod: core.Pod) -> list[str]:
    """The FailedMount messages for `pod`'s volumes; empty when all can be set up."""
    namespace = pod.metadata.namespace
    messages: list[str] = []
    claims: list[tuple[str, str]] = []
    for volume in pod.spec.volumes:
        for kind, name, items, optional in _sources(volume):
            if not name:
                continue
            problem = await _object_problem(client, kind, name, items, namespace)
            if problem is not None and not (optional and "not found" in problem):
                messages.append(f'MountVolume.SetUp failed for volume "{volume.name}" : {problem}')
                break
    for used in pod_claims(pod):
        problem = await _claim_problem(client, pod, used)
        if problem is not None:
            claims.append((used.volume, problem))
    if claims:
        names = " ".join(name for name, _ in claims)
        messages.append(
            f"Unable to attach or mount volumes: unmounted volumes=[{names}], "
            f"unattached volumes=[{names}]: {claims[0][1]}"
        )
    return messages
