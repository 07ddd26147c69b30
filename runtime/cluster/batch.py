"""Convergence of Jobs and CronJobs, for `Cluster.unconverged()`.

A Job has converged once it is Complete or Failed (`controllers.job`); a
CronJob once no Job it owns is still running past its next start time
(`controllers.cronjob`). The rules themselves live in the controller
packages as pure functions; this module only applies them to the store.

Neighbours: `runtime.cluster.cluster` calls `batch_unconverged`;
`runtime.cluster.workloads` says whether a controller drives the kinds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection
from datetime import datetime

from controllers.cronjob import cronjob_converged
from controllers.job import job_converged
from engine.api import CronJob, Job
from engine.api.base import Resource
from engine.store import Store

__all__ = ["batch_unconverged"]


def batch_unconverged(
    store: Store, now: datetime, undriven: Collection[type[Resource]] = ()
) -> list[str]:
    """One line per Job or CronJob that has not converged (kinds in
    `undriven`, which no running controller drives, are reported elsewhere)."""
    reasons: list[str] = []
    owned: dict[str, list[Job]] = defaultdict(list)
    for job in store.objects(Job):
        ref = job.metadata.controller_ref()
        if ref is not None and ref.kind == "CronJob":
            owned[ref.uid].append(job)
        if Job not in undriven and not job_converged(job):
            s = job.status
            want = job.spec.completions
            reasons.append(
                f"job {job.metadata.namespace}/{job.metadata.name}: {s.succeeded} succeeded"
                f"{f' of {want}' if want is not None else ''}, {s.active} active, {s.failed} failed"
            )
    for cronjob in () if CronJob in undriven else store.objects(CronJob):
        if not cronjob_converged(cronjob, owned.get(cronjob.metadata.uid, []), now):
            meta = cronjob.metadata
            reasons.append(f"cronjob {meta.namespace}/{meta.name}: a Job runs past its schedule")
    return reasons
