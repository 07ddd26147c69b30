"""Which PersistentVolume a claim binds to (the pv controller's findMatchingVolume).

A volume fits a claim when its capacity is at least the claim's storage
request, its volumeMode is the claim's, it is not being deleted and, when a
node is given, its nodeAffinity admits that node. Among fitting volumes:

* one already pre-bound to the claim (`spec.claimRef` naming it, with its uid
  or none) wins outright;
* otherwise the volume must be unclaimed, of the claim's storageClassName
  (unset and "" alike: no class), match the claim's label selector and offer
  every access mode the claim asks for; the smallest such volume wins (ties
  by name, for determinism).

A WaitForFirstConsumer claim without a node gets only a pre-bound volume:
binding waits for the scheduler to pick the node.

Pure functions, shared (as `engine.podresources` is) by the PersistentVolume
controller (`controllers.volume`, which binds) and the scheduler's
VolumeBinding plugin (which checks a WaitForFirstConsumer claim can bind on
a node).

A pod's claims (`pod_claims`) are its `persistentVolumeClaim` volumes and its
generic ephemeral volumes, whose claim is named `<pod>-<volume>`
(`ephemeral_claim_name`, Kubernetes' ephemeral.VolumeClaimName) and must be
controlled by the pod (`ephemeral_claim_problem`, ephemeral.VolumeIsForPod):
the scheduler, the kubelet and the protection controller all read them so.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from engine.api import core
from engine.nodeselectors import node_selector_matches
from engine.quantity import Quantity
from engine.selectors import from_label_selector

__all__ = [
    "PodClaim",
    "claim_class",
    "ephemeral_claim_name",
    "ephemeral_claim_problem",
    "find_matching_volume",
    "is_bound_to",
    "pod_claims",
    "requested_storage",
    "volume_fits_node",
]

_ZERO = Quantity("0")


class PodClaim(NamedTuple):
    """One claim a pod uses: its volume's name, the claim's name, and
    whether it is a generic ephemeral volume's claim."""

    volume: str
    claim: str
    ephemeral: bool


def ephemeral_claim_name(pod_name: str, volume_name: str) -> str:
    """The claim of a pod's generic ephemeral volume: `<pod>-<volume>`."""
    return f"{pod_name}-{volume_name}"


def pod_claims(pod: core.Pod) -> list[PodClaim]:
    """The claims `pod` uses, in volume order (empty, cheaply, for a pod
    without claim or ephemeral volumes)."""
    out: list[PodClaim] = []
    for volume in pod.spec.volumes:
        source = volume.persistent_volume_claim
        if source is not None:
            out.append(PodClaim(volume.name, source.claim_name, False))
        elif volume.ephemeral is not None:
            name = ephemeral_claim_name(pod.metadata.name, volume.name)
            out.append(PodClaim(volume.name, name, True))
    return out


def ephemeral_claim_problem(pod: core.Pod, claim: core.PersistentVolumeClaim) -> str | None:
    """None when `claim` was made for `pod`'s ephemeral volume (the pod is its
    controller), else Kubernetes' message."""
    uid = pod.metadata.uid
    for ref in claim.metadata.owner_references:
        if ref.controller and ref.uid == uid:
            return None
    meta = claim.metadata
    return (
        f"PVC {meta.namespace}/{meta.name} was not created for pod "
        f"{pod.metadata.namespace}/{pod.metadata.name} (pod is not owner)"
    )


def claim_class(claim: core.PersistentVolumeClaim) -> str:
    return claim.spec.storage_class_name or ""


def requested_storage(claim: core.PersistentVolumeClaim) -> Quantity:
    return claim.spec.resources.requests.get("storage", _ZERO)


def is_bound_to(volume: core.PersistentVolume, claim: core.PersistentVolumeClaim) -> bool:
    """The volume's claimRef names the claim (by uid too, when the ref has one)."""
    ref = volume.spec.claim_ref
    if ref is None or ref.name != claim.metadata.name:
        return False
    if (ref.namespace or "") != claim.metadata.namespace:
        return False
    return not ref.uid or ref.uid == claim.metadata.uid


def volume_fits_node(volume: core.PersistentVolume, node: core.Node) -> bool:
    affinity = volume.spec.node_affinity
    if affinity is None or affinity.required is None:
        return True
    return node_selector_matches(affinity.required, node)


def find_matching_volume(
    claim: core.PersistentVolumeClaim,
    volumes: Iterable[core.PersistentVolume],
    *,
    node: core.Node | None = None,
    delay_binding: bool = False,
) -> core.PersistentVolume | None:
    """The volume `claim` should bind to, or None (see the module docstring)."""
    requested = requested_storage(claim)
    wanted_modes = set(claim.spec.access_modes)
    selector = from_label_selector(claim.spec.selector) if claim.spec.selector else None
    best: core.PersistentVolume | None = None
    best_size: Quantity | None = None
    for volume in sorted(volumes, key=lambda v: v.metadata.name):
        spec = volume.spec
        size = spec.capacity.get("storage", _ZERO)
        if size < requested or spec.volume_mode != claim.spec.volume_mode:
            continue
        if volume.metadata.deletion_timestamp is not None:
            continue
        fits_node = node is None or volume_fits_node(volume, node)
        if is_bound_to(volume, claim):
            return volume if fits_node else None
        if delay_binding and node is None:
            continue
        if spec.claim_ref is not None or not fits_node:
            continue
        if (spec.storage_class_name or "") != claim_class(claim):
            continue
        if selector is not None and not selector.matches(volume.metadata.labels):
            continue
        if not wanted_modes <= set(spec.access_modes):
            continue
        if best_size is None or size < best_size:
            best, best_size = volume, size
    return best
