"""NodeVolumeLimits (PreFilter, Filter): a node takes no more CSI volumes of
a driver than its CSINode allows, as kube-scheduler's nodevolumelimits
(CSILimits) plugin decides.

* A node's limits are its CSINode's `spec.drivers[].allocatable.count`; a
  node without a CSINode, or a driver without a count, has no limit.
* A pod's volumes are counted by unique name `<driver>/<volumeHandle>`: a
  claim bound to a volume with a `csi` source counts as that volume; an
  unbound claim (or one whose volume is missing) counts as a new volume of
  its StorageClass's provisioner; a claim without a class, or a volume of an
  in-tree source, is not counted (kubeloop does no CSI migration).
  Generic ephemeral volumes count through their `<pod>-<volume>` claim.
* A node fits when, for every driver of the pod's new volumes, the unique
  volumes of the pods already on the node plus the pod's volumes not among
  them stay within the limit ("node(s) exceed max volume count",
  Unschedulable). A volume shared with a pod on the node is counted once.
* PreFilter: a pod without claim or ephemeral volumes skips the plugin; so
  does one whose volumes count for no driver. A missing claim fails every
  node, unresolvable (`looking up PVC ns/name: persistentvolumeclaim
  "name" not found`).

Not modelled: VolumeAttachment objects (attachments are the pods' claims),
CSI migration of in-tree volumes, CSIDriver `preventPodSchedulingIfMissing`.
The simulated provisioner (`controllers.volume`) gives each volume it makes
for a CSI-style provisioner a `csi` source, so a claim counts alike before
and after binding.

Neighbours: `Handle.listers` (claims, volumes, classes, CSINodes),
`controllers.scheduler.cache` (pods per node), `engine.volumes` (a pod's claims).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np

from controllers.scheduler.cluster_events import (
    ASSIGNED_POD,
    CSI_NODE,
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
from engine.volumes import claim_class, ephemeral_claim_problem, pod_claims

__all__ = ["REASON", "NodeVolumeLimits", "csi_limits"]

REASON: Final = "node(s) exceed max volume count"
_STATUS: Final = Status.unschedulable(REASON)
_KEY: Final = "PreFilterNodeVolumeLimits"
UNBOUND_PREFIX: Final = "unbound-claim"
"""The volume handle prefix of a claim not bound yet (Kubernetes uses a random
one: either way it never equals a real volume's handle)."""


@dataclass(slots=True)
class _State:
    volumes: dict[str, str] | None  # unique name -> driver; None when a claim is missing
    missing: Status | None = None
    removed: set[tuple[str, str]] = field(default_factory=set)  # by preemption's dry run

    def clone(self) -> _State:
        return _State(self.volumes, self.missing, set(self.removed))


def csi_limits(csi_node: Any) -> dict[str, int]:
    """driver -> attachable volume count, from a CSINode (None: no limits)."""
    if csi_node is None:
        return {}
    limits: dict[str, int] = {}
    for driver in (csi_node.spec or {}).get("drivers", ()):
        count = (driver.get("allocatable") or {}).get("count")
        if count is not None:
            limits[driver["name"]] = int(count)
    return limits


class NodeVolumeLimits:
    name: Final = "NodeVolumeLimits"

    def __init__(self, handle: Handle) -> None:
        self.cache = handle.cache
        self.table = handle.table
        self.listers = handle.listers

    def _driver_info(self, claim: core.PersistentVolumeClaim) -> tuple[str, str] | None:
        name = claim.spec.volume_name
        volume = self.listers.volume(name) if name else None
        if volume is not None:
            csi = volume.spec.csi
            if csi is None or not csi.get("driver") or not csi.get("volumeHandle"):
                return None
            return csi["driver"], csi["volumeHandle"]
        klass_name = claim_class(claim)
        klass = self.listers.storage_class(klass_name) if klass_name else None
        if klass is None:
            return None
        meta = claim.metadata
        return klass.provisioner, f"{UNBOUND_PREFIX}-{meta.namespace}/{meta.name}"

    def _attachable(self, pod: core.Pod, into: dict[str, str], *, new: bool) -> Status | None:
        namespace = pod.metadata.namespace
        for used in pod_claims(pod):
            claim = self.listers.claim(namespace, used.claim)
            if claim is None:
                if new:
                    return Status.unresolvable(
                        f"looking up PVC {namespace}/{used.claim}: "
                        f'persistentvolumeclaim "{used.claim}" not found'
                    )
                continue
            if used.ephemeral:
                problem = ephemeral_claim_problem(pod, claim)
                if problem is not None:
                    if new:
                        return Status.unresolvable(problem)
                    continue
            info = self._driver_info(claim)
            if info is not None:
                into[f"{info[0]}/{info[1]}"] = info[0]
        return None

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        volumes = pod.pod.spec.volumes
        if not volumes or not any(
            v.persistent_volume_claim is not None or v.ephemeral is not None for v in volumes
        ):
            return Status.skip()
        mine: dict[str, str] = {}
        missing = self._attachable(pod.pod, mine, new=True)
        if missing is not None:
            state.write(_KEY, _State(None, missing))
            return None
        if not mine:
            return Status.skip()
        state.write(_KEY, _State(mine))
        return None

    def add_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        s: _State | None = state.get(_KEY)
        if s is not None:
            s.removed.discard(other.key)

    def remove_pod(self, state: CycleState, pod: PodInfo, other: PodInfo, slot: int) -> None:
        s: _State | None = state.get(_KEY)
        if s is not None:
            s.removed.add(other.key)

    def _fits(self, s: _State, slot: int) -> bool:
        assert s.volumes is not None
        limits = csi_limits(self.listers.csi_node(self.table.names[slot]))
        if not limits or not any(driver in limits for driver in s.volumes.values()):
            return True
        attached: dict[str, str] = {}
        for other in self.cache.pods_on(slot):
            if other.pod.spec.volumes and other.key not in s.removed:
                self._attachable(other.pod, attached, new=False)
        counts: dict[str, int] = {}
        for driver in attached.values():
            counts[driver] = counts.get(driver, 0) + 1
        adding: dict[str, int] = {}
        for unique, driver in s.volumes.items():
            if unique not in attached:
                adding[driver] = adding.get(driver, 0) + 1
        return all(
            counts.get(driver, 0) + count <= limits[driver]
            for driver, count in adding.items()
            if driver in limits
        )

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        s: _State | None = state.get(_KEY)
        if s is None:
            return None
        if s.volumes is None:
            return np.zeros(len(window), np.bool_)
        return np.array([self._fits(s, slot) for slot in window.slots.tolist()], np.bool_)

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        s: _State = state.read(_KEY)
        return same_reason(slots, s.missing or _STATUS)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(CSI_NODE, Action.ADD | Action.UPDATE)),
            EventRegistration(ClusterEvent(ASSIGNED_POD, Action.DELETE), _pod_hint),
            EventRegistration(ClusterEvent(PVC, Action.ADD), claim_hint),
        ]


def _pod_hint(_pod: PodInfo, old: core.Pod | None, _new: Any) -> bool:
    """A deleted pod frees attachments only if it had claim volumes."""
    return old is None or bool(pod_claims(old))


def new(_args: PluginArgs, handle: Handle) -> Any:
    return NodeVolumeLimits(handle)
