"""VolumeRestrictions (PreFilter, Filter): volumes a pod may not share, as
kube-scheduler's volumerestrictions plugin decides.

* ReadWriteOncePod: a pod whose PersistentVolumeClaim has the
  `ReadWriteOncePod` access mode while another scheduled pod already uses
  that claim fits on no node ("node(s) unavailable due to
  PersistentVolumeClaim with ReadWriteOncePod access mode already in-use by
  another pod", Unschedulable: preempting that pod may free the claim). The
  count of such users comes from the scheduler cache (`claim_users`) and
  follows preemption's simulated removals (`add_pod` / `remove_pod`).
* Disk conflicts: the same GCE persistent disk (unless every pod mounts it
  read-only), AWS EBS volume, iSCSI IQN (unless all read-only) or Ceph RBD
  image (a shared monitor, same pool and image, unless all read-only) used
  by a pod already on the node ("node(s) had no available disk").
* PreFilter: a claim volume whose claim does not exist makes the pod
  unschedulable and unresolvable (`persistentvolumeclaim "data" not
  found`); a pod with neither a ReadWriteOncePod claim in use nor an in-line
  disk volume skips the plugin, reading nothing else (a pod without volumes
  pays one empty loop).

Neighbours: `controllers.scheduler.cache.cache` (`claim_users`, pods per
node), `Handle.listers` (claims).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from controllers.scheduler.cluster_events import (
    ASSIGNED_POD,
    NODE,
    PVC,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import BoolMask, Explanation, Slots
from controllers.scheduler.plugins.helpers import claim_hint, same_reason
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api import core

__all__ = [
    "REASON_DISK_CONFLICT",
    "REASON_RWOP_CONFLICT",
    "VolumeRestrictions",
    "disks_conflict",
    "is_disk",
]

REASON_DISK_CONFLICT: Final = "node(s) had no available disk"
REASON_RWOP_CONFLICT: Final = (
    "node(s) unavailable due to PersistentVolumeClaim with ReadWriteOncePod access mode "
    "already in-use by another pod"
)
READ_WRITE_ONCE_POD: Final = "ReadWriteOncePod"
_KEY: Final = "PreFilterVolumeRestrictions"
_DISK_STATUS: Final = Status.unschedulable(REASON_DISK_CONFLICT)
_RWOP_STATUS: Final = Status.unschedulable(REASON_RWOP_CONFLICT)
_DEFAULT_RBD_POOL: Final = "rbd"  # SetDefaults_RBDVolumeSource


@dataclass(slots=True)
class _State:
    rwop_claims: frozenset[str]  # the pod's ReadWriteOncePod claims
    conflicts: int  # scheduled pods' references to them
    disks: list[core.Volume]  # the pod's in-line disk volumes
    removed: set[tuple[str, str]] = field(default_factory=set)  # by preemption's dry run

    def clone(self) -> _State:
        return _State(self.rwop_claims, self.conflicts, self.disks, set(self.removed))


def is_disk(volume: core.Volume) -> bool:
    """An in-line volume whose disk only one writer may use (GCE PD, AWS EBS,
    Ceph RBD, iSCSI)."""
    return (
        volume.gce_persistent_disk is not None
        or volume.aws_elastic_block_store is not None
        or volume.rbd is not None
        or volume.iscsi is not None
    )


def _written_by_either(source: dict[str, Any], other: dict[str, Any]) -> bool:
    return not (source.get("readOnly") and other.get("readOnly"))


def _same(key: str, source: dict[str, Any] | None, other: dict[str, Any] | None) -> bool:
    return source is not None and other is not None and source.get(key) == other.get(key)


def disks_conflict(volume: core.Volume, other: core.Volume) -> bool:
    """Kubernetes' isVolumeConflict for one pair of in-line volumes."""
    gce, other_gce = volume.gce_persistent_disk, other.gce_persistent_disk
    if _same("pdName", gce, other_gce) and _written_by_either(gce or {}, other_gce or {}):
        return True
    if _same("volumeID", volume.aws_elastic_block_store, other.aws_elastic_block_store):
        return True  # EBS: never shared, even read-only
    iscsi, other_iscsi = volume.iscsi, other.iscsi
    if _same("iqn", iscsi, other_iscsi) and _written_by_either(iscsi or {}, other_iscsi or {}):
        return True
    rbd, other_rbd = volume.rbd, other.rbd
    if rbd is None or other_rbd is None:
        return False
    return (
        bool(set(rbd.get("monitors", ())) & set(other_rbd.get("monitors", ())))
        and rbd.get("pool", _DEFAULT_RBD_POOL) == other_rbd.get("pool", _DEFAULT_RBD_POOL)
        and rbd.get("image") == other_rbd.get("image")
        and _written_by_either(rbd, other_rbd)
    )


def _rwop_references(claims: frozenset[str], other: PodInfo) -> int:
    return sum(
        1
        for v in other.pod.spec.volumes
        if v.persistent_volume_claim is not None and v.persistent_volume_claim.claim_name in claims
    )


class VolumeRestrictions:
    name: Final = "VolumeRestrictions"

    def __init__(self, handle: Handle) -> None:
        self.cache = handle.cache
        self.listers = handle.listers

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        volumes = pod.pod.spec.volumes
        if not volumes:
            return Status.skip()
        namespace = pod.namespace
        rwop: set[str] = set()
        disks: list[core.Volume] = []
        for volume in volumes:
            if is_disk(volume):
                disks.append(volume)
            source = volume.persistent_volume_claim
            if source is None:
                continue
            claim = self.listers.claim(namespace, source.claim_name)
            if claim is None:
                return Status.unresolvable(f'persistentvolumeclaim "{source.claim_name}" not found')
            if READ_WRITE_ONCE_POD in claim.spec.access_modes:
                rwop.add(source.claim_name)
        users = self.cache.claim_users
        conflicts = sum(1 for name in rwop if users.get((namespace, name), 0) > 0)
        if not disks and not conflicts:
            return Status.skip()
        state.write(_KEY, _State(frozenset(rwop), conflicts, disks))
        return None

    def _simulate(self, state: CycleState, pod: PodInfo, other: PodInfo, sign: int) -> None:
        """Preemption's dry run added (1) or removed (-1) `other`."""
        s: _State | None = state.get(_KEY)
        if s is None:
            return
        if other.namespace == pod.namespace:
            s.conflicts += sign * _rwop_references(s.rwop_claims, other)
        if sign > 0:
            s.removed.discard(other.key)
        else:
            s.removed.add(other.key)

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        self._simulate(state, pod, other, 1)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        self._simulate(state, pod, other, -1)

    def _disk_free(self, s: _State, slot: int) -> bool:
        for other in self.cache.pods_on(slot):
            if other.key in s.removed or not other.pod.spec.volumes:
                continue
            for theirs in other.pod.spec.volumes:
                if is_disk(theirs) and any(disks_conflict(mine, theirs) for mine in s.disks):
                    return False
        return True

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        s: _State | None = state.get(_KEY)
        if s is None:
            return None
        if not s.disks:
            return np.full(len(window), s.conflicts <= 0, np.bool_)
        return np.array(
            [s.conflicts <= 0 and self._disk_free(s, slot) for slot in window.slots.tolist()],
            np.bool_,
        )

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        s: _State = state.read(_KEY)
        if not s.disks:
            return same_reason(slots, _RWOP_STATUS)
        codes = [0 if not self._disk_free(s, slot) else 1 for slot in slots.tolist()]
        return np.array(codes, np.intp), [_DISK_STATUS, _RWOP_STATUS]

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(ASSIGNED_POD, Action.DELETE), _pod_hint),
            EventRegistration(ClusterEvent(NODE, Action.ADD)),
            EventRegistration(ClusterEvent(PVC, Action.ADD), claim_hint),
        ]


def _pod_hint(pod: PodInfo, old: core.Pod | None, _new: Any) -> bool:
    """A deleted pod in the pod's namespace that shared a claim or a disk with it."""
    if old is None:
        return True
    if old.metadata.namespace != pod.namespace:
        return False
    claims = {
        v.persistent_volume_claim.claim_name
        for v in pod.pod.spec.volumes
        if v.persistent_volume_claim is not None
    }
    for theirs in old.spec.volumes:
        source = theirs.persistent_volume_claim
        if source is not None and source.claim_name in claims:
            return True
        if is_disk(theirs) and any(disks_conflict(v, theirs) for v in pod.pod.spec.volumes):
            return True
    return False


def new(_args: PluginArgs, handle: Handle) -> Any:
    return VolumeRestrictions(handle)
