"""Which finished pods count as failed, what a Job's podFailurePolicy says
about one, and how long to back off before replacing failed pods.

* `is_failed`: phase Failed; or, unless the Job only replaces Failed pods
  (`podReplacementPolicy: Failed`, the default with a podFailurePolicy), a
  pod marked for deletion that has not succeeded: it may never get to say how
  it ended (its node is gone), so it counts as failed at once (Kubernetes'
  `isPodFailed`).
* `match_failure_policy`: the first rule of `spec.podFailurePolicy` that a
  Failed pod matches, as (action, message): `onExitCodes` looks at the
  terminated containers (init and app; exit code 0 never matches, and
  `containerName` narrows it to one), `onPodConditions` at the pod's
  conditions (e.g. DisruptionTarget=True). No match means Count.
* `backoff_delay`: 10 s doubling per consecutive failure, capped at 6 min
  (Kubernetes' DefaultJobPodFailureBackOff / MaxJobPodFailureBackOff).
* `finish_time`: when a pod finished (its last container's finishedAt, else
  when it stopped being ready, else its deletion or creation time).

Neighbours: `controllers.job.controller` calls these for every newly
finished pod.
"""

from __future__ import annotations

from datetime import datetime
from typing import Final

from engine.api import Job, Pod
from engine.api.batch import PodFailurePolicyRule

__all__ = [
    "ACTION_COUNT",
    "ACTION_FAIL_INDEX",
    "ACTION_FAIL_JOB",
    "ACTION_IGNORE",
    "BACKOFF_BASE",
    "BACKOFF_MAX",
    "backoff_delay",
    "finish_time",
    "is_failed",
    "match_failure_policy",
]

ACTION_FAIL_JOB: Final = "FailJob"
ACTION_FAIL_INDEX: Final = "FailIndex"
ACTION_IGNORE: Final = "Ignore"
ACTION_COUNT: Final = "Count"
BACKOFF_BASE: Final = 10.0
BACKOFF_MAX: Final = 360.0


def only_replaces_failed(job: Job) -> bool:
    return job.spec.pod_replacement_policy == "Failed" or (
        job.spec.pod_replacement_policy is None and job.spec.pod_failure_policy is not None
    )


def is_failed(pod: Pod, job: Job) -> bool:
    phase = pod.status.phase
    if phase == "Failed":
        return True
    if only_replaces_failed(job):
        return False
    return pod.metadata.deletion_timestamp is not None and phase != "Succeeded"


def match_failure_policy(job: Job, pod: Pod) -> tuple[str, str] | None:
    """(action, message) of the first podFailurePolicy rule the Failed `pod`
    matches; None when no rule does (or the pod is not Failed)."""
    policy = job.spec.pod_failure_policy
    if policy is None or pod.status.phase != "Failed":
        return None
    for number, rule in enumerate(policy.rules):
        why = _rule_matches(rule, pod)
        if why is not None:
            meta = pod.metadata
            message = (
                f"{why} for pod {meta.namespace}/{meta.name} "
                f"matching {rule.action} rule at index {number}"
            )
            return rule.action, message
    return None


def _rule_matches(rule: PodFailurePolicyRule, pod: Pod) -> str | None:
    exit_codes = rule.on_exit_codes
    if exit_codes is not None:
        statuses = [*pod.status.init_container_statuses, *pod.status.container_statuses]
        for status in statuses:
            if exit_codes.container_name and status.name != exit_codes.container_name:
                continue
            terminated = status.state.terminated
            if terminated is None or terminated.exit_code == 0:
                continue
            code = terminated.exit_code
            inside = code in exit_codes.values
            if inside == (exit_codes.operator == "In"):
                return f"Container {status.name} failed with exit code {code}"
        return None
    for pattern in rule.on_pod_conditions:
        for condition in pod.status.conditions:
            if condition.type == pattern.type and condition.status == pattern.status:
                return f"Pod has condition {condition.type}={condition.status}"
    return None


def backoff_delay(consecutive_failures: int) -> float:
    """Seconds to wait before the next pod after this many failures in a row."""
    if consecutive_failures <= 0:
        return 0.0
    return float(min(BACKOFF_BASE * 2.0 ** (consecutive_failures - 1), BACKOFF_MAX))


def finish_time(pod: Pod) -> datetime | None:
    latest: datetime | None = None
    for status in pod.status.container_statuses:
        terminated = status.state.terminated
        finished = terminated.finished_at if terminated is not None else None
        if finished is not None and (latest is None or finished > latest):
            latest = finished
    if latest is not None:
        return latest
    for condition in pod.status.conditions:
        since = condition.last_transition_time
        if condition.type == "Ready" and condition.status == "False" and since is not None:
            return since
    return pod.metadata.deletion_timestamp or pod.metadata.creation_timestamp
