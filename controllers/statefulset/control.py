"""One sync of a StatefulSet (Kubernetes' defaultStatefulSetControl): bring
its pods and claims one step closer to the spec, then report status.

Given the set's pods (claimed), revisions and claims from the caches:

1. The update revision is the one for the current template (created, or an
   equal older one made newest: a rollback); the current revision is the one
   `status.currentRevision` names (the update revision for a new set).
2. Pods are slotted by ordinal: `[start, start + replicas)` are the replicas,
   the rest are condemned (deleted highest ordinal first).
3. Replicas, lowest ordinal first: a Failed or Succeeded pod is deleted (it is
   re-created when gone); a missing pod is created, its claims first. A new
   pod below the RollingUpdate partition is made at the current revision,
   every other at the update revision. With `OrderedReady`, the sync stops at
   the first pod created, terminating, or not yet Running, Ready and available
   (`minReadySeconds`): ordinal n+1 is only created once n is Ready, and
   scale-down waits until every replica is. `Parallel` goes on.
4. Condemned pods, highest ordinal first; with OrderedReady one at a time and
   only while no other pod is unhealthy. With `whenScaled: Delete` each claim
   of a condemned pod gets the pod as owner first, so the garbage collector
   deletes the claim once the pod is gone (Kubernetes' mechanism);
   `whenDeleted: Delete` claims are owned by the set from their creation.
5. RollingUpdate: from the highest ordinal down to the partition, pods not at
   the update revision are deleted (to be re-created updated), as long as no
   more than `maxUnavailable` (default 1) pods are unhealthy. OnDelete updates
   only pods the user deletes.

A pod's name is its identity and the store refuses a second pod of one name,
so two live pods never share an identity: a pod left terminating on an
unreachable node blocks its ordinal until it is really deleted. No
expectations are needed for the same reason (a create on a stale cache fails
with AlreadyExists).

Neighbours: `controllers.statefulset.identity`, `.status`,
`controllers.common.history`; `controllers.statefulset.controller` calls
`sync_stateful_set`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from controllers.common.history import ensure_revision, template_of, truncate
from controllers.common.ownership import new_controller_ref
from controllers.statefulset.facts import PodFacts
from controllers.statefulset.identity import new_claims, new_pod, start_ordinal
from controllers.statefulset.status import calculate_status
from engine.api import (
    ControllerRevision,
    OwnerReference,
    PersistentVolumeClaim,
    Pod,
    PodTemplateSpec,
    StatefulSet,
    StatefulSetStatus,
    scaled_value,
)
from engine.client import Client
from engine.errors import AlreadyExists, ApiError, Conflict, NotFound
from engine.events import EventRecorder

__all__ = ["PodEntry", "SyncOutcome", "sync_stateful_set"]

PodEntry = tuple[Pod, PodFacts]
"""A pod of the set with its facts."""

_AVAILABILITY_SLACK: Final = 0.001


@dataclass(slots=True)
class SyncOutcome:
    status: StatefulSetStatus
    requeue_after: float | None = None
    error: ApiError | None = None


@dataclass(slots=True)
class _Sync:
    client: Client
    recorder: EventRecorder
    sts: StatefulSet
    claims: dict[str, PersistentVolumeClaim]
    now: datetime
    requeue_after: float | None = None
    errors: list[ApiError] = field(default_factory=list)

    def wait(self, seconds: float) -> None:
        if self.requeue_after is None or seconds < self.requeue_after:
            self.requeue_after = seconds

    def event(self, type_: str, reason: str, message: str) -> None:
        self.recorder.record(self.sts, type_, reason, message)

    def healthy(self, facts: PodFacts) -> bool:
        return not facts.terminating and facts.available(self.sts.spec.min_ready_seconds, self.now)

    async def create_pod(self, pod: Pod, ordinal: int) -> bool:
        sts = self.sts
        if not await self.ensure_claims(ordinal):
            return False
        where = f"Pod {pod.metadata.name} in StatefulSet {sts.metadata.name}"
        try:
            await self.client.create(pod)
        except AlreadyExists:
            return True  # the cache is behind: it will show the pod
        except ApiError as error:
            self.event("Warning", "FailedCreate", f"create {where} failed error: {error}")
            self.errors.append(error)
            return False
        self.event("Normal", "SuccessfulCreate", f"create {where} successful")
        return True

    async def ensure_claims(self, ordinal: int) -> bool:
        """Create the pod's missing claims; False while one is being deleted."""
        sts = self.sts
        delete_with_set = sts.spec.persistent_volume_claim_retention_policy.when_deleted == "Delete"
        for claim in new_claims(sts, ordinal):
            name = claim.metadata.name
            existing = self.claims.get(name)
            if existing is not None:
                if existing.metadata.deletion_timestamp is not None:
                    self.wait(1.0)
                    return False
                await self.drop_pod_owner(existing)
                continue
            if delete_with_set:
                owner = new_controller_ref(sts).model_copy(
                    update={"controller": None, "block_owner_deletion": None}
                )
                meta = claim.metadata.model_copy(update={"owner_references": [owner]})
                claim = claim.model_copy(update={"metadata": meta})
            where = f"Claim {name} Pod {name.split('-', 1)[-1]} in StatefulSet {sts.metadata.name}"
            try:
                await self.client.create(claim)
            except AlreadyExists:
                continue
            except ApiError as error:
                self.event("Warning", "FailedCreate", f"create {where} failed error: {error}")
                self.errors.append(error)
                return False
            self.event("Normal", "SuccessfulCreate", f"create {where} success")
        return True

    async def drop_pod_owner(self, claim: PersistentVolumeClaim) -> None:
        """A claim a condemned pod owned (whenScaled: Delete) whose ordinal is
        back in range keeps no pod owner, or it would be garbage collected."""
        refs = claim.metadata.owner_references
        kept = [r for r in refs if r.kind != "Pod"]
        if len(kept) == len(refs):
            return
        await self._set_claim_owners(claim, kept)

    async def own_claims_by(self, pod: Pod, ordinal: int) -> None:
        ref = OwnerReference(
            api_version="v1", kind="Pod", name=pod.metadata.name, uid=pod.metadata.uid
        )
        for template in new_claims(self.sts, ordinal):
            claim = self.claims.get(template.metadata.name)
            if claim is None:
                continue
            refs = claim.metadata.owner_references
            if any(r.uid == ref.uid for r in refs):
                continue
            await self._set_claim_owners(claim, [*(r for r in refs if r.kind != "Pod"), ref])

    async def _set_claim_owners(
        self, claim: PersistentVolumeClaim, refs: list[OwnerReference]
    ) -> None:
        meta = claim.metadata.model_copy(update={"owner_references": refs})
        try:
            await self.client.update(claim.model_copy(update={"metadata": meta}))
        except (NotFound, Conflict):
            self.wait(1.0)
        except ApiError as error:
            self.errors.append(error)

    async def delete_pod(self, pod: Pod) -> None:
        meta = pod.metadata
        where = f"Pod {meta.name} in StatefulSet {self.sts.metadata.name}"
        try:
            await self.client.delete(Pod, meta.name, namespace=meta.namespace, uid=meta.uid)
        except (NotFound, Conflict):
            return
        except ApiError as error:
            self.event("Warning", "FailedDelete", f"delete {where} failed error: {error}")
            self.errors.append(error)
            return
        self.event("Normal", "SuccessfulDelete", f"delete {where} successful")


async def sync_stateful_set(
    client: Client,
    recorder: EventRecorder,
    sts: StatefulSet,
    pods: Sequence[PodEntry],
    revisions: Sequence[ControllerRevision],
    claims: dict[str, PersistentVolumeClaim],
    now: datetime,
) -> SyncOutcome:
    """Act once on `sts` (see the module docstring), given its pods with their
    facts; returns its new status."""
    collision_count = sts.status.collision_count or 0
    labels = dict(sts.spec.selector.match_labels)
    update_rev, collision_count = await ensure_revision(
        client, sts, sts.spec.template, revisions, collision_count, labels
    )
    by_name = {r.metadata.name: r for r in revisions}
    by_name[update_rev.metadata.name] = update_rev
    current_rev = by_name.get(sts.status.current_revision or "", update_rev)
    state = _Sync(client, recorder, sts, claims, now)
    if sts.metadata.deletion_timestamp is None:
        await _act(state, pods, current_rev, update_rev)
    status = calculate_status(
        sts,
        [f for _, f in pods],
        current_rev.metadata.name,
        update_rev.metadata.name,
        collision_count,
        now,
    )
    live = {status.current_revision or "", status.update_revision or ""}
    live.update(f.revision or "" for _, f in pods)
    await truncate(client, list(by_name.values()), live, sts.spec.revision_history_limit)
    error = state.errors[0] if state.errors else None
    return SyncOutcome(status, state.requeue_after, error)


async def _act(
    state: _Sync,
    pods: Sequence[PodEntry],
    current_rev: ControllerRevision,
    update_rev: ControllerRevision,
) -> None:
    sts = state.sts
    start = start_ordinal(sts)
    end = start + sts.spec.replicas
    slots: list[PodEntry | None] = [None] * sts.spec.replicas
    condemned: list[PodEntry] = []
    for entry in pods:
        ordinal = entry[1].ordinal
        if start <= ordinal < end:
            slots[ordinal - start] = entry
        elif ordinal >= 0:
            condemned.append(entry)
    condemned.sort(key=lambda e: e[1].ordinal, reverse=True)
    monotonic = sts.spec.pod_management_policy != "Parallel"
    rolling = sts.spec.update_strategy.rolling_update
    partition = rolling.partition if rolling is not None else 0
    is_rolling = sts.spec.update_strategy.type == "RollingUpdate"
    current_template: PodTemplateSpec | None = None
    update_name = update_rev.metadata.name

    for index, slot in enumerate(slots):
        ordinal = start + index
        if slot is None:
            if is_rolling and ordinal < partition and current_rev.metadata.name != update_name:
                if current_template is None:
                    current_template = template_of(current_rev)
                template, revision = current_template, current_rev.metadata.name
            else:
                template, revision = sts.spec.template, update_name
            created = await state.create_pod(new_pod(sts, template, revision, ordinal), ordinal)
            if monotonic or not created:
                return
            continue
        pod, facts = slot
        if facts.terminating:
            if monotonic:
                return
            continue
        if facts.terminal:
            # Re-created under the same name once this one is gone.
            await state.delete_pod(pod)
            if monotonic:
                return
            continue
        if not facts.running_ready:
            # A pending pod may wait for a claim deleted under it (scaled
            # down with whenScaled: Delete, then up again before the pod
            # went): create the missing claims, as Kubernetes' processReplica
            # does for pending pods.
            if sts.spec.volume_claim_templates and pod.status.phase in (None, "Pending"):
                await state.ensure_claims(ordinal)
            if monotonic:
                return
            continue
        wait = facts.seconds_until_available(sts.spec.min_ready_seconds, state.now)
        if wait is not None:
            state.wait(wait + _AVAILABILITY_SLACK)
            if monotonic:
                return
        elif sts.spec.volume_claim_templates and not await state.ensure_claims(ordinal):
            return

    first_unhealthy = next((p for p, f in condemned if not state.healthy(f)), None)
    retain_on_scale = sts.spec.persistent_volume_claim_retention_policy.when_scaled != "Delete"
    for pod, facts in condemned:
        ordinal = facts.ordinal
        if facts.terminating:
            if monotonic:
                return
            continue
        if monotonic and first_unhealthy is not None and pod is not first_unhealthy:
            return
        if not retain_on_scale:
            await state.own_claims_by(pod, ordinal)
        await state.delete_pod(pod)
        if monotonic:
            return

    if not is_rolling:
        return
    replicas = sts.spec.replicas
    max_unavailable = 1
    if rolling is not None and rolling.max_unavailable is not None:
        max_unavailable = max(1, scaled_value(rolling.max_unavailable, replicas, round_up=True))
    unavailable = sum(1 for entry in slots if entry is None or not state.healthy(entry[1]))
    budget = max_unavailable - unavailable
    for index in range(len(slots) - 1, max(partition - start, 0) - 1, -1):
        if budget <= 0:
            return
        target = slots[index]
        if target is None or target[1].terminating:
            continue
        if target[1].revision != update_name:
            await state.delete_pod(target[0])
            budget -= 1
