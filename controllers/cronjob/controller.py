"""The CronJob controller: creates Jobs on a cron schedule (kube-controller-
manager's cronjob controller v2).

A sync of one CronJob, from the informer caches, on the injected clock:

1. Reconcile `status.active` with the CronJob's Jobs: a finished Job leaves
   it (event SawCompletedJob; a Complete one moves `lastSuccessfulTime`), a
   running Job it owns but does not list joins it, a listed Job that the API
   says is gone leaves it (event MissingJob).
2. Delete finished Jobs beyond `successfulJobsHistoryLimit` (3) and
   `failedJobsHistoryLimit` (1), oldest first (event SuccessfulDelete).
3. Unless suspended: find the most recent start time since the last one (or
   since creation; with `startingDeadlineSeconds`, only within that many
   seconds of now). More than 100 missed start times: a TooManyMissedTimes
   warning and no start (Kubernetes' documented rule); a start time older
   than `startingDeadlineSeconds`: a MissSchedule warning and no start; a
   start time whose Job exists already: nothing to do. Otherwise apply
   `concurrencyPolicy`: Forbid skips the start while a Job runs (event
   JobAlreadyActive), Replace deletes the running Jobs first, Allow runs
   them side by side (under Forbid the API is asked too when the status
   lists no running Job: a lagging cache must not let a second one start);
   then create the Job `<name>-<minutes>` (event SuccessfulCreate) and
   record it in `active` and `lastScheduleTime`.
4. Come back at the next start time (100 ms after it, as Kubernetes does).

An unparseable schedule or time zone (which validation normally refuses) is
reported by a warning event (UnparseableSchedule / UnknownTimeZone) and the
CronJob is left alone. Jobs are deleted with background propagation, so
their pods go with them.

Neighbours: `controllers.cronjob.jobs` (names, Job construction,
convergence), `engine.cron` (schedules), the job controller (runs the Jobs).
"""

from __future__ import annotations

import contextlib
import random
from datetime import datetime, timedelta
from typing import Final

from controllers.common.ownership import (
    CONTROLLER_INDEX,
    controller_or_orphan,
    ensure_indexer,
    resolve_controller,
)
from controllers.cronjob.jobs import finished_condition, job_name, new_job, scheduled_time
from engine.api import CronJob, Job
from engine.api.batch import CronJobStatus
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.cron import Schedule, ScheduleError, parse_schedule
from engine.errors import AlreadyExists, NotFound
from engine.events import EventRecorder, object_reference
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.manager import Manager

__all__ = ["MAX_MISSED_START_TIMES", "CronJobController", "setup"]

MAX_MISSED_START_TIMES: Final = 100
NEXT_SCHEDULE_SLACK: Final = 0.1


class CronJobController:
    """The reconciler of CronJobs; `controller` is its engine `Controller`."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        rng: random.Random | None = None,
        *,
        workers: int = 5,
    ) -> None:
        self.client = client
        self.clock = clock
        self.rng = rng or random.Random(0)
        self.recorder = EventRecorder(client, clock, "cronjob-controller")
        self.cronjobs = factory.informer(CronJob)
        self.jobs = factory.informer(Job)
        ensure_indexer(self.jobs, CONTROLLER_INDEX, controller_or_orphan)
        self.controller = Controller("cronjob", self, clock=clock, workers=workers)
        self.controller.informers.extend((self.cronjobs, self.jobs))
        self.cronjobs.add_event_handler(
            EventHandler(add=self._enqueue, update=self._updated, delete=self._enqueue_deleted)
        )
        self.jobs.add_event_handler(
            EventHandler(
                add=self._job_changed,
                update=self._job_updated,
                delete=self._job_deleted,
            )
        )
        self._schedules: dict[tuple[str, str | None], Schedule] = {}

    def _enqueue(self, cronjob: CronJob) -> None:
        meta = cronjob.metadata
        self.controller.enqueue(Request(CronJob, meta.namespace, meta.name))

    def _updated(self, old: CronJob, new: CronJob) -> None:
        self._enqueue(new)

    def _enqueue_deleted(self, obj: CronJob | DeletedFinalStateUnknown[CronJob]) -> None:
        self._enqueue(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    def _job_changed(self, job: Job) -> None:
        owner = resolve_controller(
            self.cronjobs, job.metadata.namespace, job.metadata.controller_ref()
        )
        if owner is not None:
            self._enqueue(owner)

    def _job_updated(self, old: Job, new: Job) -> None:
        # A CronJob cares about its Jobs finishing, being deleted or changing
        # hands, not about each of their status counts.
        if (
            finished_condition(old) is None
            and finished_condition(new) is None
            and old.metadata.deletion_timestamp == new.metadata.deletion_timestamp
            and old.metadata.owner_references == new.metadata.owner_references
        ):
            return
        self._job_changed(new)

    def _job_deleted(self, obj: Job | DeletedFinalStateUnknown[Job]) -> None:
        self._job_changed(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    # -- reconcile -------------------------------------------------------------------

    async def reconcile(self, request: Request) -> Result:
        cronjob = self.cronjobs.cache.get(request.name, request.namespace)
        if cronjob is None:
            return Result()
        jobs = self.jobs.cache.by_index(CONTROLLER_INDEX, cronjob.metadata.uid)
        now = self.clock.now()
        status = await self._track_jobs(cronjob, jobs)
        jobs = await self._clean_up(cronjob, jobs)
        if cronjob.metadata.deletion_timestamp is not None:
            await self._write_status(cronjob, status)
            return Result()
        schedule = self._schedule(cronjob)
        if schedule is None:
            await self._write_status(cronjob, status)
            return Result()
        if cronjob.spec.suspend:
            await self._write_status(cronjob, status)
            return Result()
        status = await self._maybe_start(cronjob, schedule, status, jobs, now)
        await self._write_status(cronjob, status)
        upcoming = schedule.next_after(now)
        return Result(requeue_after=(upcoming - now).total_seconds() + NEXT_SCHEDULE_SLACK)

    async def _track_jobs(self, cronjob: CronJob, jobs: list[Job]) -> CronJobStatus:
        status = cronjob.status
        active = list(status.active)
        listed = {ref.uid for ref in active}
        last_success = status.last_successful_time
        by_uid = {job.metadata.uid: job for job in jobs}
        for job in jobs:
            finished = finished_condition(job)
            uid = job.metadata.uid
            if finished is None:
                if uid not in listed:
                    active.append(object_reference(job))
                    listed.add(uid)
                continue
            if uid in listed:
                active = [ref for ref in active if ref.uid != uid]
                listed.discard(uid)
                self.recorder.record(
                    cronjob,
                    "Normal",
                    "SawCompletedJob",
                    f"Saw completed job: {job.metadata.name}, condition: {finished.type}",
                )
            if finished.type == "Complete" and job.status.completion_time is not None:
                done = job.status.completion_time
                if last_success is None or done > last_success:
                    last_success = done
        for ref in list(active):
            if ref.uid in by_uid:
                continue
            # Listed but not in the cache: gone, or the cache is behind. Ask.
            try:
                current = await self.client.get(Job, ref.name or "", namespace=ref.namespace)
            except NotFound:
                current = None
            if current is None or current.metadata.uid != ref.uid:
                active = [r for r in active if r.uid != ref.uid]
                self.recorder.record(
                    cronjob, "Normal", "MissingJob", f"Active job went missing: {ref.name}"
                )
        return status.model_copy(update={"active": active, "last_successful_time": last_success})

    async def _clean_up(self, cronjob: CronJob, jobs: list[Job]) -> list[Job]:
        """Delete finished Jobs beyond the history limits; the Jobs left."""
        succeeded: list[Job] = []
        failed: list[Job] = []
        for job in jobs:
            finished = finished_condition(job)
            if finished is not None and job.metadata.deletion_timestamp is None:
                (succeeded if finished.type == "Complete" else failed).append(job)
        doomed: list[Job] = []
        for group, limit in (
            (succeeded, cronjob.spec.successful_jobs_history_limit),
            (failed, cronjob.spec.failed_jobs_history_limit),
        ):
            if len(group) > limit:
                group.sort(key=_start_key)
                doomed.extend(group[: len(group) - limit])
        for job in doomed:
            meta = job.metadata
            try:
                await self.client.delete(
                    Job, meta.name, namespace=meta.namespace, propagation_policy="Background"
                )
            except NotFound:
                continue
            self.recorder.record(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {meta.name}")
        gone = {job.metadata.uid for job in doomed}
        return [job for job in jobs if job.metadata.uid not in gone]

    def _schedule(self, cronjob: CronJob) -> Schedule | None:
        spec = cronjob.spec
        key = (spec.schedule, spec.time_zone)
        cached = self._schedules.get(key)
        if cached is not None:
            return cached
        try:
            schedule = parse_schedule(spec.schedule, spec.time_zone)
        except ScheduleError as error:
            reason = "UnknownTimeZone" if "time zone" in str(error) else "UnparseableSchedule"
            self.recorder.record(cronjob, "Warning", reason, str(error))
            return None
        self._schedules[key] = schedule
        return schedule

    async def _maybe_start(
        self,
        cronjob: CronJob,
        schedule: Schedule,
        status: CronJobStatus,
        jobs: list[Job],
        now: datetime,
    ) -> CronJobStatus:
        spec = cronjob.spec
        earliest = status.last_schedule_time or cronjob.metadata.creation_timestamp or now
        deadline = spec.starting_deadline_seconds
        if deadline is not None:
            window_start = now - timedelta(seconds=deadline)
            if window_start > earliest:
                earliest = window_start
        scheduled, missed = schedule.most_recent(earliest, now, cap=MAX_MISSED_START_TIMES + 1)
        if scheduled is None:
            return status
        if missed > MAX_MISSED_START_TIMES:
            self.recorder.record(
                cronjob,
                "Warning",
                "TooManyMissedTimes",
                f"too many missed start times: {missed}. Set or decrease "
                ".spec.startingDeadlineSeconds or check clock skew",
            )
            return status
        if deadline is not None and scheduled + timedelta(seconds=deadline) < now:
            self.recorder.record(
                cronjob,
                "Warning",
                "MissSchedule",
                f"Missed scheduled time to start a job: {scheduled.isoformat()}",
            )
            return status
        name = job_name(cronjob, scheduled)
        if any(job.metadata.name == name for job in jobs) or any(
            ref.name == name for ref in status.active
        ):
            return status
        if spec.concurrency_policy == "Forbid" and (
            status.active or await self._running_in_api(cronjob)
        ):
            self.recorder.record(
                cronjob,
                "Normal",
                "JobAlreadyActive",
                "Not starting job because prior execution is running and concurrency "
                "policy is Forbid",
            )
            return status
        active = list(status.active)
        if spec.concurrency_policy == "Replace":
            for ref in list(active):
                with contextlib.suppress(NotFound):
                    await self.client.delete(
                        Job,
                        ref.name or "",
                        namespace=ref.namespace,
                        propagation_policy="Background",
                    )
                active = [r for r in active if r.uid != ref.uid]
                self.recorder.record(
                    cronjob, "Normal", "SuccessfulDelete", f"Deleted job {ref.name}"
                )
        try:
            created = await self.client.create(new_job(cronjob, scheduled))
        except AlreadyExists:
            # Made by an earlier sync whose status write was lost: record it.
            created = await self.client.get(Job, name, namespace=cronjob.metadata.namespace)
            owner = created.metadata.controller_ref()
            if owner is None or owner.uid != cronjob.metadata.uid:
                return status
        else:
            self.recorder.record(cronjob, "Normal", "SuccessfulCreate", f"Created job {name}")
        if finished_condition(created) is None and all(
            r.uid != created.metadata.uid for r in active
        ):
            active.append(object_reference(created))
        return status.model_copy(update={"active": active, "last_schedule_time": scheduled})

    async def _running_in_api(self, cronjob: CronJob) -> bool:
        """Whether the API holds an unfinished Job of `cronjob`: under Forbid
        the Job cache (and a status whose write was lost) may not show one
        yet, and starting a second would break the policy."""
        listed = await self.client.list(Job, namespace=cronjob.metadata.namespace)
        uid = cronjob.metadata.uid
        return any(
            (ref := job.metadata.controller_ref()) is not None
            and ref.uid == uid
            and job.metadata.deletion_timestamp is None
            and finished_condition(job) is None
            for job in listed.items
        )

    async def _write_status(self, cronjob: CronJob, status: CronJobStatus) -> None:
        if status == cronjob.status:
            return
        await self.client.update_status(cronjob.model_copy(update={"status": status}))


def _start_key(job: Job) -> tuple[float, str]:
    started = job.status.start_time or scheduled_time(job) or job.metadata.creation_timestamp
    return (started.timestamp() if started is not None else 0.0, job.metadata.name)


def setup(manager: Manager, *, workers: int = 5) -> CronJobController:
    """Create the CronJob controller on `manager`'s informers and add it."""
    controller = CronJobController(
        manager.client, manager.factory, manager.clock, manager.rng, workers=workers
    )
    manager.add(controller.controller)
    manager.add_runnable(controller.recorder.run)
    return controller
