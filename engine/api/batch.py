"""The batch/v1 API group: Job and CronJob.

Kubernetes defaults a Job's spec in SetDefaults_Job, which applies to Job
objects only, not to a CronJob's jobTemplate; so JobSpec's defaulted fields
are None here and `engine.api.defaulting` fills them for Jobs (parallelism and
completions 1, backoffLimit 6, completionMode NonIndexed, suspend false,
podReplacementPolicy, labels from the template). CronJob's own defaults are
field defaults (concurrencyPolicy Allow, history limits 3 and 1).

Neighbours: `engine.api.core` (PodTemplateSpec), the job and cronjob controllers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, StrictBool

from engine.api.base import KubeModel, LabelSelector, ObjectMeta, Resource
from engine.api.core import ObjectReference, PodTemplateSpec, find_condition
from engine.api.integers import Int32, Int64
from engine.registry import kind

__all__ = [
    "CronJob",
    "CronJobSpec",
    "CronJobStatus",
    "Job",
    "JobCondition",
    "JobSpec",
    "JobStatus",
    "JobTemplateSpec",
    "PodFailurePolicy",
    "PodFailurePolicyOnExitCodesRequirement",
    "PodFailurePolicyOnPodConditionsPattern",
    "PodFailurePolicyRule",
    "SuccessPolicy",
    "SuccessPolicyRule",
    "UncountedTerminatedPods",
]


class PodFailurePolicyOnExitCodesRequirement(KubeModel):
    operator: str
    values: list[Int32] = Field(default_factory=list)
    container_name: str | None = None


class PodFailurePolicyOnPodConditionsPattern(KubeModel):
    type: str
    status: str = "True"


class PodFailurePolicyRule(KubeModel):
    """FailJob, FailIndex, Ignore or Count when a failed pod matches."""

    action: str
    on_exit_codes: PodFailurePolicyOnExitCodesRequirement | None = None
    on_pod_conditions: list[PodFailurePolicyOnPodConditionsPattern] = Field(default_factory=list)


class PodFailurePolicy(KubeModel):
    rules: list[PodFailurePolicyRule] = Field(default_factory=list)


class SuccessPolicyRule(KubeModel):
    succeeded_indexes: str | None = None
    succeeded_count: Int32 | None = None


class SuccessPolicy(KubeModel):
    rules: list[SuccessPolicyRule] = Field(default_factory=list)


class JobSpec(KubeModel):
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    parallelism: Int32 | None = None
    completions: Int32 | None = None
    active_deadline_seconds: Int64 | None = None
    pod_failure_policy: PodFailurePolicy | None = None
    success_policy: SuccessPolicy | None = None
    backoff_limit: Int32 | None = None
    backoff_limit_per_index: Int32 | None = None
    max_failed_indexes: Int32 | None = None
    selector: LabelSelector | None = None
    manual_selector: StrictBool | None = None
    ttl_seconds_after_finished: Int32 | None = None
    completion_mode: str | None = None
    suspend: StrictBool | None = None
    pod_replacement_policy: str | None = None
    managed_by: str | None = None
    scheduling: dict[str, Any] | None = None


class JobCondition(KubeModel):
    """Complete, Failed, Suspended, FailureTarget, SuccessCriteriaMet."""

    type: str
    status: str
    last_probe_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class UncountedTerminatedPods(KubeModel):
    succeeded: list[str] = Field(default_factory=list)
    failed: list[str] = Field(default_factory=list)


class JobStatus(KubeModel):
    conditions: list[JobCondition] = Field(default_factory=list)
    start_time: datetime | None = None
    completion_time: datetime | None = None
    active: Int32 = 0
    succeeded: Int32 = 0
    failed: Int32 = 0
    terminating: Int32 | None = None
    ready: Int32 | None = None
    completed_indexes: str | None = None
    failed_indexes: str | None = None
    uncounted_terminated_pods: UncountedTerminatedPods | None = None

    def condition(self, condition_type: str) -> JobCondition | None:
        return find_condition(self.conditions, condition_type)


@kind("batch/v1", "Job", plural="jobs", namespaced=True, status_subresource=True)
class Job(Resource):
    spec: JobSpec = Field(default_factory=JobSpec)
    status: JobStatus = Field(default_factory=JobStatus)

    @property
    def is_finished(self) -> bool:
        """A Complete or Failed condition is True."""
        return any(
            c.type in ("Complete", "Failed") and c.status == "True" for c in self.status.conditions
        )


class JobTemplateSpec(KubeModel):
    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: JobSpec = Field(default_factory=JobSpec)


class CronJobSpec(KubeModel):
    schedule: str = ""
    time_zone: str | None = None
    starting_deadline_seconds: Int64 | None = None
    concurrency_policy: str = "Allow"
    suspend: StrictBool = False
    job_template: JobTemplateSpec = Field(default_factory=JobTemplateSpec)
    successful_jobs_history_limit: Int32 = 3
    failed_jobs_history_limit: Int32 = 1


class CronJobStatus(KubeModel):
    active: list[ObjectReference] = Field(default_factory=list)
    last_schedule_time: datetime | None = None
    last_successful_time: datetime | None = None


@kind("batch/v1", "CronJob", plural="cronjobs", namespaced=True, status_subresource=True)
class CronJob(Resource):
    spec: CronJobSpec = Field(default_factory=CronJobSpec)
    status: CronJobStatus = Field(default_factory=CronJobStatus)
