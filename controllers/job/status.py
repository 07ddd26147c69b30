"""Job conditions, the success policy, and when a Job counts as converged.

Conditions follow Kubernetes (1.31+): a Job that has met its success criteria
first gets `SuccessCriteriaMet`, one that must fail first gets
`FailureTarget`; the terminal `Complete` (with `completionTime`) or `Failed`
follows once none of its pods is still running or terminating, and the Job
never changes again. `Suspended` is True while `spec.suspend` holds (reason
JobSuspended) and False after a resume (reason JobResumed).

`job_converged` is the convergence rule of a Job: Complete or Failed.

Neighbours: `controllers.job.controller` writes the conditions; the
cluster's convergence checks call `job_converged`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from controllers.job.indexes import parse_indexes
from engine.api import Job
from engine.api.batch import JobCondition

__all__ = [
    "COMPLETE",
    "FAILED",
    "FAILURE_TARGET",
    "SUCCESS_CRITERIA_MET",
    "SUSPENDED",
    "condition_true",
    "job_converged",
    "set_condition",
    "success_policy_met",
]

COMPLETE: Final = "Complete"
FAILED: Final = "Failed"
FAILURE_TARGET: Final = "FailureTarget"
SUCCESS_CRITERIA_MET: Final = "SuccessCriteriaMet"
SUSPENDED: Final = "Suspended"


def condition_true(job: Job, condition_type: str) -> bool:
    condition = job.status.condition(condition_type)
    return condition is not None and condition.status == "True"


def job_converged(job: Job) -> bool:
    """A Job is converged once it is Complete or Failed."""
    return condition_true(job, COMPLETE) or condition_true(job, FAILED)


def set_condition(
    conditions: Sequence[JobCondition],
    condition_type: str,
    status: str,
    reason: str,
    message: str,
    now: datetime,
) -> list[JobCondition]:
    """`conditions` with `condition_type` set; the transition time moves only
    when the status changes, as in Kubernetes."""
    result: list[JobCondition] = []
    found = False
    for condition in conditions:
        if condition.type != condition_type:
            result.append(condition)
            continue
        found = True
        if condition.status == status and condition.reason == reason:
            result.append(condition)
            continue
        transition = now if condition.status != status else condition.last_transition_time
        result.append(
            condition.model_copy(
                update={
                    "status": status,
                    "reason": reason,
                    "message": message,
                    "last_probe_time": now,
                    "last_transition_time": transition,
                }
            )
        )
    if not found:
        result.append(
            JobCondition(
                type=condition_type,
                status=status,
                reason=reason,
                message=message,
                last_probe_time=now,
                last_transition_time=now,
            )
        )
    return result


def success_policy_met(job: Job, completed: set[int]) -> str | None:
    """The message of the first successPolicy rule the completed indexes meet
    (None when there is no policy or no rule is met)."""
    policy = job.spec.success_policy
    if policy is None:
        return None
    completions = job.spec.completions
    for number, rule in enumerate(policy.rules):
        if rule.succeeded_indexes is not None:
            wanted = parse_indexes(rule.succeeded_indexes, completions)
            done = len(wanted & completed)
            needed = rule.succeeded_count if rule.succeeded_count is not None else len(wanted)
            met = done >= needed and (rule.succeeded_count is not None or wanted <= completed)
        else:
            met = rule.succeeded_count is not None and len(completed) >= rule.succeeded_count
        if met:
            return f"Matched rules at index {number}"
    return None
