"""The Job controller: runs a Job's pods to completion (kube-controller-manager's
job controller).

A sync of one Job, level-triggered from the informer caches:

1. Claim the Job's pods (`controllers.common.ownership`), finished ones too.
2. Track finished pods through the `batch.kubernetes.io/job-tracking`
   finalizer, so no pod is counted twice or lost: a pod that finished and
   still carries the finalizer is first written into
   `status.uncountedTerminatedPods`, then its finalizer is removed, then (in
   the sync's final status write) it moves into `succeeded`/`failed` and, for
   an Indexed Job, `completedIndexes`. Pods whose finalizer this controller
   removed are not looked at again while the cache still shows it.
   Failed pods pass through `spec.podFailurePolicy` first (Ignore: not
   counted; FailJob: the Job fails; FailIndex: the index fails).
3. Decide: the Job fails (FailureTarget) on a FailJob rule, more failures
   than `backoffLimit` (with restartPolicy OnFailure, container restarts in
   running pods count too), more failed indexes than `maxFailedIndexes`, or
   `activeDeadlineSeconds` passed; it succeeds (SuccessCriteriaMet) on its
   success policy or its completions. Either way its remaining pods are
   deleted, and the terminal condition (Complete with completionTime, or
   Failed) is added once none is running or terminating.
4. Otherwise suspend (delete active pods, Suspended=True) or run: create or
   delete pods towards the active count wanted (`parallelism`, bounded by the
   completions left; for an Indexed Job, the lowest pending indexes), after
   the back-off that failures impose (10 s doubling, 6 min cap, counted from
   the last failure since the last success; per index with
   `backoffLimitPerIndex`). With `podReplacementPolicy: Failed` a
   terminating pod is replaced only once it has failed.
5. Write the status: active, ready, terminating, succeeded, failed,
   completedIndexes, failedIndexes, startTime, conditions.

Expectations (`engine.expectations`) keep a sync on a stale pod cache from
creating or deleting again what an earlier one did; a Job older in the cache
than the last status this controller wrote is not acted on (its counts lag
behind pods whose finalizers are already gone). Events are Kubernetes':
SuccessfulCreate, SuccessfulDelete, Completed, BackoffLimitExceeded,
DeadlineExceeded, PodFailurePolicy, MaxFailedIndexesExceeded, FailedIndexes,
Suspended, Resumed.

A pod with the finalizer whose Job is gone (deleted before its pods) gets
the finalizer removed, as Kubernetes' orphan pod sync does.

Decisions where Kubernetes leaves room: pods deleted because the Job was
suspended (and not Failed) are not counted as failures; a Job whose
`spec.managedBy` names another controller is left alone; the terminal
condition waits for terminating pods only on nodes that are Ready (a pod on
a lost node, already counted as failed, stays Terminating until its kubelet
returns, and waiting for it would never end).

Neighbours: `controllers.job.{pods,failures,indexes,status}`; the cronjob
controller creates Jobs; the ttlafterfinished controller deletes finished ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from controllers.common.batches import slow_start_batch
from controllers.common.ownership import (
    CONTROLLER_INDEX,
    claim,
    controller_or_orphan,
    ensure_indexer,
    orphan_key,
    resolve_controller,
)
from controllers.common.pods import is_pod_ready
from controllers.common.ranking import pods_to_delete
from controllers.common.selectors import SelectorCache
from controllers.job.failures import (
    ACTION_FAIL_INDEX,
    ACTION_FAIL_JOB,
    ACTION_IGNORE,
    backoff_delay,
    finish_time,
    is_failed,
    match_failure_policy,
    only_replaces_failed,
)
from controllers.job.indexes import format_indexes, parse_indexes, pod_index
from controllers.job.pods import INDEX_FAILURE_COUNT_ANNOTATION, TRACKING_FINALIZER, PodFactory
from controllers.job.status import (
    COMPLETE,
    FAILED,
    FAILURE_TARGET,
    SUCCESS_CRITERIA_MET,
    SUSPENDED,
    condition_true,
    job_converged,
    set_condition,
    success_policy_met,
)
from engine.api import Job, Node, Pod
from engine.api.batch import JobCondition, JobStatus, UncountedTerminatedPods
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import ApiError, Conflict, NotFound, ServerTimeout
from engine.events import EventRecorder
from engine.expectations import Expectations
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.manager import Manager

__all__ = ["CONTROLLER_NAME", "JobController", "setup"]

CONTROLLER_NAME: Final = "kubernetes.io/job-controller"
"""The `spec.managedBy` value (or none) of Jobs this controller runs."""
BURST: Final = 500
"""At most this many pods are created or deleted by one sync."""
POD_UPDATE_BATCH: Final = 1.0
"""Pod updates within this window coalesce into one sync (syncJobBatchPeriod)."""
EXPECTATIONS_RECHECK: Final = 30.0
STALE_JOB_RECHECK: Final = 1.0
_TERMINAL: Final = frozenset({"Succeeded", "Failed"})

Key = tuple[str, str]

OPEN_INDEX: Final = "job.kubeloop.dev/open-pods"
UID_INDEX: Final = "metadata.uid"


def open_pods(pod: Pod) -> tuple[str, ...]:
    """Index function: the controller's uid for every pod but those that
    Succeeded and were counted (their tracking finalizer gone). A large Job's
    syncs read only these: its thousands of counted pods are looked up when
    needed (by uid, or all of them for a back-off) instead of at every sync."""
    if pod.status.phase == "Succeeded" and TRACKING_FINALIZER not in pod.metadata.finalizers:
        return ()
    ref = pod.metadata.controller_ref()
    return (ref.uid,) if ref is not None else ()


def pod_uid(pod: Pod) -> tuple[str, ...]:
    """Index function: the pod's uid."""
    return (pod.metadata.uid,)


@dataclass(slots=True)
class _Observed:
    """One sync's reading of a Job's pods."""

    active: list[Pod] = field(default_factory=list)
    terminating: list[Pod] = field(default_factory=list)
    new_succeeded: list[Pod] = field(default_factory=list)
    new_failed: list[Pod] = field(default_factory=list)
    finalize: list[Pod] = field(default_factory=list)
    by_uid: dict[str, Pod] = field(default_factory=dict)
    fail_job: str | None = None
    failed_indexes: set[int] = field(default_factory=set)
    index_failures: dict[int, tuple[int, datetime | None]] = field(default_factory=dict)
    completed: set[int] = field(default_factory=set)
    last_success: datetime | None = None
    failures: list[datetime] = field(default_factory=list)


class JobController:
    """The reconciler of Jobs; `controller` is its engine `Controller`."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        rng: random.Random | None = None,
        *,
        workers: int = 5,
        recorder: EventRecorder | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.expectations = Expectations(clock)
        self.recorder = (
            EventRecorder(client, clock, "job-controller") if recorder is None else recorder
        )
        self.jobs = factory.informer(Job)
        self.pods = factory.informer(Pod)
        self.nodes = factory.informer(Node)
        ensure_indexer(self.jobs, CONTROLLER_INDEX, controller_or_orphan)
        ensure_indexer(self.pods, CONTROLLER_INDEX, controller_or_orphan)
        ensure_indexer(self.pods, OPEN_INDEX, open_pods)
        ensure_indexer(self.pods, UID_INDEX, pod_uid)
        self.controller = Controller("job", self, clock=clock, workers=workers)
        self.controller.informers.extend((self.jobs, self.pods, self.nodes))
        self.jobs.add_event_handler(
            EventHandler(add=self._enqueue, update=self._job_updated, delete=self._job_deleted)
        )
        self.pods.add_event_handler(
            EventHandler(add=self._pod_added, update=self._pod_updated, delete=self._pod_deleted)
        )
        self.pod_factory = PodFactory()
        # Per Job uid: pods whose finalizer this controller removed while the
        # cache may still show it (Kubernetes' finalizer expectations).
        self._removed: dict[str, set[str]] = {}
        # Per Job uid: the resourceVersion of the last status this controller
        # wrote. A cached Job older than that lacks counts this controller has
        # moved out of uncountedTerminatedPods while the pods' finalizers are
        # gone: acting on it would run completed work again.
        self._written: dict[str, int] = {}
        # Newest pod cache revision a decision was based on: a relist from a
        # lagging apiserver takes the cache back in time, and acting on it
        # could create again a pod this controller has already seen.
        self._newest_pod_revision = 0
        self._selectors = SelectorCache()

    # -- event handlers ------------------------------------------------------------

    def _enqueue(self, job: Job) -> None:
        self.controller.enqueue(Request(Job, job.metadata.namespace, job.metadata.name))

    def _job_updated(self, old: Job, new: Job) -> None:
        if old.metadata.uid != new.metadata.uid:
            self._job_deleted(old)
        elif old.metadata.generation == new.metadata.generation and int(
            new.metadata.resource_version
        ) == self._written.get(new.metadata.uid):
            return  # the echo of this controller's own status write: nothing new
        self._enqueue(new)

    def _job_deleted(self, obj: Job | DeletedFinalStateUnknown[Job]) -> None:
        job = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        uid = job.metadata.uid
        self.expectations.forget(job.key)
        self._removed.pop(uid, None)
        self._written.pop(uid, None)
        self._selectors.forget(uid)
        self.pod_factory.forget(uid)
        self._enqueue(job)
        for pod in self.pods.cache.by_index(CONTROLLER_INDEX, uid):
            if TRACKING_FINALIZER in pod.metadata.finalizers:
                self._enqueue_orphan(pod)

    def _enqueue_orphan(self, pod: Pod) -> None:
        """A pod carrying the tracking finalizer whose Job is gone (or that has
        none): only this controller can let it go."""
        self.controller.enqueue(Request(Pod, pod.metadata.namespace, pod.metadata.name))

    def _owner(self, pod: Pod) -> Job | None:
        return resolve_controller(self.jobs, pod.metadata.namespace, pod.metadata.controller_ref())

    def _pod_added(self, pod: Pod) -> None:
        job = self._owner(pod)
        if job is None:
            if TRACKING_FINALIZER in pod.metadata.finalizers:
                self._enqueue_orphan(pod)
            return
        if pod.metadata.deletion_timestamp is not None:
            self.expectations.deletion_observed(job.key, pod.metadata.uid)
        else:
            self.expectations.creation_observed(job.key)
        self._enqueue(job)

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        if old.metadata.resource_version == new.metadata.resource_version:
            return
        job = self._owner(new)
        if job is None:
            previous = self._owner(old)
            if previous is not None:
                self._enqueue(previous)
            if TRACKING_FINALIZER in new.metadata.finalizers:
                self._enqueue_orphan(new)
            return
        if TRACKING_FINALIZER not in new.metadata.finalizers:
            removed = self._removed.get(job.metadata.uid)
            if removed is not None:
                removed.discard(new.metadata.uid)
        if new.metadata.deletion_timestamp is not None and old.metadata.deletion_timestamp is None:
            self.expectations.deletion_observed(job.key, new.metadata.uid)
            self._enqueue(job)
            return
        if new.status.phase != old.status.phase and new.status.phase in _TERMINAL:
            # A finished pod frees a slot: look soon, but let a burst coalesce.
            self.controller.queue.add_after(
                Request(Job, job.metadata.namespace, job.metadata.name), POD_UPDATE_BATCH
            )
            return
        self.controller.queue.add_after(
            Request(Job, job.metadata.namespace, job.metadata.name), POD_UPDATE_BATCH
        )

    def _pod_deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        pod = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        job = self._owner(pod)
        if job is None:
            return
        self.expectations.deletion_observed(job.key, pod.metadata.uid)
        removed = self._removed.get(job.metadata.uid)
        if removed is not None:
            removed.discard(pod.metadata.uid)
        self._enqueue(job)

    # -- reconcile -------------------------------------------------------------------

    def _pod_cache_current(self) -> bool:
        """False while the pod cache is older than one already acted on."""
        revision = self.pods.last_revision
        if revision < self._newest_pod_revision:
            return False
        self._newest_pod_revision = revision
        return True

    async def reconcile(self, request: Request) -> Result:
        if request.kind is Pod:
            await self._release_orphan(request)
            return Result()
        key: Key = (request.namespace, request.name)
        job = self.jobs.cache.get(request.name, request.namespace)
        if job is None:
            self.expectations.forget(key)
            return Result()
        if job.spec.managed_by not in (None, CONTROLLER_NAME):
            return Result()
        if int(job.metadata.resource_version) < self._written.get(job.metadata.uid, 0):
            # The cache has not caught up with this controller's last status
            # write: its update event will bring the Job back here.
            return Result(requeue_after=STALE_JOB_RECHECK)
        pods = await self._claim(job)
        removed = self._removed.setdefault(job.metadata.uid, set())
        if job_converged(job):
            # Finished: every pod was counted; only finalizers may be left.
            leftover = [
                p
                for p in pods
                if TRACKING_FINALIZER in p.metadata.finalizers and p.metadata.uid not in removed
            ]
            _, error = await self._remove_finalizers(leftover, removed)
            if error is not None:
                raise error
            return Result()
        now = self.clock.now()
        seen = self._observe(job, pods, removed)
        job = await self._record_uncounted(job, seen, now)
        finalized, finalize_error = await self._remove_finalizers(seen.finalize, removed)
        status, counted_completed = self._count(job, seen, finalized)
        return await self._decide(key, job, seen, status, counted_completed, now, finalize_error)

    async def _claim(self, job: Job) -> list[Pod]:
        """The Job's pods but those counted already (`open_pods`): orphans it
        adopts and its own unfinished ones still matching its selector
        (`claim`), plus its own finished pods, taken as they are (a finished
        pod relabelled is still counted, and a Job of 10,000 completions need
        not match 10,000 label sets per sync)."""
        cache = self.pods.cache
        finished: list[Pod] = []
        candidates: list[Pod] = []
        for pod in cache.by_index(OPEN_INDEX, job.metadata.uid):
            phase = pod.status.phase
            if phase == "Succeeded" or phase == "Failed":
                finished.append(pod)
                continue
            candidates.append(pod)
        orphans = cache.by_index(CONTROLLER_INDEX, orphan_key(job.metadata.namespace))
        if orphans:
            candidates.extend(orphans)
        claimed = await claim(
            self.client, job, self._selectors.of(job.metadata.uid, job.spec.selector), candidates
        )
        if claimed.errors:
            raise claimed.errors[0]
        return claimed.claimed + finished if finished else claimed.claimed

    def _counted(self, job: Job) -> list[Pod]:
        """The Job's own pods that Succeeded and were counted (not in `_claim`'s)."""
        return [
            p
            for p in self.pods.cache.by_index(CONTROLLER_INDEX, job.metadata.uid)
            if not open_pods(p)
        ]

    def _counted_by_uid(self, job: Job, uid: str) -> Pod | None:
        for pod in self.pods.cache.by_index(UID_INDEX, uid):
            ref = pod.metadata.controller_ref()
            if ref is not None and ref.uid == job.metadata.uid and not open_pods(pod):
                return pod
        return None

    async def _release_orphan(self, request: Request) -> None:
        """Remove the tracking finalizer from a pod whose Job no longer exists
        (Kubernetes' syncOrphanPod); a Job the cache lacks is asked for first."""
        pod = self.pods.cache.get(request.name, request.namespace)
        if pod is None or TRACKING_FINALIZER not in pod.metadata.finalizers:
            return
        ref = pod.metadata.controller_ref()
        if ref is not None and ref.kind == "Job":
            if self._owner(pod) is not None:
                return  # its Job's syncs take care of it
            try:
                current = await self.client.get(Job, ref.name, namespace=request.namespace)
            except NotFound:
                current = None
            if current is not None and current.metadata.uid == ref.uid:
                return  # the cache is behind: the Job's events will come
        _, error = await self._remove_finalizers([pod], set())
        if error is not None:
            # Retried (rate limited): a Conflict means the cached pod was
            # stale, and once the pod has stopped changing no event would
            # bring it back here; its finalizer would hold it for ever.
            raise error

    def _observe(self, job: Job, pods: list[Pod], removed: set[str]) -> _Observed:
        seen = _Observed()
        uncounted = job.status.uncounted_terminated_pods or UncountedTerminatedPods()
        uncounted_s = set(uncounted.succeeded)
        uncounted_f = set(uncounted.failed)
        completions = job.spec.completions
        indexed = job.spec.completion_mode == "Indexed"
        per_index = job.spec.backoff_limit_per_index
        suspended = bool(job.spec.suspend)
        succeeded: list[Pod] = []
        for pod in pods:
            meta = pod.metadata
            uid = meta.uid
            phase = pod.status.phase
            if meta.deletion_timestamp is None and phase != "Succeeded" and phase != "Failed":
                seen.active.append(pod)  # the common case first: a running pod
                continue
            if phase == "Succeeded" and TRACKING_FINALIZER not in meta.finalizers:
                # Counted already: the bulk of a large Job's pods.
                succeeded.append(pod)
                if uid in uncounted_s:
                    seen.by_uid[uid] = pod
                continue
            seen.by_uid[uid] = pod
            tracked = TRACKING_FINALIZER in meta.finalizers and uid not in removed
            if phase == "Succeeded" and uid in uncounted_f:
                # Counted as failed when its Job failed, before it stopped (as
                # Kubernetes counts every unfinished pod of a finished Job).
                if tracked:
                    seen.finalize.append(pod)
                continue
            if phase == "Succeeded":
                succeeded.append(pod)
                if tracked:
                    # Untracked ones were counted already (status.completedIndexes).
                    index = pod_index(pod, completions) if indexed else None
                    if index is not None:
                        seen.completed.add(index)
                    if uid not in uncounted_s:
                        seen.new_succeeded.append(pod)
                    seen.finalize.append(pod)
                continue
            if not is_failed(pod, job):
                seen.terminating.append(pod)  # terminating, replaced once Failed
                continue
            if phase != "Failed":
                seen.terminating.append(pod)
            matched = match_failure_policy(job, pod)
            action = matched[0] if matched is not None else None
            by_suspension = suspended and phase != "Failed"
            counted = action != ACTION_IGNORE and not by_suspension
            if counted:
                done = finish_time(pod)
                if done is not None:
                    seen.failures.append(done)
                index = pod_index(pod, completions) if indexed else None
                if index is not None:
                    self._note_index_failure(seen, pod, index, per_index, action)
            if tracked:
                if uid in uncounted_f or not counted:
                    seen.finalize.append(pod)
                else:
                    seen.new_failed.append(pod)
                    seen.finalize.append(pod)
                    if action == ACTION_FAIL_JOB and seen.fail_job is None:
                        seen.fail_job = matched[1] if matched is not None else ""
        for uid in uncounted_s:
            if uid not in seen.by_uid:
                # Counted since (its finalizer is gone): `_count` still reads it.
                found = self._counted_by_uid(job, uid)
                if found is not None:
                    seen.by_uid[uid] = found
        if seen.failures:
            # Only back-off needs the last success: finish times cost a scan.
            succeeded.extend(self._counted(job))
            times = [t for p in succeeded if (t := finish_time(p)) is not None]
            seen.last_success = max(times) if times else None
        return seen

    @staticmethod
    def _note_index_failure(
        seen: _Observed, pod: Pod, index: int, per_index: int | None, action: str | None
    ) -> None:
        text = pod.metadata.annotations.get(INDEX_FAILURE_COUNT_ANNOTATION, "0")
        count = (int(text) if text.isdigit() else 0) + 1
        done = finish_time(pod)
        known = seen.index_failures.get(index)
        if known is None or count > known[0]:
            seen.index_failures[index] = (count, done)
        if per_index is not None and (action == ACTION_FAIL_INDEX or count > per_index):
            seen.failed_indexes.add(index)

    async def _record_uncounted(self, job: Job, seen: _Observed, now: datetime) -> Job:
        """Write newly finished pods into uncountedTerminatedPods (and a
        FailJob verdict) before any finalizer is removed."""
        if not seen.new_succeeded and not seen.new_failed:
            return job
        uncounted = job.status.uncounted_terminated_pods or UncountedTerminatedPods()
        update = UncountedTerminatedPods(
            succeeded=[*uncounted.succeeded, *(p.metadata.uid for p in seen.new_succeeded)],
            failed=[*uncounted.failed, *(p.metadata.uid for p in seen.new_failed)],
        )
        conditions = job.status.conditions
        if seen.fail_job is not None and not condition_true(job, FAILURE_TARGET):
            conditions = set_condition(
                conditions, FAILURE_TARGET, "True", "PodFailurePolicy", seen.fail_job, now
            )
        status = job.status.model_copy(
            update={"uncounted_terminated_pods": update, "conditions": conditions}
        )
        return await self._write_status(job, status)

    async def _remove_finalizers(
        self, pods: list[Pod], removed: set[str]
    ) -> tuple[set[str], ApiError | None]:
        """Remove the tracking finalizer from `pods`: an update of the cached
        pod (an update costs far less than a patch's JSON round trip). Returns
        the uids done and the first error: a stale cached pod's Conflict too,
        so the sync is retried (the pod event that made the cache fresh may
        already have been handled, and nothing else would bring it back)."""
        done: set[str] = set()
        first_error: ApiError | None = None
        for pod in pods:
            meta = pod.metadata
            finalizers = [f for f in meta.finalizers if f != TRACKING_FINALIZER]
            try:
                await self.client.update(
                    pod.model_copy(
                        update={"metadata": meta.model_copy(update={"finalizers": finalizers})}
                    )
                )
            except NotFound:
                pass
            except ApiError as error:
                if first_error is None:
                    first_error = error
                continue
            done.add(meta.uid)
            removed.add(meta.uid)
        return done, first_error

    def _count(self, job: Job, seen: _Observed, finalized: set[str]) -> tuple[JobStatus, set[int]]:
        """The status with every uncounted pod whose finalizer is gone moved
        into the counters; also the completed indexes counted so far."""
        status = job.status
        uncounted = status.uncounted_terminated_pods or UncountedTerminatedPods()
        completions = job.spec.completions
        indexed = job.spec.completion_mode == "Indexed"

        def released(uid: str) -> bool:
            pod = seen.by_uid.get(uid)
            return (
                uid in finalized or pod is None or TRACKING_FINALIZER not in pod.metadata.finalizers
            )

        moved_s = [u for u in uncounted.succeeded if released(u)]
        moved_f = [u for u in uncounted.failed if released(u)]
        completed = parse_indexes(status.completed_indexes, completions) if indexed else set()
        succeeded = status.succeeded
        if indexed:
            for uid in moved_s:
                pod = seen.by_uid.get(uid)
                index = pod_index(pod, completions) if pod is not None else None
                if index is not None:
                    completed.add(index)
            succeeded = len(completed)
        else:
            succeeded += len(moved_s)
        moved_s_set, moved_f_set = set(moved_s), set(moved_f)
        remaining = UncountedTerminatedPods(
            succeeded=[u for u in uncounted.succeeded if u not in moved_s_set],
            failed=[u for u in uncounted.failed if u not in moved_f_set],
        )
        update: dict[str, object] = {
            "succeeded": succeeded,
            "failed": status.failed + len(moved_f),
            "uncounted_terminated_pods": remaining,
        }
        if indexed:
            update["completed_indexes"] = format_indexes(completed)
        return status.model_copy(update=update), completed

    async def _decide(
        self,
        key: Key,
        job: Job,
        seen: _Observed,
        status: JobStatus,
        counted_completed: set[int],
        now: datetime,
        finalize_error: ApiError | None,
    ) -> Result:
        spec = job.spec
        indexed = spec.completion_mode == "Indexed"
        completions = spec.completions
        per_index = spec.backoff_limit_per_index
        uncounted = status.uncounted_terminated_pods or UncountedTerminatedPods()
        completed = counted_completed | seen.completed
        failed_indexes = parse_indexes(job.status.failed_indexes, completions) | (
            seen.failed_indexes - completed
        )
        succeeded_total = len(completed) if indexed else status.succeeded + len(uncounted.succeeded)
        failed_total = status.failed + len(uncounted.failed)
        conditions = status.conditions
        start_time = status.start_time
        suspended = bool(spec.suspend)
        wait: float | None = None

        failing = condition_true(job, FAILURE_TARGET)
        succeeding = condition_true(job, SUCCESS_CRITERIA_MET)
        if not failing and not succeeding:
            verdict = self._verdict(
                job, seen, completed, failed_indexes, succeeded_total, failed_total, now
            )
            if verdict is not None:
                condition_type, reason, message = verdict
                conditions = set_condition(conditions, condition_type, "True", reason, message, now)
                failing = condition_type == FAILURE_TARGET
                succeeding = not failing
            elif (
                spec.active_deadline_seconds is not None
                and start_time is not None
                and not suspended
            ):
                deadline = start_time + timedelta(seconds=spec.active_deadline_seconds)
                wait = max((deadline - now).total_seconds(), 0.0) + 0.001

        manage_error: Exception | None = None
        current = self._pod_cache_current()
        satisfied = current and self.expectations.satisfied(key)
        if not current:
            wait = STALE_JOB_RECHECK if wait is None else min(wait, STALE_JOB_RECHECK)
        if failing or succeeding:
            if seen.active and satisfied:
                manage_error = await self._delete(key, job, seen.active, len(seen.active))
            if failing:
                # Every pod of a failed Job not finished yet counts as failed,
                # now, whatever phase it stops in (Kubernetes'
                # trackJobStatusAndRemoveFinalizers with a finished condition).
                uncounted = _count_as_failed(uncounted, [*seen.active, *seen.terminating])
                status = status.model_copy(update={"uncounted_terminated_pods": uncounted})
            stopping = [p for p in seen.terminating if self._node_ready(p)]
            remaining = bool(seen.active or stopping or uncounted.succeeded or uncounted.failed)
            if not remaining:
                conditions = self._finish(job, conditions, failing, now)
        elif suspended:
            if seen.active and satisfied:
                manage_error = await self._delete(key, job, seen.active, len(seen.active))
            if not condition_true(job, SUSPENDED):
                conditions = set_condition(
                    conditions, SUSPENDED, "True", "JobSuspended", "Job suspended", now
                )
                self.recorder.record(job, "Normal", "Suspended", "Job suspended")
        else:
            if condition_true(job, SUSPENDED):
                conditions = set_condition(
                    conditions, SUSPENDED, "False", "JobResumed", "Job resumed", now
                )
                self.recorder.record(job, "Normal", "Resumed", "Job resumed")
                start_time = now
            if start_time is None:
                start_time = now
            if satisfied:
                try:
                    backoff = await self._manage(
                        key, job, seen, completed, failed_indexes, succeeded_total, now
                    )
                except ApiError as error:
                    manage_error = error
                    backoff = None
                if backoff is not None:
                    wait = backoff if wait is None else min(wait, backoff)
            else:
                wait = EXPECTATIONS_RECHECK if wait is None else min(wait, EXPECTATIONS_RECHECK)
            if spec.active_deadline_seconds is not None and job.status.start_time is None:
                first = spec.active_deadline_seconds + 0.001
                wait = first if wait is None else min(wait, first)

        update: dict[str, object] = {
            "conditions": conditions,
            "start_time": start_time,
            "active": len(seen.active),
            "ready": sum(1 for p in seen.active if is_pod_ready(p)),
            "terminating": len(seen.terminating),
        }
        if per_index is not None:
            update["failed_indexes"] = format_indexes(failed_indexes)
        if any(c.type == COMPLETE and c.status == "True" for c in conditions):
            update["completion_time"] = now
        new_status = status.model_copy(update=update)
        if new_status != job.status:
            await self._write_status(job, new_status)
        if finalize_error is not None:
            raise finalize_error
        if manage_error is not None:
            raise manage_error
        return Result(requeue_after=wait) if wait is not None else Result()

    def _verdict(
        self,
        job: Job,
        seen: _Observed,
        completed: set[int],
        failed_indexes: set[int],
        succeeded_total: int,
        failed_total: int,
        now: datetime,
    ) -> tuple[str, str, str] | None:
        """(condition, reason, message) when the Job has just failed or
        succeeded; None while it runs on."""
        spec = job.spec
        per_index = spec.backoff_limit_per_index
        if seen.fail_job is not None:
            return FAILURE_TARGET, "PodFailurePolicy", seen.fail_job
        if per_index is None and (
            failed_total > (spec.backoff_limit or 0) or _restarts_past_limit(job, seen.active)
        ):
            return (
                FAILURE_TARGET,
                "BackoffLimitExceeded",
                "Job has reached the specified backoff limit",
            )
        max_failed = spec.max_failed_indexes
        if per_index is not None and max_failed is not None and len(failed_indexes) > max_failed:
            return (
                FAILURE_TARGET,
                "MaxFailedIndexesExceeded",
                "Job has exceeded the specified maximal number of failed indexes",
            )
        start = job.status.start_time
        deadline = spec.active_deadline_seconds
        if (
            deadline is not None
            and start is not None
            and not spec.suspend
            and (now - start).total_seconds() >= deadline
        ):
            return (
                FAILURE_TARGET,
                "DeadlineExceeded",
                "Job was active longer than specified deadline",
            )
        completions = spec.completions
        reached = "Reached expected number of succeeded pods"
        if spec.completion_mode == "Indexed":
            matched = success_policy_met(job, completed)
            if matched is not None:
                return SUCCESS_CRITERIA_MET, "SuccessPolicy", matched
            if completions is not None and len(completed) >= completions:
                return SUCCESS_CRITERIA_MET, "CompletionsReached", reached
            if (
                per_index is not None
                and failed_indexes
                and completions is not None
                and len(completed | failed_indexes) >= completions
            ):
                return FAILURE_TARGET, "FailedIndexes", "Job has failed indexes"
            return None
        if completions is not None:
            if succeeded_total >= completions:
                return SUCCESS_CRITERIA_MET, "CompletionsReached", reached
            return None
        if succeeded_total > 0 and not seen.active:
            return SUCCESS_CRITERIA_MET, "CompletionsReached", reached
        return None

    def _finish(
        self, job: Job, conditions: list[JobCondition], failing: bool, now: datetime
    ) -> list[JobCondition]:
        if failing:
            target = next(c for c in conditions if c.type == FAILURE_TARGET)
            reason = target.reason or "BackoffLimitExceeded"
            message = target.message or ""
            self.recorder.record(job, "Warning", reason, message)
            return set_condition(conditions, FAILED, "True", reason, message, now)
        target = next(c for c in conditions if c.type == SUCCESS_CRITERIA_MET)
        self.recorder.record(job, "Normal", "Completed", "Job completed")
        reason = target.reason or "CompletionsReached"
        return set_condition(conditions, COMPLETE, "True", reason, target.message or "", now)

    # -- pods ------------------------------------------------------------------------

    async def _manage(
        self,
        key: Key,
        job: Job,
        seen: _Observed,
        completed: set[int],
        failed_indexes: set[int],
        succeeded_total: int,
        now: datetime,
    ) -> float | None:
        """Create or delete pods towards the active count wanted. Returns how
        long until a back-off ends (when pods wait for one)."""
        spec = job.spec
        parallelism = spec.parallelism if spec.parallelism is not None else 1
        completions = spec.completions
        replace_failed_only = only_replaces_failed(job)
        if spec.completion_mode == "Indexed" and completions is not None:
            return await self._manage_indexed(
                key, job, seen, completed, failed_indexes, parallelism, completions, now
            )
        if completions is not None:
            want = min(parallelism, max(completions - succeeded_total, 0))
        elif succeeded_total > 0:
            # A work queue: once one pod succeeded, no new pod starts and the
            # running ones are left to finish.
            want = len(seen.active)
        else:
            want = parallelism
        busy = len(seen.active) + (len(seen.terminating) if replace_failed_only else 0)
        if len(seen.active) > want:
            error = await self._delete(key, job, seen.active, len(seen.active) - want)
            if error is not None:
                raise error
            return None
        missing = min(want - busy, BURST)
        if missing <= 0:
            return None
        wait = self._backoff_wait(seen.failures, seen.last_success, now)
        if wait > 0:
            return wait
        await self._create(key, job, iter([(None, None)] * missing), missing)
        return None

    async def _manage_indexed(
        self,
        key: Key,
        job: Job,
        seen: _Observed,
        completed: set[int],
        failed_indexes: set[int],
        parallelism: int,
        completions: int,
        now: datetime,
    ) -> float | None:
        per_index = job.spec.backoff_limit_per_index
        holders: dict[int, list[Pod]] = {}
        extra: list[Pod] = []
        for pod in seen.active:
            index = pod_index(pod, completions)
            if index is None or index in completed or index in failed_indexes:
                extra.append(pod)
            else:
                holders.setdefault(index, []).append(pod)
        for index in sorted(holders):
            pods = holders[index]
            if len(pods) > 1:
                # Two pods for one index: keep the one furthest along.
                keep = max(pods, key=lambda p: (is_pod_ready(p), _age_key(p)))
                extra.extend(p for p in pods if p is not keep)
                holders[index] = [keep]
        left = completions - len(completed | failed_indexes)
        want = min(parallelism, max(left, 0))
        surplus = len(holders) - want
        if surplus > 0:
            for index in sorted(holders, reverse=True)[:surplus]:
                extra.extend(holders.pop(index))
        if extra:
            error = await self._delete(key, job, extra, len(extra))
            if error is not None:
                raise error
        busy = set(holders)
        if only_replaces_failed(job):
            for pod in seen.terminating:
                index = pod_index(pod, completions)
                if index is not None:
                    busy.add(index)
        room = min(want - len(holders), BURST)
        if room <= 0:
            return None
        global_wait = 0.0
        if per_index is None:
            global_wait = self._backoff_wait(seen.failures, seen.last_success, now)
            if global_wait > 0:
                return global_wait
        chosen: list[tuple[int | None, int | None]] = []
        soonest: float | None = None
        for index in range(completions):
            if len(chosen) >= room:
                break
            if index in completed or index in failed_indexes or index in busy:
                continue
            failures = seen.index_failures.get(index)
            count: int | None = None
            if per_index is not None:
                count = failures[0] if failures is not None else 0
                if failures is not None and failures[1] is not None:
                    ready_at = failures[1] + timedelta(seconds=backoff_delay(failures[0]))
                    remaining = (ready_at - now).total_seconds()
                    if remaining > 0:
                        soonest = remaining if soonest is None else min(soonest, remaining)
                        continue
            chosen.append((index, count))
        if chosen:
            await self._create(key, job, iter(chosen), len(chosen))
        return soonest

    @staticmethod
    def _backoff_wait(
        failures: list[datetime], last_success: datetime | None, now: datetime
    ) -> float:
        """Seconds left of the back-off the failures since the last success impose."""
        recent = [t for t in failures if last_success is None or t > last_success]
        if not recent:
            return 0.0
        ready_at = max(recent) + timedelta(seconds=backoff_delay(len(recent)))
        return max((ready_at - now).total_seconds(), 0.0)

    async def _create(
        self, key: Key, job: Job, slots: Iterator[tuple[int | None, int | None]], count: int
    ) -> None:
        self.expectations.expect_creations(key, count)
        factory = self.pod_factory
        client = self.client
        recorder = self.recorder

        async def create_one() -> None:
            index, failure_count = next(slots)
            try:
                pod = await client.create(factory.new_pod(job, index, failure_count))
            except ServerTimeout:
                return  # perhaps created: its event is expected like any other's
            recorder.record(job, "Normal", "SuccessfulCreate", f"Created pod: {pod.metadata.name}")

        successes, error = await slow_start_batch(count, create_one)
        for _ in range(count - successes):
            self.expectations.creation_observed(key)
        if error is not None:
            recorder.record(job, "Warning", "FailedCreate", f"Error creating: {error}")
            raise error

    async def _delete(self, key: Key, job: Job, pods: list[Pod], count: int) -> ApiError | None:
        victims = pods_to_delete(pods, pods, min(count, BURST), self.clock.now())
        self.expectations.expect_deletions(key, [p.metadata.uid for p in victims])
        first_error: ApiError | None = None
        for pod in victims:
            meta = pod.metadata
            try:
                await self.client.delete(Pod, meta.name, namespace=meta.namespace, uid=meta.uid)
            except (NotFound, Conflict):
                self.expectations.deletion_observed(key, meta.uid)
                continue
            except ServerTimeout:
                continue
            except ApiError as error:
                self.expectations.deletion_observed(key, meta.uid)
                if first_error is None:
                    first_error = error
                continue
            self.recorder.record(job, "Normal", "SuccessfulDelete", f"Deleted pod: {meta.name}")
        return first_error

    # -- helpers ---------------------------------------------------------------------

    def _node_ready(self, pod: Pod) -> bool:
        """Whether the pod's node (if any) is Ready: only then can its kubelet
        finish a terminating pod."""
        name = pod.spec.node_name
        if not name:
            return False
        node = self.nodes.cache.get(name)
        if node is None:
            return False
        return any(c.type == "Ready" and c.status == "True" for c in node.status.conditions)

    async def _write_status(self, job: Job, status: JobStatus) -> Job:
        """Write `status`; a conflict (a stale Job) is raised and the sync retried."""
        written = await self.client.update_status(job.model_copy(update={"status": status}))
        self._written[written.metadata.uid] = int(written.metadata.resource_version)
        return written


def _restarts_past_limit(job: Job, active: list[Pod]) -> bool:
    """With restartPolicy OnFailure a failing container restarts in its pod:
    the restarts of running and pending pods count towards backoffLimit."""
    if job.spec.template.spec.restart_policy != "OnFailure":
        return False
    restarts = sum(
        status.restart_count
        for pod in active
        if pod.status.phase in ("Running", "Pending")
        for status in (*pod.status.init_container_statuses, *pod.status.container_statuses)
    )
    limit = job.spec.backoff_limit or 0
    return restarts > 0 if limit == 0 else restarts >= limit


def _age_key(pod: Pod) -> float:
    created = pod.metadata.creation_timestamp
    return -created.timestamp() if created is not None else 0.0


def setup(manager: Manager, *, workers: int = 5) -> JobController:
    """Create the Job controller on `manager`'s informers and add it."""
    jc = JobController(manager.client, manager.factory, manager.clock, manager.rng, workers=workers)
    manager.add(jc.controller)
    manager.add_runnable(jc.recorder.run)
    return jc


def _count_as_failed(
    uncounted: UncountedTerminatedPods, pods: list[Pod]
) -> UncountedTerminatedPods:
    """`uncounted` with the tracked `pods` not in it yet added as failed."""
    known = set(uncounted.failed) | set(uncounted.succeeded)
    new = [
        p.metadata.uid
        for p in pods
        if p.metadata.uid not in known and TRACKING_FINALIZER in p.metadata.finalizers
    ]
    if not new:
        return uncounted
    return uncounted.model_copy(update={"failed": [*uncounted.failed, *new]})
