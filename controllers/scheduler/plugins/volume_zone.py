"""VolumeZone (PreFilter, Filter): a pod's bound volumes labelled with a zone
or region fit only nodes of that zone or region, as kube-scheduler's
volumezone plugin decides.

* PreFilter reads the pod's persistentVolumeClaim volumes (not ephemeral
  ones, as Kubernetes): a claim bound to a volume contributes the volume's
  topology labels (`topology.kubernetes.io/zone` and `/region`, and the
  deprecated `failure-domain.beta.kubernetes.io/zone` and `/region`), each a
  set of values joined by `__`; an unbound claim of a WaitForFirstConsumer
  class contributes nothing (VolumeBinding gives it node affinity). With no
  labels to match the plugin is skipped. Unresolvable: a missing claim
  (`persistentvolumeclaim "x" not found`), volume (`persistentvolume "x"
  not found`) or class, an unbound claim without a class ("PersistentVolumeClaim
  had no pv name and storageClass name") or of an Immediate class
  ("PersistentVolume had no name").
* Filter: a node with none of the four labels fits (a single-zone cluster);
  otherwise each volume label must be on the node (a beta key may match the
  node's GA key) with one of the volume's values, else "node(s) had no
  available volume zone" (UnschedulableAndUnresolvable). A volume's
  `nodeAffinity` is VolumeBinding's concern, not this plugin's.

Neighbours: `Handle.listers` (claims, volumes, classes), `volume_binding`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from controllers.scheduler.cluster_events import (
    NODE,
    PV,
    PVC,
    STORAGE_CLASS,
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
from engine.api import StorageClass, core
from engine.volumes import claim_class

__all__ = ["REASON", "TOPOLOGY_LABELS", "VolumeZone", "volume_topology"]

REASON: Final = "node(s) had no available volume zone"
_STATUS: Final = Status.unresolvable(REASON)
_KEY: Final = "PreFilterVolumeZone"
BETA_ZONE: Final = "failure-domain.beta.kubernetes.io/zone"
BETA_REGION: Final = "failure-domain.beta.kubernetes.io/region"
ZONE: Final = "topology.kubernetes.io/zone"
REGION: Final = "topology.kubernetes.io/region"
TOPOLOGY_LABELS: Final = (BETA_ZONE, BETA_REGION, ZONE, REGION)
_GA: Final = {BETA_ZONE: ZONE, BETA_REGION: REGION}
_ZONE_DELIMITER: Final = "__"  # volumehelpers.LabelZonesToSet


@dataclass(frozen=True, slots=True)
class _Topology:
    volume: str
    key: str
    values: frozenset[str]


@dataclass(slots=True)
class _State:
    topologies: list[_Topology]

    def clone(self) -> _State:
        return self


def volume_topology(volume: core.PersistentVolume) -> list[_Topology]:
    """The topology labels of a volume (a label with no value is ignored)."""
    out: list[_Topology] = []
    labels = volume.metadata.labels
    for key in TOPOLOGY_LABELS:
        value = labels.get(key)
        if value is None:
            continue
        values = frozenset(z.strip() for z in value.split(_ZONE_DELIMITER) if z.strip())
        if values:
            out.append(_Topology(volume.metadata.name, key, values))
    return out


class VolumeZone:
    name: Final = "VolumeZone"

    def __init__(self, handle: Handle) -> None:
        self.table = handle.table
        self.listers = handle.listers

    def _topologies(self, pod: PodInfo) -> list[_Topology] | Status:
        out: list[_Topology] = []
        listers = self.listers
        for volume in pod.pod.spec.volumes:
            source = volume.persistent_volume_claim
            if source is None:
                continue
            name = source.claim_name
            claim = listers.claim(pod.namespace, name)
            if claim is None:
                return Status.unresolvable(f'persistentvolumeclaim "{name}" not found')
            volume_name = claim.spec.volume_name
            if not volume_name:
                class_name = claim_class(claim)
                if not class_name:
                    return Status.unresolvable(
                        "PersistentVolumeClaim had no pv name and storageClass name"
                    )
                klass: StorageClass | None = listers.storage_class(class_name)
                if klass is None:
                    return Status.unresolvable(
                        f'storageclass.storage.k8s.io "{class_name}" not found'
                    )
                if klass.volume_binding_mode == "WaitForFirstConsumer":
                    continue
                return Status.unresolvable("PersistentVolume had no name")
            bound = listers.volume(volume_name)
            if bound is None:
                return Status.unresolvable(f'persistentvolume "{volume_name}" not found')
            out.extend(volume_topology(bound))
        return out

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        volumes = pod.pod.spec.volumes
        if not volumes or not any(v.persistent_volume_claim is not None for v in volumes):
            return Status.skip()
        topologies = self._topologies(pod)
        if isinstance(topologies, Status):
            return topologies
        if not topologies:
            return Status.skip()
        state.write(_KEY, _State(topologies))
        return None

    def _fits(self, topologies: list[_Topology], node: core.Node | None) -> bool:
        if node is None:
            return False
        labels = node.metadata.labels
        if not any(key in labels for key in TOPOLOGY_LABELS):
            return True  # a node without zone labels: a single-zone cluster
        for topology in topologies:
            value = labels.get(topology.key)
            if value is None:
                value = labels.get(_GA.get(topology.key, topology.key))
            if value is None or value not in topology.values:
                return False
        return True

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        s: _State | None = state.get(_KEY)
        if s is None:
            return None
        nodes = self.table.nodes
        return np.array(
            [self._fits(s.topologies, nodes[slot]) for slot in window.slots.tolist()], np.bool_
        )

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        return same_reason(slots, _STATUS)

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(STORAGE_CLASS, Action.ADD), _class_hint),
            EventRegistration(ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_LABEL)),
            EventRegistration(ClusterEvent(PVC, Action.ADD | Action.UPDATE), claim_hint),
            EventRegistration(ClusterEvent(PV, Action.ADD | Action.UPDATE), _volume_hint),
        ]


def _class_hint(_pod: PodInfo, _old: Any, new: Any) -> bool:
    return new is None or new.volume_binding_mode == "WaitForFirstConsumer"


def _volume_hint(_pod: PodInfo, old: Any, new: Any) -> bool:
    if old is None or new is None:
        return True
    return volume_topology(old) != volume_topology(new)


def new(_args: PluginArgs, handle: Handle) -> Any:
    return VolumeZone(handle)
