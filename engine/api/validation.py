"""Object validation beyond types: the checks the apiserver makes on every
create and update, with Kubernetes' field paths and phrasing.

`validate_object(obj)` returns every problem as a `FieldError` (empty when the
object is valid); `engine.manifests` and `engine.strategies` raise `Invalid`
with them. It checks metadata for every kind (name or generateName, DNS names
per kind, label and annotation syntax, namespace scope) and then the kind's
own rules: pod specs and templates, selectors that must match template labels,
counts, strategies, service ports, ingress paths, HPA bounds, PDB budgets...
Custom kinds get metadata checks plus whatever `register_validator` adds.

Neighbours: `engine.api.validation_pod` (pod specs), `engine.api.validation_rules`
(primitive checks, messages), `engine.api.defaulting` (runs before this).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from engine.api.apps import DaemonSet, Deployment, ReplicaSet, StatefulSet
from engine.api.autoscaling import HorizontalPodAutoscaler, MetricTarget
from engine.api.base import LabelSelector, Resource
from engine.api.batch import CronJob, Job, JobSpec
from engine.api.coordination import Lease
from engine.api.core import (
    Binding,
    ConfigMap,
    Namespace,
    Node,
    Pod,
    PodTemplateSpec,
    Secret,
    Service,
)
from engine.api.discovery import EndpointSlice
from engine.api.networking import Ingress, IngressBackend, IngressClass
from engine.api.policy import PodDisruptionBudget
from engine.api.scheduling import PriorityClass
from engine.api.validation_pod import TAINT_EFFECTS, check_pod_spec
from engine.api.validation_rules import (
    Errors,
    check_dns_label,
    check_dns_subdomain,
    check_enum,
    check_int_or_percent,
    check_label_selector,
    check_labels,
    check_non_negative,
    check_port_number,
    check_port_reference,
    check_qualified_name,
    duplicate,
    forbidden,
    invalid,
    is_zero,
    required,
)
from engine.errors import FieldError
from engine.selectors import InvalidSelector, from_label_selector

__all__ = ["register_validator", "validate_object"]

R = TypeVar("R", bound=Resource)
Validator = Callable[[Any, Errors], None]

ANNOTATIONS_MAX_BYTES: Final = 256 * 1024
USER_PRIORITY_MAX: Final = 1_000_000_000
_CONFIG_KEY: Final = re.compile(r"[-._a-zA-Z0-9]+")

_VALIDATORS: dict[type[Resource], Validator] = {}


def register_validator(model: type[R], validator: Callable[[R], list[FieldError]]) -> None:
    """Add the kind-specific checks of a (custom) kind; metadata is always checked."""
    _VALIDATORS[model] = lambda obj, errors: errors.extend(validator(obj))


def validate_object(obj: Resource) -> list[FieldError]:
    """Every problem with `obj` (empty when valid), with Kubernetes field paths."""
    errors: Errors = []
    _check_metadata(obj, errors)
    validator = _VALIDATORS.get(type(obj))
    if validator is not None:
        validator(obj, errors)
    return errors


# -- metadata -----------------------------------------------------------------

# Names that must be DNS labels; every other kind takes a DNS subdomain.
_LABEL_NAMED: Final[dict[type[Resource], bool]] = {Namespace: False, Service: True}


def _check_metadata(obj: Resource, errors: Errors) -> None:
    meta = obj.metadata
    rfc1035 = _LABEL_NAMED.get(type(obj))
    if meta.name:
        _check_name(errors, "metadata.name", meta.name, rfc1035)
    elif meta.generate_name:
        # A prefix: checked as if a suffix were already appended.
        _check_name(errors, "metadata.generateName", meta.generate_name + "x", rfc1035)
    else:
        errors.append(required("metadata.name", "name or generateName is required"))
    # A cluster-scoped object's namespace is cleared by the store, as the apiserver does.
    if meta.namespace and type(obj).namespaced:
        check_dns_label(errors, "metadata.namespace", meta.namespace)
    check_labels(errors, "metadata.labels", meta.labels)
    if meta.annotations:
        size = 0
        for key, value in meta.annotations.items():
            check_qualified_name(errors, "metadata.annotations", key)
            size += len(key) + len(value)
        if size > ANNOTATIONS_MAX_BYTES:
            errors.append(
                FieldError(
                    "metadata.annotations",
                    f"Too long: must have at most {ANNOTATIONS_MAX_BYTES} bytes",
                )
            )


def _check_name(errors: Errors, path: str, name: str, rfc1035: bool | None) -> None:
    if rfc1035 is None:
        check_dns_subdomain(errors, path, name)
    else:
        check_dns_label(errors, path, name, rfc1035=rfc1035)


# -- workloads ----------------------------------------------------------------


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


_CRON_MACROS: Final = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_CRON_FIELD: Final = re.compile(r"[0-9A-Za-z*/,?-]+")


def _cron_problem(schedule: str) -> str:
    """Why a standard cron schedule does not parse ('' when it does)."""
    text = schedule.strip()
    if text.startswith(("TZ=", "CRON_TZ=")):
        return "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"
    if text in _CRON_MACROS or text.startswith("@every "):
        return ""
    fields = text.split()
    if len(fields) != 5:
        return f"expected exactly 5 fields, found {len(fields)}: {schedule}"
    for field in fields:
        if not _CRON_FIELD.fullmatch(field):
            return f"invalid field {field!r}"
    return ""


def _validate_cron_job(obj: CronJob, errors: Errors) -> None:
    spec = obj.spec
    if not spec.schedule:
        errors.append(required("spec.schedule"))
    else:
        problem = _cron_problem(spec.schedule)
        if problem:
            errors.append(invalid("spec.schedule", spec.schedule, problem))
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


# -- core ---------------------------------------------------------------------


def _validate_pod(obj: Pod, errors: Errors) -> None:
    check_pod_spec(errors, "spec", obj.spec)


def _validate_binding(obj: Binding, errors: Errors) -> None:
    if not obj.target.name:
        errors.append(required("target.name"))


def _validate_service(obj: Service, errors: Errors) -> None:
    spec = obj.spec
    check_enum(
        errors, "spec.type", spec.type, ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
    )
    headless = spec.cluster_ip == "None"
    if spec.type == "ExternalName":
        if not spec.external_name:
            errors.append(required("spec.externalName"))
        else:
            check_dns_subdomain(errors, "spec.externalName", spec.external_name.rstrip("."))
    elif not spec.ports and not headless:
        errors.append(required("spec.ports"))
    names: set[str] = set()
    for index, port in enumerate(spec.ports):
        at = f"spec.ports[{index}]"
        if port.name:
            check_dns_label(errors, f"{at}.name", port.name)
            if port.name in names:
                errors.append(duplicate(f"{at}.name", port.name))
            names.add(port.name)
        elif len(spec.ports) > 1:
            errors.append(required(f"{at}.name"))
        check_port_number(errors, f"{at}.port", port.port)
        check_enum(errors, f"{at}.protocol", port.protocol, ("TCP", "UDP", "SCTP"))
        if port.target_port is not None:
            check_port_reference(errors, f"{at}.targetPort", port.target_port)
        if port.node_port is not None:
            if spec.type not in ("NodePort", "LoadBalancer"):
                errors.append(
                    forbidden(f"{at}.nodePort", f"may not be used when `type` is '{spec.type}'")
                )
            else:
                check_port_number(errors, f"{at}.nodePort", port.node_port, allow_zero=True)
    check_labels(errors, "spec.selector", spec.selector)
    check_enum(errors, "spec.sessionAffinity", spec.session_affinity, ("None", "ClientIP"))
    check_enum(
        errors, "spec.externalTrafficPolicy", spec.external_traffic_policy, ("Cluster", "Local")
    )
    check_enum(
        errors, "spec.internalTrafficPolicy", spec.internal_traffic_policy, ("Cluster", "Local")
    )
    check_enum(
        errors,
        "spec.ipFamilyPolicy",
        spec.ip_family_policy,
        ("SingleStack", "PreferDualStack", "RequireDualStack"),
    )
    for index, family in enumerate(spec.ip_families):
        check_enum(errors, f"spec.ipFamilies[{index}]", family, ("IPv4", "IPv6"))


def _check_config_keys(errors: Errors, path: str, data: Mapping[str, str], encoded: bool) -> None:
    for key, value in data.items():
        if len(key) > 253 or not _CONFIG_KEY.fullmatch(key) or key in (".", ".."):
            errors.append(
                invalid(
                    path,
                    key,
                    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
                )
            )
        if encoded:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                errors.append(invalid(f"{path}[{key}]", "<value>", "illegal base64 data"))


def _validate_config_map(obj: ConfigMap, errors: Errors) -> None:
    _check_config_keys(errors, "data", obj.data, encoded=False)
    _check_config_keys(errors, "binaryData", obj.binary_data, encoded=True)
    for key in obj.data.keys() & obj.binary_data.keys():
        errors.append(duplicate("data", key))


def _validate_secret(obj: Secret, errors: Errors) -> None:
    _check_config_keys(errors, "data", obj.data, encoded=True)
    _check_config_keys(errors, "stringData", obj.string_data, encoded=False)
    if obj.type == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in obj.data and key not in obj.string_data:
                errors.append(required(f"data[{key}]"))


def _validate_node(obj: Node, errors: Errors) -> None:
    seen: set[tuple[str, str]] = set()
    for index, taint in enumerate(obj.spec.taints):
        at = f"spec.taints[{index}]"
        check_qualified_name(errors, f"{at}.key", taint.key)
        check_enum(errors, f"{at}.effect", taint.effect, TAINT_EFFECTS)
        if (taint.key, taint.effect) in seen:
            errors.append(duplicate(at, f"{taint.key}:{taint.effect}"))
        seen.add((taint.key, taint.effect))


# -- other groups -------------------------------------------------------------


def _check_backend(errors: Errors, path: str, backend: IngressBackend) -> None:
    if (backend.service is None) == (backend.resource is None):
        errors.append(
            invalid(path, "", "cannot set both service and resource backends")
            if backend.service
            else required(path, "one of `service` or `resource`")
        )
    service = backend.service
    if service is not None:
        port = service.port
        if port is None or (port.name is None) == (port.number is None):
            errors.append(required(f"{path}.service.port", "exactly one of `name` or `number`"))
        elif port.number is not None:
            check_port_number(errors, f"{path}.service.port.number", port.number)


def _validate_ingress(obj: Ingress, errors: Errors) -> None:
    spec = obj.spec
    if not spec.rules and spec.default_backend is None:
        errors.append(invalid("spec", "", "either `defaultBackend` or `rules` must be specified"))
    if spec.default_backend is not None:
        _check_backend(errors, "spec.defaultBackend", spec.default_backend)
    for i, rule in enumerate(spec.rules):
        at = f"spec.rules[{i}]"
        if rule.host:
            check_dns_subdomain(errors, f"{at}.host", rule.host.removeprefix("*."))
        if rule.http is None:
            continue
        if not rule.http.paths:
            errors.append(required(f"{at}.http.paths"))
        for j, path in enumerate(rule.http.paths):
            path_at = f"{at}.http.paths[{j}]"
            check_enum(
                errors,
                f"{path_at}.pathType",
                path.path_type,
                ("Exact", "Prefix", "ImplementationSpecific"),
            )
            if path.path_type in ("Exact", "Prefix") and not (path.path or "").startswith("/"):
                errors.append(
                    invalid(f"{path_at}.path", path.path or "", "must be an absolute path")
                )
            _check_backend(errors, f"{path_at}.backend", path.backend)


def _validate_ingress_class(obj: IngressClass, errors: Errors) -> None:
    if not obj.spec.controller:
        errors.append(required("spec.controller"))


_METRIC_SOURCES: Final = {
    "Resource": "resource",
    "ContainerResource": "container_resource",
    "Pods": "pods",
    "Object": "object",
    "External": "external",
}


def _check_metric_target(errors: Errors, path: str, target: MetricTarget) -> None:
    check_enum(errors, f"{path}.type", target.type, ("Utilization", "Value", "AverageValue"))
    wanted = {
        "Utilization": ("averageUtilization", target.average_utilization),
        "Value": ("value", target.value),
        "AverageValue": ("averageValue", target.average_value),
    }.get(target.type)
    if wanted is not None and wanted[1] is None:
        errors.append(required(f"{path}.{wanted[0]}", f"must be set for type {target.type}"))


def _validate_hpa(obj: HorizontalPodAutoscaler, errors: Errors) -> None:
    spec = obj.spec
    ref = spec.scale_target_ref
    if ref is None:
        errors.append(required("spec.scaleTargetRef"))
    else:
        if not ref.kind:
            errors.append(required("spec.scaleTargetRef.kind"))
        if not ref.name:
            errors.append(required("spec.scaleTargetRef.name"))
    if spec.min_replicas < 1:
        errors.append(
            invalid("spec.minReplicas", spec.min_replicas, "must be greater than or equal to 1")
        )
    if spec.max_replicas < 1:
        errors.append(invalid("spec.maxReplicas", spec.max_replicas, "must be greater than 0"))
    elif spec.max_replicas < spec.min_replicas:
        errors.append(
            invalid(
                "spec.maxReplicas",
                spec.max_replicas,
                "must be greater than or equal to `minReplicas`",
            )
        )
    for index, metric in enumerate(spec.metrics):
        at = f"spec.metrics[{index}]"
        attribute = _METRIC_SOURCES.get(metric.type)
        if attribute is None:
            errors.append(
                invalid(f"{at}.type", metric.type, "must be one of " + ", ".join(_METRIC_SOURCES))
            )
            continue
        source = getattr(metric, attribute)
        if source is None:
            errors.append(
                required(
                    f"{at}.{attribute}", "must populate information for the given metric source"
                )
            )
            continue
        _check_metric_target(errors, f"{at}.{attribute}.target", source.target)
    behavior = spec.behavior
    if behavior is not None:
        for name, rules in (("scaleUp", behavior.scale_up), ("scaleDown", behavior.scale_down)):
            if rules is None:
                continue
            at = f"spec.behavior.{name}"
            check_enum(
                errors, f"{at}.selectPolicy", rules.select_policy, ("Max", "Min", "Disabled")
            )
            window = rules.stabilization_window_seconds
            if window is not None and not 0 <= window <= 3600:
                errors.append(
                    invalid(
                        f"{at}.stabilizationWindowSeconds", window, "must be between 0 and 3600"
                    )
                )
            for i, policy in enumerate(rules.policies or []):
                policy_at = f"{at}.policies[{i}]"
                check_enum(errors, f"{policy_at}.type", policy.type, ("Pods", "Percent"))
                if policy.value <= 0:
                    errors.append(
                        invalid(f"{policy_at}.value", policy.value, "must be greater than zero")
                    )
                if not 0 < policy.period_seconds <= 1800:
                    errors.append(
                        invalid(
                            f"{policy_at}.periodSeconds",
                            policy.period_seconds,
                            "must be greater than zero and less than or equal to 1800",
                        )
                    )


def _validate_pdb(obj: PodDisruptionBudget, errors: Errors) -> None:
    spec = obj.spec
    if spec.min_available is not None and spec.max_unavailable is not None:
        errors.append(invalid("spec", "", "minAvailable and maxUnavailable cannot be both set"))
    check_int_or_percent(errors, "spec.minAvailable", spec.min_available, at_most_100=True)
    check_int_or_percent(errors, "spec.maxUnavailable", spec.max_unavailable, at_most_100=True)
    check_label_selector(errors, "spec.selector", spec.selector)
    check_enum(
        errors,
        "spec.unhealthyPodEvictionPolicy",
        spec.unhealthy_pod_eviction_policy,
        ("IfHealthyBudget", "AlwaysAllow"),
    )


def _validate_priority_class(obj: PriorityClass, errors: Errors) -> None:
    if obj.value > USER_PRIORITY_MAX and not obj.metadata.name.startswith("system-"):
        errors.append(
            forbidden(
                "value",
                f"maximum allowed value of a user defined priority is {USER_PRIORITY_MAX}",
            )
        )
    check_enum(errors, "preemptionPolicy", obj.preemption_policy, ("PreemptLowerPriority", "Never"))


def _validate_lease(obj: Lease, errors: Errors) -> None:
    duration = obj.spec.lease_duration_seconds
    if duration is not None and duration <= 0:
        errors.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    check_non_negative(errors, "spec.leaseTransitions", obj.spec.lease_transitions)


def _validate_endpoint_slice(obj: EndpointSlice, errors: Errors) -> None:
    check_enum(errors, "addressType", obj.address_type, ("IPv4", "IPv6", "FQDN"))
    for index, endpoint in enumerate(obj.endpoints):
        if not endpoint.addresses:
            errors.append(
                required(f"endpoints[{index}].addresses", "must contain at least 1 address")
            )
    for index, port in enumerate(obj.ports):
        check_enum(errors, f"ports[{index}].protocol", port.protocol, ("TCP", "UDP", "SCTP"))
        if port.port is not None:
            check_port_number(errors, f"ports[{index}].port", port.port)


_VALIDATORS.update(
    {
        Pod: _validate_pod,
        Binding: _validate_binding,
        Service: _validate_service,
        ConfigMap: _validate_config_map,
        Secret: _validate_secret,
        Node: _validate_node,
        Deployment: _validate_deployment,
        ReplicaSet: _validate_replica_set,
        StatefulSet: _validate_stateful_set,
        DaemonSet: _validate_daemon_set,
        Job: _validate_job,
        CronJob: _validate_cron_job,
        Ingress: _validate_ingress,
        IngressClass: _validate_ingress_class,
        HorizontalPodAutoscaler: _validate_hpa,
        PodDisruptionBudget: _validate_pdb,
        PriorityClass: _validate_priority_class,
        Lease: _validate_lease,
        EndpointSlice: _validate_endpoint_slice,
    }
)
