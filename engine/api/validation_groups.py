"""Validation of the service and policy kinds outside core/v1 and the
workloads: networking.k8s.io Ingress and IngressClass, autoscaling/v2
HorizontalPodAutoscaler, policy/v1 PodDisruptionBudget, scheduling.k8s.io
PriorityClass, coordination.k8s.io Lease, discovery.k8s.io EndpointSlice,
core/v1 PersistentVolume (StorageClass registers its own, in
`engine.api.storage`).

`VALIDATORS` maps each kind to its check; `engine.api.validation` dispatches.

Neighbours: `engine.api.validation` (entry point), `engine.api.validation_rules`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from engine.api.autoscaling import HorizontalPodAutoscaler, MetricTarget
from engine.api.base import Resource
from engine.api.coordination import Lease
from engine.api.core import PersistentVolume
from engine.api.discovery import EndpointSlice
from engine.api.networking import Ingress, IngressBackend, IngressClass
from engine.api.policy import PodDisruptionBudget
from engine.api.scheduling import PriorityClass
from engine.api.validation_rules import (
    Errors,
    check_dns_subdomain,
    check_enum,
    check_int_or_percent,
    check_label_selector,
    check_non_negative,
    check_port_number,
    forbidden,
    invalid,
    required,
)

__all__ = ["USER_PRIORITY_MAX", "VALIDATORS"]

USER_PRIORITY_MAX: Final = 1_000_000_000


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


_ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")


def _validate_persistent_volume(obj: PersistentVolume, errors: Errors) -> None:
    spec = obj.spec
    if not spec.access_modes:
        errors.append(required("spec.accessModes"))
    for i, mode in enumerate(spec.access_modes):
        check_enum(errors, f"spec.accessModes[{i}]", mode, _ACCESS_MODES)
    if "storage" not in spec.capacity:
        errors.append(required("spec.capacity"))
    check_enum(
        errors,
        "spec.persistentVolumeReclaimPolicy",
        spec.persistent_volume_reclaim_policy,
        ("Delete", "Recycle", "Retain"),
    )
    check_enum(errors, "spec.volumeMode", spec.volume_mode, ("Block", "Filesystem"))


VALIDATORS: Final[dict[type[Resource], Callable[[Any, Errors], None]]] = {
    Ingress: _validate_ingress,
    IngressClass: _validate_ingress_class,
    HorizontalPodAutoscaler: _validate_hpa,
    PodDisruptionBudget: _validate_pdb,
    PriorityClass: _validate_priority_class,
    Lease: _validate_lease,
    EndpointSlice: _validate_endpoint_slice,
    PersistentVolume: _validate_persistent_volume,
}
