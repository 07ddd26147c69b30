"""The Jobs of a CronJob: their names, how one is made for a start time, which
have finished and how, and when a CronJob counts as converged.

* A Job for the start time `t` is named `<cronjob>-<t in minutes since the
  epoch>` (so one start time can never get two Jobs) and carries the
  `batch.kubernetes.io/cronjob-scheduled-timestamp` annotation (RFC 3339).
* A Job has finished when its Complete or Failed condition is True.
* `cronjob_converged`: no Job the CronJob owns is still running once the
  next start time after its own has passed.

Neighbours: `controllers.cronjob.controller`; `engine.cron` (schedules).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Final

from controllers.common.ownership import new_controller_ref
from engine.api import CronJob, Job, ObjectMeta
from engine.api.batch import JobCondition
from engine.cron import Schedule, ScheduleError, parse_schedule

__all__ = [
    "SCHEDULED_TIMESTAMP_ANNOTATION",
    "cronjob_converged",
    "finished_condition",
    "job_name",
    "new_job",
    "scheduled_time",
]

SCHEDULED_TIMESTAMP_ANNOTATION: Final = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def job_name(cronjob: CronJob, scheduled: datetime) -> str:
    return f"{cronjob.metadata.name}-{int(scheduled.timestamp()) // 60}"


def new_job(cronjob: CronJob, scheduled: datetime) -> Job:
    template = cronjob.spec.job_template
    annotations = {
        **template.metadata.annotations,
        SCHEDULED_TIMESTAMP_ANNOTATION: scheduled.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return Job(
        metadata=ObjectMeta(
            name=job_name(cronjob, scheduled),
            namespace=cronjob.metadata.namespace,
            labels=dict(template.metadata.labels),
            annotations=annotations,
            owner_references=[new_controller_ref(cronjob)],
        ),
        spec=template.spec,
    )


def finished_condition(job: Job) -> JobCondition | None:
    """The True Complete or Failed condition of a finished Job, else None."""
    for condition in job.status.conditions:
        if condition.type in ("Complete", "Failed") and condition.status == "True":
            return condition
    return None


def scheduled_time(job: Job) -> datetime | None:
    """The start time a CronJob's Job was made for (its annotation)."""
    text = job.metadata.annotations.get(SCHEDULED_TIMESTAMP_ANNOTATION)
    if text is None:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def cronjob_converged(cronjob: CronJob, jobs: Iterable[Job], now: datetime) -> bool:
    """No running Job of `cronjob` has outlived its schedule: each unfinished
    Job's next start time is still to come. `jobs` are the CronJob's Jobs."""
    try:
        schedule: Schedule = parse_schedule(cronjob.spec.schedule, cronjob.spec.time_zone)
    except ScheduleError:
        return False
    for job in jobs:
        if finished_condition(job) is not None:
            continue
        started = scheduled_time(job) or job.metadata.creation_timestamp
        if started is None:
            continue
        if schedule.next_after(started) <= now:
            return False
    return True
