"""Validation of the workload kinds (apps/v1 Deployment, ReplicaSet,
StatefulSet, DaemonSet; v1 ReplicationController; batch/v1 Job, CronJob): selectors that must be
non-empty and match their template's labels, pod templates with the restart
policies each kind allows, counts, update strategies (maxSurge and
maxUnavailable not both 0) and cron schedules.

`VALIDATORS` maps each kind to its check; `engine.api.validation` dispatches.

Neighbours: `engine.api.validation` (entry point), `engine.api.validation_pod`
(template pod specs), `engine.api.validation_rules` (primitive checks).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from engine.api.apps import DaemonSet, Deployment, ReplicaSet, StatefulSet
from engine.api.base import LabelSelector, Resource
from engine.api.batch import CronJob, Job, JobSpec
from engine.api.core import PodTemplateSpec, ReplicationController
from engine.api.validation_pod import check_pod_spec
from engine.api.validation_rules import (
    Errors,
    check_dns_subdomain,
    check_enum,
    check_int_or_percent,
    check_label_selector,
    check_labels,
    check_non_negative,
    forbidden,
    invalid,
    is_zero,
    required,
)
from engine.cron import ScheduleError, parse_schedule
from engine.selectors import InvalidSelector, from_label_selector

__all__ = ["VALIDATORS"]


def _check_template(
    errors: Errors,
    path: str,
    template: PodTemplateSpec,
    selector: LabelSelector | None,
    restart_policies: tuple[str, ...],
    claim_volumes: tuple[str, ...] = (),
) -> None:
    """A pod template: valid labels matched by `selector`, a valid pod spec
    with one of the allowed restart policies."""
    labels = template.metadata.labels
    check_labels(errors, f"{path}.metadata.labels", labels)
    if selector is not None:
        try:
            matches = from_label_selector(selector).matches(labels)
        except InvalidSelector:
            matches = True  # the selector itself is reported where it is checked
        if not matches:
            errors.append(
                invalid(
                    f"{path}.metadata.labels",
                    labels,
                    "`selector` does not match template `labels`",
                )
            )
    check_pod_spec(errors, f"{path}.spec", template.spec, claim_volumes=claim_volumes)
    check_enum(errors, f"{path}.spec.restartPolicy", template.spec.restart_policy, restart_policies)


def _check_selector(errors: Errors, path: str, selector: LabelSelector, kind_word: str) -> bool:
    """A workload's required, non-empty selector; True when it is usable."""
    if not selector.match_labels and not selector.match_expressions:
        errors.append(invalid(path, {}, f"empty selector is invalid for {kind_word}"))
        return False
    before = len(errors)
    check_label_selector(errors, path, selector)
    return len(errors) == before


def _check_rolling_values(errors: Errors, path: str, max_unavailable: Any, max_surge: Any) -> None:
    check_int_or_percent(errors, f"{path}.maxUnavailable", max_unavailable, at_most_100=True)
    check_int_or_percent(errors, f"{path}.maxSurge", max_surge)
    if is_zero(max_unavailable) and is_zero(max_surge):
        errors.append(
            invalid(f"{path}.maxUnavailable", max_unavailable, "may not be 0 when `maxSurge` is 0")
        )


def _validate_deployment(obj: Deployment, errors: Errors) -> None:
    spec = obj.spec
    check_non_negative(errors, "spec.replicas", spec.replicas)
    usable = _check_selector(errors, "spec.selector", spec.selector, "deployment")
    _check_template(
        errors, "spec.template", spec.template, spec.selector if usable else None, ("Always",)
    )
    strategy = spec.strategy
    check_enum(errors, "spec.strategy.type", strategy.type, ("Recreate", "RollingUpdate"))
    rolling = strategy.rolling_update
    if strategy.type == "Recreate" and rolling is not None:
        errors.append(
            forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            )
        )
    elif rolling is not None:
        _check_rolling_values(
            errors, "spec.strategy.rollingUpdate", rolling.max_unavailable, rolling.max_surge
        )
    check_non_negative(errors, "spec.minReadySeconds", spec.min_ready_seconds)
    check_non_negative(errors, "spec.revisionHistoryLimit", spec.revision_history_limit)
    if spec.progress_deadline_seconds <= (spec.min_ready_seconds or 0):
        errors.append(
            invalid(
                "spec.progressDeadlineSeconds",
                spec.progress_deadline_seconds,
                "must be greater than minReadySeconds",
            )
        )


def _validate_replica_set(obj: ReplicaSet, errors: Errors) -> None:
    spec = obj.spec
    check_non_negative(errors, "spec.replicas", spec.replicas)
    check_non_negative(errors, "spec.minReadySeconds", spec.min_ready_seconds)
    usable = _check_selector(errors, "spec.selector", spec.selector, "replicaset")
    _check_template(
        errors, "spec.template", spec.template, spec.selector if usable else None, ("Always",)
    )


def _validate_replication_controller(obj: ReplicationController, errors: Errors) -> None:
    spec = obj.spec
    check_non_negative(errors, "spec.replicas", spec.replicas)
    check_non_negative(errors, "spec.minReadySeconds", spec.min_ready_seconds)
    selector = LabelSelector(match_labels=spec.selector)
    usable = _check_selector(errors, "spec.selector", selector, "replicationcontroller")
    _check_template(
        errors, "spec.template", spec.template, selector if usable else None, ("Always",)
    )


def _validate_stateful_set(obj: StatefulSet, errors: Errors) -> None:
    spec = obj.spec
    check_non_negative(errors, "spec.replicas", spec.replicas)
    check_non_negative(errors, "spec.minReadySeconds", spec.min_ready_seconds)
    check_non_negative(errors, "spec.revisionHistoryLimit", spec.revision_history_limit)
    usable = _check_selector(errors, "spec.selector", spec.selector, "statefulset")
    claims = tuple(claim.metadata.name for claim in spec.volume_claim_templates)
    _check_template(
        errors,
        "spec.template",
        spec.template,
        spec.selector if usable else None,
        ("Always",),
        claims,
    )
    check_enum(
        errors, "spec.podManagementPolicy", spec.pod_management_policy, ("OrderedReady", "Parallel")
    )
    strategy = spec.update_strategy
    check_enum(errors, "spec.updateStrategy.type", strategy.type, ("RollingUpdate", "OnDelete"))
    if strategy.type == "OnDelete" and strategy.rolling_update is not None:
        errors.append(
            forbidden(
                "spec.updateStrategy.rollingUpdate",
                "only allowed for updateStrategy 'RollingUpdate'",
            )
        )
    elif strategy.rolling_update is not None:
        at = "spec.updateStrategy.rollingUpdate"
        check_non_negative(errors, f"{at}.partition", strategy.rolling_update.partition)
        max_unavailable = strategy.rolling_update.max_unavailable
        check_int_or_percent(errors, f"{at}.maxUnavailable", max_unavailable, at_most_100=True)
        if max_unavailable is not None and is_zero(max_unavailable):
            errors.append(
                invalid(f"{at}.maxUnavailable", max_unavailable, "must be greater than 0")
            )
    policy = spec.persistent_volume_claim_retention_policy
    at = "spec.persistentVolumeClaimRetentionPolicy"
    check_enum(errors, f"{at}.whenDeleted", policy.when_deleted, ("Retain", "Delete"))
    check_enum(errors, f"{at}.whenScaled", policy.when_scaled, ("Retain", "Delete"))
    if spec.ordinals is not None:
        check_non_negative(errors, "spec.ordinals.start", spec.ordinals.start)
    for index, claim in enumerate(spec.volume_claim_templates):
        if not claim.metadata.name:
            errors.append(required(f"spec.volumeClaimTemplates[{index}].metadata.name"))
        else:
            check_dns_subdomain(
                errors, f"spec.volumeClaimTemplates[{index}].metadata.name", claim.metadata.name
            )


def _validate_daemon_set(obj: DaemonSet, errors: Errors) -> None:
    spec = obj.spec
    usable = _check_selector(errors, "spec.selector", spec.selector, "daemonset")
    _check_template(
        errors, "spec.template", spec.template, spec.selector if usable else None, ("Always",)
    )
    strategy = spec.update_strategy
    check_enum(errors, "spec.updateStrategy.type", strategy.type, ("RollingUpdate", "OnDelete"))
    if strategy.type == "RollingUpdate" and strategy.rolling_update is not None:
        rolling = strategy.rolling_update
        _check_rolling_values(
            errors, "spec.updateStrategy.rollingUpdate", rolling.max_unavailable, rolling.max_surge
        )
    check_non_negative(errors, "spec.minReadySeconds", spec.min_ready_seconds)
    check_non_negative(errors, "spec.revisionHistoryLimit", spec.revision_history_limit)


def _check_job_spec(errors: Errors, path: str, spec: JobSpec) -> None:
    for name, value in (
        ("parallelism", spec.parallelism),
        ("completions", spec.completions),
        ("backoffLimit", spec.backoff_limit),
        ("backoffLimitPerIndex", spec.backoff_limit_per_index),
        ("maxFailedIndexes", spec.max_failed_indexes),
        ("ttlSecondsAfterFinished", spec.ttl_seconds_after_finished),
    ):
        check_non_negative(errors, f"{path}.{name}", value)
    deadline = spec.active_deadline_seconds
    if deadline is not None and deadline <= 0:
        errors.append(invalid(f"{path}.activeDeadlineSeconds", deadline, "must be greater than 0"))
    check_enum(errors, f"{path}.completionMode", spec.completion_mode, ("NonIndexed", "Indexed"))
    if spec.completion_mode == "Indexed" and spec.completions is None:
        errors.append(required(f"{path}.completions", "when completion mode is Indexed"))
    restart = spec.template.spec.restart_policy
    if spec.backoff_limit_per_index is not None:
        if spec.completion_mode != "Indexed":
            errors.append(
                invalid(
                    f"{path}.backoffLimitPerIndex",
                    spec.backoff_limit_per_index,
                    "requires indexed completion mode",
                )
            )
        if restart != "Never":
            errors.append(
                invalid(
                    f"{path}.template.spec.restartPolicy",
                    restart,
                    "only Never is supported when backoffLimitPerIndex is set",
                )
            )
    if spec.max_failed_indexes is not None:
        if spec.backoff_limit_per_index is None:
            errors.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is set"))
        if spec.completions is not None and spec.max_failed_indexes > spec.completions:
            errors.append(
                invalid(
                    f"{path}.maxFailedIndexes",
                    spec.max_failed_indexes,
                    "must be less than or equal to completions",
                )
            )
    if spec.pod_failure_policy is not None and restart != "Never":
        errors.append(
            invalid(
                f"{path}.template.spec.restartPolicy",
                restart,
                "only Never is supported when podFailurePolicy is specified",
            )
        )
    check_enum(
        errors,
        f"{path}.podReplacementPolicy",
        spec.pod_replacement_policy,
        ("TerminatingOrFailed", "Failed"),
    )
    usable = True
    if spec.selector is not None:
        before = len(errors)
        check_label_selector(errors, f"{path}.selector", spec.selector)
        usable = len(errors) == before
    _check_template(
        errors,
        f"{path}.template",
        spec.template,
        spec.selector if usable else None,
        ("OnFailure", "Never"),
    )


def _validate_job(obj: Job, errors: Errors) -> None:
    _check_job_spec(errors, "spec", obj.spec)


def _validate_cron_job(obj: CronJob, errors: Errors) -> None:
    spec = obj.spec
    if not spec.schedule:
        errors.append(required("spec.schedule"))
    else:
        try:
            parse_schedule(spec.schedule)
        except ScheduleError as error:
            errors.append(invalid("spec.schedule", spec.schedule, str(error)))
    if spec.time_zone is not None:
        try:
            parse_schedule("* * * * *", spec.time_zone)
        except ScheduleError as error:
            errors.append(invalid("spec.timeZone", spec.time_zone, str(error)))
    check_enum(
        errors, "spec.concurrencyPolicy", spec.concurrency_policy, ("Allow", "Forbid", "Replace")
    )
    check_non_negative(errors, "spec.startingDeadlineSeconds", spec.starting_deadline_seconds)
    check_non_negative(
        errors, "spec.successfulJobsHistoryLimit", spec.successful_jobs_history_limit
    )
    check_non_negative(errors, "spec.failedJobsHistoryLimit", spec.failed_jobs_history_limit)
    check_labels(errors, "spec.jobTemplate.metadata.labels", spec.job_template.metadata.labels)
    _check_job_spec(errors, "spec.jobTemplate.spec", spec.job_template.spec)


VALIDATORS: Final[dict[type[Resource], Callable[[Any, Errors], None]]] = {
    Deployment: _validate_deployment,
    ReplicaSet: _validate_replica_set,
    ReplicationController: _validate_replication_controller,
    StatefulSet: _validate_stateful_set,
    DaemonSet: _validate_daemon_set,
    Job: _validate_job,
    CronJob: _validate_cron_job,
}
