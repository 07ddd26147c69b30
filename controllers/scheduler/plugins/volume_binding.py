"""VolumeBinding (PreFilter, Filter, Reserve, PreBind): a pod's
PersistentVolumeClaims must be bindable on the node, as kube-scheduler's
volumebinding plugin decides.

* PreFilter: a pod without claim volumes skips the plugin (nothing is read).
  Claims are the pod's persistentVolumeClaim volumes and its generic
  ephemeral volumes' `<pod>-<volume>` claims (which the ephemeral volume
  controller makes; until then the pod waits). A claim that does not exist
  (`persistentvolumeclaim "data" not found`), an ephemeral volume's claim
  the pod does not control ("PVC ns/x was not created for pod ns/p (pod is
  not owner)"), or a claim being deleted, and an unbound claim whose class binds Immediately (or
  that has no class: the PersistentVolume controller binds it, not the
  scheduler), make the pod unschedulable and unresolvable until a claim,
  volume or class changes ("pod has unbound immediate PersistentVolumeClaims").
* Filter: a bound claim's volume must admit the node through its
  nodeAffinity ("node(s) had volume node affinity conflict"); an unbound
  WaitForFirstConsumer claim must have a matching volume reachable from the
  node (`engine.volumes`) or a class that provisions
  ("node(s) didn't find available persistent volumes to bind": a class with
  provisioner `kubernetes.io/no-provisioner` only binds static volumes).
* Reserve remembers the node; PreBind annotates each WaitForFirstConsumer
  claim with `volume.kubernetes.io/selected-node` and waits (polling each
  second, up to 10 minutes as kube-scheduler's bindTimeoutSeconds) until the
  PersistentVolume controller has bound them, so the pod reaches its node
  with its claims Bound.

Deviation: kube-scheduler pre-binds a chosen static volume itself (it sets
the claim's volumeName); here the scheduler only selects the node and the
PersistentVolume controller picks the volume reachable from it, which ends
the same way. Volume capacity tracking (CSIStorageCapacity) is not modelled.

Neighbours: `controllers.volume` (binds and provisions), `engine.volumes`
(matching), `Handle.listers` (claims, volumes, classes).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
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
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from controllers.scheduler.window import Window
from engine.api import StorageClass, core
from engine.errors import ApiError, Conflict
from engine.volumes import (
    claim_class,
    ephemeral_claim_problem,
    find_matching_volume,
    pod_claims,
    volume_fits_node,
)

__all__ = [
    "REASON_BIND_CONFLICT",
    "REASON_NODE_CONFLICT",
    "REASON_UNBOUND_IMMEDIATE",
    "VolumeBinding",
]

REASON_UNBOUND_IMMEDIATE: Final = "pod has unbound immediate PersistentVolumeClaims"
REASON_NODE_CONFLICT: Final = "node(s) had volume node affinity conflict"
REASON_BIND_CONFLICT: Final = "node(s) didn't find available persistent volumes to bind"
NO_PROVISIONER: Final = "kubernetes.io/no-provisioner"
BIND_TIMEOUT_SECONDS: Final = 600.0
_POLL_SECONDS: Final = 1.0
_KEY: Final = "VolumeBinding"
_STATUSES: Final = [
    Status.unschedulable(REASON_NODE_CONFLICT),
    Status.unschedulable(REASON_BIND_CONFLICT),
]


@dataclass(slots=True)
class _State:
    bound: list[core.PersistentVolume]  # volumes of bound claims
    delayed: list[tuple[core.PersistentVolumeClaim, StorageClass]]  # WaitForFirstConsumer
    node: str | None = None
    selected: list[str] = field(default_factory=list)

    def clone(self) -> _State:
        return _State(list(self.bound), list(self.delayed), self.node, list(self.selected))


class VolumeBinding:
    name: Final = "VolumeBinding"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.listers = handle.listers
        self.table = handle.table

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status | None:
        if not pod.pod.spec.volumes:
            return Status.skip()
        used = pod_claims(pod.pod)
        if not used:
            return Status.skip()
        namespace = pod.namespace
        bound: list[core.PersistentVolume] = []
        delayed: list[tuple[core.PersistentVolumeClaim, StorageClass]] = []
        for entry in used:
            name = entry.claim
            claim = self.listers.claim(namespace, name)
            if claim is None:
                return Status.unresolvable(f'persistentvolumeclaim "{name}" not found')
            if entry.ephemeral:
                problem = ephemeral_claim_problem(pod.pod, claim)
                if problem is not None:
                    return Status.unresolvable(problem)
            if claim.metadata.deletion_timestamp is not None:
                return Status.unresolvable(f'persistentvolumeclaim "{name}" is being deleted')
            volume_name = claim.spec.volume_name
            if volume_name and core.ANN_BIND_COMPLETED in claim.metadata.annotations:
                volume = self.listers.volume(volume_name)
                if volume is None:
                    return Status.unresolvable(f'persistentvolume "{volume_name}" not found')
                bound.append(volume)
                continue
            klass = self.listers.storage_class(claim_class(claim)) if claim_class(claim) else None
            if klass is None or klass.volume_binding_mode != "WaitForFirstConsumer":
                return Status.unresolvable(REASON_UNBOUND_IMMEDIATE)
            delayed.append((claim, klass))
        state.write(_KEY, _State(bound, delayed))
        return None

    def _fits(self, s: _State, node: core.Node | None) -> int:
        """0 when the node fits, 1 on a volume node affinity conflict, 2 when a
        WaitForFirstConsumer claim finds no volume to bind there."""
        if node is None:
            return 1
        if not all(volume_fits_node(v, node) for v in s.bound):
            return 1
        for claim, klass in s.delayed:
            if klass.provisioner != NO_PROVISIONER:
                continue  # provisioned on the node if no static volume fits
            if find_matching_volume(claim, self.listers.volumes(), node=node) is None:
                return 2
        return 0

    def filter(self, state: CycleState, pod: PodInfo, window: Window) -> BoolMask | None:
        s: _State | None = state.get(_KEY)
        if s is None:
            return None
        nodes = self.table.nodes
        return np.array([self._fits(s, nodes[slot]) == 0 for slot in window.slots], np.bool_)

    def explain(self, state: CycleState, pod: PodInfo, slots: Slots) -> Explanation:
        s: _State = state.read(_KEY)
        nodes = self.table.nodes
        reasons = [max(self._fits(s, nodes[slot]), 1) - 1 for slot in slots]
        return np.array(reasons, np.intp), list(_STATUSES)

    def reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        s: _State | None = state.get(_KEY)
        if s is not None:
            s.node = node
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        s: _State | None = state.get(_KEY)
        if s is not None:
            s.node = None

    async def pre_bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        s: _State | None = state.get(_KEY)
        if s is None or not s.delayed:
            return None
        client = self.handle.client
        if client is None:
            return Status.error("VolumeBinding has no client")
        try:
            for claim, _ in s.delayed:
                await self._select_node(claim, node)
        except ApiError as error:
            return Status.error(f"binding volumes: {error}")
        clock = self.handle.clock
        deadline = clock.monotonic() + BIND_TIMEOUT_SECONDS
        while True:
            pending = [
                c.metadata.name
                for c, _ in s.delayed
                if not _bound(self.listers.claim(c.metadata.namespace, c.metadata.name))
            ]
            if not pending:
                return None
            if clock.monotonic() >= deadline:
                return Status.error(
                    f"binding volumes: claims {', '.join(pending)} not bound: "
                    "timed out waiting for the condition"
                )
            await clock.sleep(_POLL_SECONDS)

    async def _select_node(self, claim: core.PersistentVolumeClaim, node: str) -> None:
        client = self.handle.client
        assert client is not None
        meta = claim.metadata
        for _ in range(3):
            current = await client.get(
                core.PersistentVolumeClaim, meta.name, namespace=meta.namespace
            )
            annotations = current.metadata.annotations
            if annotations.get(core.ANN_SELECTED_NODE) == node or current.spec.volume_name:
                return
            updated = current.metadata.model_copy(
                update={"annotations": {**annotations, core.ANN_SELECTED_NODE: node}}
            )
            with contextlib.suppress(Conflict):  # changed meanwhile: read it again
                await client.update(current.model_copy(update={"metadata": updated}))
                return

    def events_to_register(self) -> list[EventRegistration]:
        return [
            EventRegistration(ClusterEvent(PVC, Action.ADD | Action.UPDATE)),
            EventRegistration(ClusterEvent(PV, Action.ADD | Action.UPDATE)),
            EventRegistration(ClusterEvent(STORAGE_CLASS, Action.ADD | Action.UPDATE)),
            EventRegistration(ClusterEvent(NODE, Action.ADD | Action.UPDATE_NODE_LABEL)),
        ]


def _bound(claim: core.PersistentVolumeClaim | None) -> bool:
    return claim is not None and claim.status.phase == "Bound" and bool(claim.spec.volume_name)


def new(_args: PluginArgs, handle: Handle) -> Any:
    return VolumeBinding(handle)
