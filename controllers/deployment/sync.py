"""One sync of one Deployment: the state it works on and the steps every
strategy shares (Kubernetes' deployment sync.go).

A `DeploymentSync` holds the Deployment as last written (each write returns
the stored object and later writes build on it, so one sync never conflicts
with itself), the ReplicaSets it owns (replaced as they are written), and
what it asks of the workqueue afterwards. Its steps:

* `new_and_old` finds the new ReplicaSet (creating it if asked: named
  `<deployment>-<pod-template-hash>`, the hash label added to its template
  and selector, its first size from the surge budget), numbers it as the
  latest revision, and keeps the Deployment's revision annotation in step.
  A name taken by a ReplicaSet with another template is a hash collision:
  `status.collisionCount` goes up and the next sync tries another name.
* `scale` resizes ReplicaSets for a scaling event or a paused Deployment:
  the only active ReplicaSet takes all replicas; otherwise (rolling update)
  the difference is spread proportionally, largest ReplicaSets first.
* `cleanup` deletes old ReplicaSets beyond `revisionHistoryLimit`, oldest
  revisions first, only those scaled to zero and settled.
* `calculate_status` / `sync_status` derive the Deployment's status from its
  ReplicaSets.

Before the first write of a sync that raises the ReplicaSets' total size (a
ReplicaSet scaled up, a new one created with pods), the sync's view is
confirmed against a direct list from the API: an informer that lost events
(or lags) may show some ReplicaSets current and others not, and sizes
computed from such a view can ask for more than replicas + maxSurge pods. If
the API disagrees, `StaleReplicaSets` carries what it listed, and the
controller syncs again from that.

Neighbours: `controllers.deployment.controller` runs a sync;
`.rolling`, `.recreate` and `.progress` build on these steps.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import Any

from controllers.common.hashing import compute_hash
from controllers.common.ownership import is_controlled_by, new_controller_ref
from controllers.deployment import conditions as cond
from controllers.deployment.replicas import (
    actual_replica_count,
    available_replica_count,
    find_active_or_latest,
    is_rolling_update,
    is_saturated,
    max_surge,
    max_unavailable,
    new_rs_new_replicas,
    ready_replica_count,
    replica_count,
    replica_set_proportion,
    updated_replica_count,
)
from controllers.deployment.revisions import (
    POD_TEMPLATE_HASH_LABEL,
    REVISION_ANNOTATION,
    by_creation,
    by_revision,
    desired_replicas_annotation,
    equal_ignore_hash,
    find_new_replica_set,
    find_old_replica_sets,
    max_revision,
    new_replica_set_annotations,
    replicas_annotations,
)
from engine.api import (
    Deployment,
    DeploymentStatus,
    ObjectMeta,
    ReplicaSet,
    ReplicaSetSpec,
)
from engine.client import Client
from engine.clock import Clock
from engine.errors import AlreadyExists, ApiError, Conflict, Forbidden, NotFound
from engine.events import EventRecorder

__all__ = ["DeploymentGone", "DeploymentSync", "StaleReplicaSets"]


class DeploymentGone(NotFound):
    """The API no longer holds the Deployment this sync works on (by uid),
    though the controller's cache still shows it."""


class StaleReplicaSets(Exception):
    """The sync's view of its Deployment's ReplicaSets is not the API's;
    `listed` is every ReplicaSet of the namespace the API holds that the
    Deployment controls or might adopt."""

    def __init__(self, listed: list[ReplicaSet]) -> None:
        super().__init__("the cached ReplicaSets differ from the API's")
        self.listed = listed


def _sizes(d: Deployment, replica_sets: Sequence[ReplicaSet]) -> dict[str, int]:
    return {rs.metadata.uid: rs.spec.replicas for rs in replica_sets if is_controlled_by(rs, d)}


class DeploymentSync:
    """State and shared steps of one sync of one Deployment."""

    def __init__(
        self,
        client: Client,
        clock: Clock,
        d: Deployment,
        replica_sets: Sequence[ReplicaSet],
        recorder: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.recorder = recorder
        self.d = d
        self.replica_sets = list(replica_sets)
        self.requeue_after: float | None = None
        self.requeue = False
        self.last_rs_write = 0  # store revision of the last ReplicaSet write
        self.last_deployment_write = 0
        self.confirmed = False  # the view agreed with the API before a growing write

    async def confirm_view(self) -> None:
        """Raise `StaleReplicaSets` unless the API holds exactly the ReplicaSets
        (and sizes) this sync sees as the Deployment's. Called before writes
        that raise the total size; once per sync, as the sync's own writes keep
        its view current."""
        if self.confirmed:
            return
        d = self.d
        listed = (await self.client.list(ReplicaSet, namespace=d.metadata.namespace)).items
        if _sizes(d, listed) != _sizes(d, self.replica_sets):
            uid = d.metadata.uid
            raise StaleReplicaSets(
                [
                    rs
                    for rs in listed
                    if (ref := rs.metadata.controller_ref()) is None or ref.uid == uid
                ]
            )
        self.confirmed = True

    # -- writes that keep the sync's view current ----------------------------------

    def _remember(self, rs: ReplicaSet) -> ReplicaSet:
        uid = rs.metadata.uid
        self.replica_sets = [rs if r.metadata.uid == uid else r for r in self.replica_sets]
        if not any(r.metadata.uid == uid for r in self.replica_sets):
            self.replica_sets.append(rs)
        self.last_rs_write = max(self.last_rs_write, int(rs.metadata.resource_version))
        return rs

    def latest(self, rs: ReplicaSet) -> ReplicaSet:
        uid = rs.metadata.uid
        for known in self.replica_sets:
            if known.metadata.uid == uid:
                return known
        return rs

    async def update_replica_set(self, rs: ReplicaSet) -> ReplicaSet:
        return self._remember(await self.client.update(rs))

    async def write_status(self, status: DeploymentStatus) -> None:
        if status == self.d.status:
            return
        try:
            self.d = await self.client.update_status(self.d.model_copy(update={"status": status}))
        except NotFound as error:
            raise DeploymentGone(str(error)) from error
        self.last_deployment_write = int(self.d.metadata.resource_version)

    async def set_revision(self, revision: str) -> None:
        """Keep the Deployment's revision annotation equal to its new ReplicaSet's."""
        meta = self.d.metadata
        if meta.annotations.get(REVISION_ANNOTATION) == revision:
            return
        annotations = {**meta.annotations, REVISION_ANNOTATION: revision}
        updated = self.d.model_copy(
            update={"metadata": meta.model_copy(update={"annotations": annotations})}
        )
        try:
            self.d = await self.client.update(updated)
        except NotFound as error:
            raise DeploymentGone(str(error)) from error
        self.last_deployment_write = int(self.d.metadata.resource_version)

    async def check_deployment(self) -> None:
        """Raise `DeploymentGone` if the API no longer holds the Deployment, and
        Conflict if it is being deleted: ReplicaSets created for it would only
        be garbage collected, and their deletions wake this Deployment again (a
        loop that never lets time pass while the cache misses the deletion)."""
        meta = self.d.metadata
        try:
            current = await self.client.get(Deployment, meta.name, namespace=meta.namespace)
        except NotFound as error:
            raise DeploymentGone(str(error)) from error
        if current.metadata.uid != meta.uid:
            raise DeploymentGone(f'deployment "{meta.name}" with uid {meta.uid} is gone')
        if current.metadata.deletion_timestamp is not None:
            raise Conflict(f'deployment "{meta.name}" is being deleted')

    # -- finding (and creating) the new ReplicaSet -----------------------------------

    async def new_and_old(self, *, create: bool) -> tuple[ReplicaSet | None, list[ReplicaSet]]:
        """(new ReplicaSet or None, every old ReplicaSet), revisions synced."""
        existing = find_new_replica_set(self.d, self.replica_sets)
        old = find_old_replica_sets(self.d, self.replica_sets, existing)[1]
        new = await self._new_replica_set(existing, old, create)
        return new, old

    async def _new_replica_set(
        self, existing: ReplicaSet | None, old: list[ReplicaSet], create: bool
    ) -> ReplicaSet | None:
        new_revision = max_revision(old) + 1
        if existing is not None:
            return await self._sync_existing(existing, new_revision)
        if not create:
            return None
        return await self._create_new(old, new_revision)

    async def _sync_existing(self, rs: ReplicaSet, new_revision: int) -> ReplicaSet:
        d = self.d
        annotations = new_replica_set_annotations(
            d, rs.metadata.annotations, new_revision, exists=True, desired=0, max_replicas=0
        )
        if annotations is not None or rs.spec.min_ready_seconds != d.spec.min_ready_seconds:
            meta = rs.metadata
            if annotations is not None:
                meta = meta.model_copy(update={"annotations": annotations})
            spec = rs.spec.model_copy(update={"min_ready_seconds": d.spec.min_ready_seconds})
            return await self.update_replica_set(
                rs.model_copy(update={"metadata": meta, "spec": spec})
            )
        await self.set_revision(rs.metadata.annotations.get(REVISION_ANNOTATION, ""))
        if cond.has_progress_deadline(self.d) and self.d.status.condition(cond.PROGRESSING) is None:
            condition = cond.new_condition(
                cond.PROGRESSING,
                "True",
                cond.FOUND_NEW_RS,
                f'Found new replica set "{rs.metadata.name}"',
                self.clock.now(),
            )
            status = self.d.status
            new_conditions = cond.set_condition(status.conditions, condition)
            await self.write_status(status.model_copy(update={"conditions": new_conditions}))
        return rs

    async def _create_new(self, old: list[ReplicaSet], new_revision: int) -> ReplicaSet:
        d = self.d
        pod_hash = compute_hash(d.spec.template, d.status.collision_count)
        template_meta = d.spec.template.metadata
        labels = {**template_meta.labels, POD_TEMPLATE_HASH_LABEL: pod_hash}
        template = d.spec.template.model_copy(
            update={"metadata": template_meta.model_copy(update={"labels": labels})}
        )
        selector = d.spec.selector
        selector = selector.model_copy(
            update={"match_labels": {**selector.match_labels, POD_TEMPLATE_HASH_LABEL: pod_hash}}
        )
        name = f"{d.metadata.name}-{pod_hash}"
        draft = ReplicaSet(
            metadata=ObjectMeta(
                name=name,
                namespace=d.metadata.namespace,
                owner_references=[new_controller_ref(d)],
                labels=labels,
            ),
            spec=ReplicaSetSpec(
                replicas=0,
                min_ready_seconds=d.spec.min_ready_seconds,
                selector=selector,
                template=template,
            ),
        )
        replicas = new_rs_new_replicas(d, [*old, draft], draft)
        annotations = new_replica_set_annotations(
            d,
            {},
            new_revision,
            exists=False,
            desired=d.spec.replicas,
            max_replicas=d.spec.replicas + max_surge(d),
        )
        draft = draft.model_copy(
            update={
                "metadata": draft.metadata.model_copy(update={"annotations": annotations or {}}),
                "spec": draft.spec.model_copy(update={"replicas": replicas}),
            }
        )
        already_existed = False
        await self.check_deployment()
        if replicas > 0:
            await self.confirm_view()
        try:
            created = self._remember(await self.client.create(draft))
        except AlreadyExists:
            found = await self.client.get(ReplicaSet, name, namespace=d.metadata.namespace)
            if not (
                is_controlled_by(found, d)
                and equal_ignore_hash(d.spec.template, found.spec.template)
            ):
                # A hash collision: another template holds this name. Count it, so
                # the next sync hashes differently, and retry.
                collisions = (d.status.collision_count or 0) + 1
                await self.write_status(d.status.model_copy(update={"collision_count": collisions}))
                raise
            created = self._remember(found)
            already_existed = True
        except ApiError as error:
            if isinstance(error, Forbidden) and "being terminated" in str(error):
                raise
            self.record(
                "Warning",
                cond.FAILED_RS_CREATE,
                f'Failed to create new replica set "{name}": {error}',
            )
            if cond.has_progress_deadline(d):
                failed = cond.new_condition(
                    cond.PROGRESSING,
                    "False",
                    cond.FAILED_RS_CREATE,
                    f'Failed to create new replica set "{name}": {error}',
                    self.clock.now(),
                )
                status = d.status.model_copy(
                    update={"conditions": cond.set_condition(d.status.conditions, failed)}
                )
                # The create failure is the news (raised below), not this write.
                with contextlib.suppress(ApiError):
                    await self.write_status(status)
            raise
        await self.set_revision(str(new_revision))
        if not already_existed and replicas > 0:
            self.record(
                "Normal",
                "ScalingReplicaSet",
                f"Scaled up replica set {created.metadata.name} from 0 to {replicas}",
            )
        if not already_existed and cond.has_progress_deadline(self.d):
            condition = cond.new_condition(
                cond.PROGRESSING,
                "True",
                cond.NEW_RS_CREATED,
                f'Created new replica set "{created.metadata.name}"',
                self.clock.now(),
            )
            status = self.d.status
            await self.write_status(
                status.model_copy(
                    update={"conditions": cond.set_condition(status.conditions, condition)}
                )
            )
        return created

    # -- scaling -------------------------------------------------------------------------

    async def scale_replica_set(self, rs: ReplicaSet, new_scale: int) -> tuple[bool, ReplicaSet]:
        """Set `spec.replicas` and the scaling annotations. Returns (scaled, rs)."""
        rs = self.latest(rs)
        d = self.d
        annotations = replicas_annotations(
            rs.metadata.annotations, d.spec.replicas, d.spec.replicas + max_surge(d)
        )
        size_changed = rs.spec.replicas != new_scale
        if not size_changed and annotations is None:
            return False, rs
        if new_scale > rs.spec.replicas:
            await self.confirm_view()
        update: dict[str, Any] = {"spec": rs.spec.model_copy(update={"replicas": new_scale})}
        if annotations is not None:
            update["metadata"] = rs.metadata.model_copy(update={"annotations": annotations})
        old_scale = rs.spec.replicas
        rs = await self.update_replica_set(rs.model_copy(update=update))
        if size_changed:
            direction = "up" if new_scale > old_scale else "down"
            self.record(
                "Normal",
                "ScalingReplicaSet",
                f"Scaled {direction} replica set {rs.metadata.name} "
                f"from {old_scale} to {new_scale}",
            )
        return size_changed, rs

    def record(self, type_: str, reason: str, message: str) -> None:
        """An Event on the Deployment (kubectl describe deployment shows them)."""
        if self.recorder is not None:
            self.recorder.record(self.d, type_, reason, message)

    async def scale_if_needed(self, rs: ReplicaSet, new_scale: int) -> tuple[bool, ReplicaSet]:
        """`scale_replica_set`, unless the size is right already (annotations or not)."""
        if self.latest(rs).spec.replicas == new_scale:
            return False, self.latest(rs)
        return await self.scale_replica_set(rs, new_scale)

    async def scale(self, new_rs: ReplicaSet | None, old_rss: list[ReplicaSet]) -> None:
        """Resize for a scaling event (or while paused), proportionally if a
        rolling update is in progress."""
        d = self.d
        active_or_latest = find_active_or_latest(new_rs, old_rss)
        if active_or_latest is not None:
            # Kubernetes returns here when the size is right, leaving a stale
            # desired-replicas annotation that makes every later sync a scaling
            # event, so a rollout scaled down before its new ReplicaSet grew
            # never resumes (kubernetes/kubernetes#102551). Refresh it too.
            await self.scale_replica_set(active_or_latest, d.spec.replicas)
            return
        if is_saturated(d, new_rs):
            for old in old_rss:
                if old.spec.replicas > 0:
                    await self.scale_if_needed(old, 0)
            return
        if not is_rolling_update(d):
            return
        active = [rs for rs in [*old_rss, new_rs] if rs is not None and rs.spec.replicas > 0]
        allowed = d.spec.replicas + max_surge(d) if d.spec.replicas > 0 else 0
        to_add = allowed - replica_count(active)
        if to_add > 0:
            # Largest first; among equals, newer first when growing ...
            active.sort(key=by_creation, reverse=True)
            active.sort(key=lambda rs: rs.spec.replicas, reverse=True)
        elif to_add < 0:
            # ... and older first when shrinking.
            active.sort(key=by_creation)
            active.sort(key=lambda rs: rs.spec.replicas, reverse=True)
        sizes: dict[str, int] = {}
        added = 0
        for rs in active:
            if to_add != 0:
                share = replica_set_proportion(rs, d, to_add, added)
                sizes[rs.metadata.uid] = rs.spec.replicas + share
                added += share
            else:
                sizes[rs.metadata.uid] = rs.spec.replicas
        for i, rs in enumerate(active):
            size = sizes[rs.metadata.uid]
            if i == 0 and to_add != 0:
                size = max(0, size + to_add - added)  # leftovers go to the largest
            await self.scale_replica_set(rs, size)

    async def scaling_needs_rollout(self) -> bool:
        """A scaling event `scale` cannot carry out: a Recreate Deployment
        whose ReplicaSets have several active ones (a rolling update was
        interrupted by the switch to Recreate) and no saturated new one.
        Kubernetes resizes nothing then, so the desired-replicas annotations
        stay stale and every later sync is the same scaling event: the
        Deployment never moves again (kubernetes/kubernetes#125568). Here the
        Recreate rollout takes over: it scales every old ReplicaSet to zero,
        which refreshes their annotations, then sizes the new one."""
        if self.d.spec.strategy.type != "Recreate":
            return False
        new_rs, old_rss = await self.new_and_old(create=False)
        return find_active_or_latest(new_rs, old_rss) is None and not is_saturated(self.d, new_rs)

    async def is_scaling_event(self) -> bool:
        """The Deployment's replicas changed since its active ReplicaSets were sized."""
        new_rs, old_rss = await self.new_and_old(create=False)
        for rs in [*old_rss, new_rs]:
            if rs is None or rs.spec.replicas == 0:
                continue
            desired = desired_replicas_annotation(rs)
            if desired is not None and desired != self.d.spec.replicas:
                return True
        return False

    # -- history -------------------------------------------------------------------------

    async def cleanup(self, old_rss: list[ReplicaSet]) -> None:
        """Delete the oldest old ReplicaSets beyond revisionHistoryLimit."""
        limit = self.d.spec.revision_history_limit
        alive = [rs for rs in old_rss if rs.metadata.deletion_timestamp is None]
        excess = len(alive) - limit
        if excess <= 0:
            return
        for rs in sorted(alive, key=by_revision)[:excess]:
            if (
                rs.status.replicas != 0
                or rs.spec.replicas != 0
                or rs.metadata.generation > rs.status.observed_generation
            ):
                continue
            with contextlib.suppress(NotFound):
                await self.client.delete(
                    ReplicaSet,
                    rs.metadata.name,
                    namespace=rs.metadata.namespace,
                    uid=rs.metadata.uid,
                )

    # -- status ----------------------------------------------------------------------------

    def calculate_status(
        self, all_rss: list[ReplicaSet], new_rs: ReplicaSet | None
    ) -> DeploymentStatus:
        d = self.d
        available = available_replica_count(all_rss)
        unavailable = max(0, replica_count(all_rss) - available)
        status = d.status.model_copy(
            update={
                "observed_generation": d.metadata.generation,
                "replicas": actual_replica_count(all_rss),
                "updated_replicas": updated_replica_count(new_rs),
                "ready_replicas": ready_replica_count(all_rss),
                "available_replicas": available,
                "unavailable_replicas": unavailable,
            }
        )
        now = self.clock.now()
        if available >= d.spec.replicas - max_unavailable(d):
            condition = cond.new_condition(
                cond.AVAILABLE,
                "True",
                cond.MIN_AVAILABLE,
                "Deployment has minimum availability.",
                now,
            )
        else:
            condition = cond.new_condition(
                cond.AVAILABLE,
                "False",
                cond.MIN_UNAVAILABLE,
                "Deployment does not have minimum availability.",
                now,
            )
        return status.model_copy(
            update={"conditions": cond.set_condition(status.conditions, condition)}
        )

    async def sync_status(self, all_rss: list[ReplicaSet], new_rs: ReplicaSet | None) -> None:
        await self.write_status(self.calculate_status(all_rss, new_rs))

    async def sync(self) -> None:
        """Scale (a scaling event, or a paused Deployment), clean up while
        paused, and update the status."""
        new_rs, old_rss = await self.new_and_old(create=False)
        await self.scale(new_rs, old_rss)
        if self.d.spec.paused:
            await self.cleanup(old_rss)
        new_rs = self.latest(new_rs) if new_rs is not None else None
        old_rss = [self.latest(rs) for rs in old_rss]
        await self.sync_status([*old_rss, *([new_rs] if new_rs else [])], new_rs)

    async def check_paused_conditions(self) -> None:
        """Progressing Unknown with DeploymentPaused / DeploymentResumed."""
        d = self.d
        if not cond.has_progress_deadline(d):
            return
        current = d.status.condition(cond.PROGRESSING)
        if current is not None and current.reason == cond.TIMED_OUT:
            return  # lack of progress was reported: keep it
        paused_recorded = current is not None and current.reason == cond.PAUSED
        now = self.clock.now()
        if d.spec.paused and not paused_recorded:
            condition = cond.new_condition(
                cond.PROGRESSING, "Unknown", cond.PAUSED, "Deployment is paused", now
            )
        elif not d.spec.paused and paused_recorded:
            condition = cond.new_condition(
                cond.PROGRESSING, "Unknown", cond.RESUMED, "Deployment is resumed", now
            )
        else:
            return
        await self.write_status(
            d.status.model_copy(
                update={"conditions": cond.set_condition(d.status.conditions, condition)}
            )
        )
