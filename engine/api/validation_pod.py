"""Validation of pod specs, shared by Pods and by every pod template (Deployment,
ReplicaSet, StatefulSet, DaemonSet, Job, CronJob): containers, ports,
environment, resources, probes, volumes and mounts, tolerations, affinity and
topology spread, as Kubernetes' ValidatePodSpec checks them.

`check_pod_spec(errors, path, spec)` appends every problem found under `path`
(`spec` for a Pod, `spec.template.spec` for a template). Kubernetes leaves a
StatefulSet's template spec to be checked on its pods; kubeloop checks it
here, with the claim templates counting as volumes.

Neighbours: `engine.api.validation` (calls this per kind),
`engine.api.validation_rules` (the primitive checks and messages).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from engine.api.core import (
    Affinity,
    Container,
    PodSpec,
    Probe,
    ResourceRequirements,
    Toleration,
    TopologySpreadConstraint,
    Volume,
)
from engine.api.validation_rules import (
    Errors,
    check_dns_label,
    check_enum,
    check_label_selector,
    check_labels,
    check_node_selector_requirement,
    check_non_negative,
    check_port_name,
    check_port_number,
    check_port_reference,
    check_qualified_name,
    duplicate,
    forbidden,
    invalid,
    not_found,
    required,
)

__all__ = ["check_pod_spec"]

RESTART_POLICIES: Final = ("Always", "OnFailure", "Never")
DNS_POLICIES: Final = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PULL_POLICIES: Final = ("Always", "Never", "IfNotPresent")
PROTOCOLS: Final = ("TCP", "UDP", "SCTP")
TERMINATION_MESSAGE_POLICIES: Final = ("File", "FallbackToLogsOnError")
TAINT_EFFECTS: Final = ("NoSchedule", "PreferNoSchedule", "NoExecute")
TOLERATION_OPERATORS: Final = ("Exists", "Equal")
UNSATISFIABLE_ACTIONS: Final = ("DoNotSchedule", "ScheduleAnyway")
INCLUSION_POLICIES: Final = ("Honor", "Ignore")


def check_pod_spec(
    errors: Errors, path: str, spec: PodSpec, *, claim_volumes: Iterable[str] = ()
) -> None:
    """Append every problem of `spec` under `path`. `claim_volumes` are further
    volume names mounts may use (a StatefulSet's volumeClaimTemplates)."""
    volume_names = _check_volumes(errors, f"{path}.volumes", spec.volumes)
    volume_names.update(claim_volumes)
    if not spec.containers:
        errors.append(required(f"{path}.containers"))
    seen_names: set[str] = set()
    groups: tuple[tuple[str, list[Container]], ...] = (
        ("initContainers", spec.init_containers),
        ("containers", spec.containers),
        ("ephemeralContainers", list(spec.ephemeral_containers)),
    )
    for field, containers in groups:
        for index, container in enumerate(containers):
            at = f"{path}.{field}[{index}]"
            if container.name in seen_names:
                errors.append(duplicate(f"{at}.name", container.name))
            seen_names.add(container.name)
            _check_container(errors, at, container, volume_names, bool(spec.host_network))
            if field == "initContainers":
                check_enum(errors, f"{at}.restartPolicy", container.restart_policy, ("Always",))
    check_enum(errors, f"{path}.restartPolicy", spec.restart_policy, RESTART_POLICIES)
    check_enum(errors, f"{path}.dnsPolicy", spec.dns_policy, DNS_POLICIES)
    check_non_negative(
        errors, f"{path}.terminationGracePeriodSeconds", spec.termination_grace_period_seconds
    )
    deadline = spec.active_deadline_seconds
    if deadline is not None and deadline < 1:
        errors.append(
            invalid(f"{path}.activeDeadlineSeconds", deadline, "must be between 1 and 2^63-1")
        )
    check_labels(errors, f"{path}.nodeSelector", spec.node_selector)
    for index, toleration in enumerate(spec.tolerations):
        _check_toleration(errors, f"{path}.tolerations[{index}]", toleration)
    if spec.affinity is not None:
        _check_affinity(errors, f"{path}.affinity", spec.affinity)
    for index, constraint in enumerate(spec.topology_spread_constraints):
        _check_spread(errors, f"{path}.topologySpreadConstraints[{index}]", constraint)
    if spec.hostname:
        check_dns_label(errors, f"{path}.hostname", spec.hostname)
    if spec.subdomain:
        check_dns_label(errors, f"{path}.subdomain", spec.subdomain)
    check_enum(
        errors,
        f"{path}.preemptionPolicy",
        spec.preemption_policy,
        ("PreemptLowerPriority", "Never"),
    )


def _check_container(
    errors: Errors, path: str, container: Container, volumes: set[str], host_network: bool
) -> None:
    check_dns_label(errors, f"{path}.name", container.name)
    if not container.image:
        errors.append(required(f"{path}.image"))
    check_enum(errors, f"{path}.imagePullPolicy", container.image_pull_policy, PULL_POLICIES)
    check_enum(
        errors,
        f"{path}.terminationMessagePolicy",
        container.termination_message_policy,
        TERMINATION_MESSAGE_POLICIES,
    )
    port_names: set[str] = set()
    for index, port in enumerate(container.ports):
        at = f"{path}.ports[{index}]"
        check_port_number(errors, f"{at}.containerPort", port.container_port)
        if port.host_port is not None:
            check_port_number(errors, f"{at}.hostPort", port.host_port, allow_zero=True)
            if host_network and port.host_port != port.container_port:
                errors.append(
                    invalid(
                        f"{at}.hostPort",
                        port.host_port,
                        "must match `containerPort` when `hostNetwork` is true",
                    )
                )
        check_enum(errors, f"{at}.protocol", port.protocol, PROTOCOLS)
        if port.name:
            check_port_name(errors, f"{at}.name", port.name)
            if port.name in port_names:
                errors.append(duplicate(f"{at}.name", port.name))
            port_names.add(port.name)
    for index, env in enumerate(container.env):
        at = f"{path}.env[{index}]"
        if not env.name:
            errors.append(required(f"{at}.name"))
        elif "=" in env.name or not env.name.isprintable():
            errors.append(
                invalid(
                    f"{at}.name",
                    env.name,
                    "a valid environment variable name must "
                    "consist only of printable ASCII characters other than '='",
                )
            )
        if env.value_from is not None:
            sources = [
                name
                for name, value in (
                    ("fieldRef", env.value_from.field_ref),
                    ("resourceFieldRef", env.value_from.resource_field_ref),
                    ("configMapKeyRef", env.value_from.config_map_key_ref),
                    ("secretKeyRef", env.value_from.secret_key_ref),
                    ("fileKeyRef", env.value_from.file_key_ref),
                )
                if value is not None
            ]
            if env.value:
                errors.append(
                    invalid(
                        f"{at}.valueFrom",
                        "",
                        "may not be specified when `value` is not empty",
                    )
                )
            if len(sources) != 1:
                errors.append(
                    invalid(
                        f"{at}.valueFrom",
                        "",
                        "may not have more than one field specified at a time"
                        if sources
                        else "must specify one of: `fieldRef`, `resourceFieldRef`, "
                        "`configMapKeyRef` or `secretKeyRef`",
                    )
                )
    _check_resources(errors, f"{path}.resources", container.resources)
    for name, probe in (
        ("livenessProbe", container.liveness_probe),
        ("readinessProbe", container.readiness_probe),
        ("startupProbe", container.startup_probe),
    ):
        if probe is not None:
            _check_probe(errors, f"{path}.{name}", probe, name != "readinessProbe")
    mount_paths: set[str] = set()
    for index, mount in enumerate(container.volume_mounts):
        at = f"{path}.volumeMounts[{index}]"
        if mount.name not in volumes:
            errors.append(not_found(f"{at}.name", mount.name))
        if not mount.mount_path:
            errors.append(required(f"{at}.mountPath"))
        elif mount.mount_path in mount_paths:
            errors.append(invalid(f"{at}.mountPath", mount.mount_path, "must be unique"))
        mount_paths.add(mount.mount_path)


def _check_resources(errors: Errors, path: str, resources: ResourceRequirements) -> None:
    for section, values in (("limits", resources.limits), ("requests", resources.requests)):
        for name, quantity in values.items():
            if quantity.sign() < 0:
                errors.append(
                    invalid(
                        f"{path}.{section}[{name}]",
                        str(quantity),
                        "must be greater than or equal to 0",
                    )
                )
    for name, request in resources.requests.items():
        limit = resources.limits.get(name)
        if limit is not None and request > limit:
            errors.append(
                invalid(
                    f"{path}.requests",
                    str(request),
                    f"must be less than or equal to {name} limit of {limit}",
                )
            )


def _check_probe(errors: Errors, path: str, probe: Probe, success_must_be_one: bool) -> None:
    handlers = [
        h for h in (probe.exec, probe.http_get, probe.tcp_socket, probe.grpc) if h is not None
    ]
    if not handlers:
        errors.append(required(path, "must specify a handler type"))
    elif len(handlers) > 1:
        errors.append(forbidden(path, "may not specify more than 1 handler type"))
    if probe.http_get is not None:
        check_port_reference(errors, f"{path}.httpGet.port", probe.http_get.port)
        check_enum(errors, f"{path}.httpGet.scheme", probe.http_get.scheme, ("HTTP", "HTTPS"))
    if probe.tcp_socket is not None:
        check_port_reference(errors, f"{path}.tcpSocket.port", probe.tcp_socket.port)
    if probe.grpc is not None:
        check_port_number(errors, f"{path}.grpc.port", probe.grpc.port)
    for name, value in (
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ):
        check_non_negative(errors, f"{path}.{name}", value)
    if success_must_be_one and probe.success_threshold != 1:
        errors.append(invalid(f"{path}.successThreshold", probe.success_threshold, "must be 1"))


def _check_volumes(errors: Errors, path: str, volumes: list[Volume]) -> set[str]:
    names: set[str] = set()
    for index, volume in enumerate(volumes):
        at = f"{path}[{index}]"
        check_dns_label(errors, f"{at}.name", volume.name)
        if volume.name in names:
            errors.append(duplicate(f"{at}.name", volume.name))
        names.add(volume.name)
        sources = volume.sources()
        if not sources:  # a source 1.34 drops (`engine.api.disabled_fields`) was its only one
            errors.append(required(at, "must specify a volume type"))
        elif len(sources) > 1:
            errors.append(
                forbidden(f"{at}.{sources[1]}", "may not specify more than 1 volume type")
            )
        if volume.config_map is not None and not volume.config_map.name:
            errors.append(required(f"{at}.configMap.name"))
        if volume.secret is not None and not volume.secret.secret_name:
            errors.append(required(f"{at}.secret.secretName"))
        if volume.host_path is not None and not volume.host_path.path:
            errors.append(required(f"{at}.hostPath.path"))
    return names


def _check_toleration(errors: Errors, path: str, toleration: Toleration) -> None:
    if toleration.key:
        check_qualified_name(errors, f"{path}.key", toleration.key)
    operator = toleration.operator or "Equal"
    if not toleration.key and operator != "Exists":
        errors.append(
            invalid(
                f"{path}.operator",
                operator,
                'operator must be Exists when `key` is empty, which means "match all values '
                'and all keys"',
            )
        )
    if toleration.operator is not None and toleration.operator not in TOLERATION_OPERATORS:
        errors.append(
            invalid(f"{path}.operator", toleration.operator, "the operator must be Exists or Equal")
        )
    if operator == "Exists" and toleration.value:
        errors.append(
            invalid(
                f"{path}.operator",
                toleration.value,
                "value must be empty when `operator` is 'Exists'",
            )
        )
    if toleration.effect:
        check_enum(errors, f"{path}.effect", toleration.effect, TAINT_EFFECTS)
    if toleration.toleration_seconds is not None and toleration.effect != "NoExecute":
        errors.append(
            invalid(
                f"{path}.effect",
                toleration.effect or "",
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            )
        )


def _check_affinity(errors: Errors, path: str, affinity: Affinity) -> None:
    node = affinity.node_affinity
    if node is not None:
        at = f"{path}.nodeAffinity"
        required_terms = node.required_during_scheduling_ignored_during_execution
        if required_terms is not None:
            term_path = f"{at}.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
            if not required_terms.node_selector_terms:
                errors.append(required(term_path, "must have at least one node selector term"))
            for i, term in enumerate(required_terms.node_selector_terms):
                for j, requirement in enumerate(term.match_expressions):
                    check_node_selector_requirement(
                        errors, f"{term_path}[{i}].matchExpressions[{j}]", requirement
                    )
        for i, preferred in enumerate(node.preferred_during_scheduling_ignored_during_execution):
            pref_path = f"{at}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            _check_weight(errors, f"{pref_path}.weight", preferred.weight)
            for j, requirement in enumerate(preferred.preference.match_expressions):
                check_node_selector_requirement(
                    errors, f"{pref_path}.preference.matchExpressions[{j}]", requirement
                )
    for name, pod_affinity in (
        ("podAffinity", affinity.pod_affinity),
        ("podAntiAffinity", affinity.pod_anti_affinity),
    ):
        if pod_affinity is None:
            continue
        at = f"{path}.{name}"
        for i, affinity_term in enumerate(
            pod_affinity.required_during_scheduling_ignored_during_execution
        ):
            term_path = f"{at}.requiredDuringSchedulingIgnoredDuringExecution[{i}]"
            if not affinity_term.topology_key:
                errors.append(required(f"{term_path}.topologyKey", "can not be empty"))
            check_label_selector(errors, f"{term_path}.labelSelector", affinity_term.label_selector)
            check_label_selector(
                errors, f"{term_path}.namespaceSelector", affinity_term.namespace_selector
            )
        for i, weighted in enumerate(
            pod_affinity.preferred_during_scheduling_ignored_during_execution
        ):
            term_path = f"{at}.preferredDuringSchedulingIgnoredDuringExecution[{i}]"
            _check_weight(errors, f"{term_path}.weight", weighted.weight)
            affinity_term = weighted.pod_affinity_term
            if not affinity_term.topology_key:
                errors.append(
                    required(f"{term_path}.podAffinityTerm.topologyKey", "can not be empty")
                )
            check_label_selector(
                errors, f"{term_path}.podAffinityTerm.labelSelector", affinity_term.label_selector
            )


def _check_weight(errors: Errors, path: str, weight: int) -> None:
    if not 1 <= weight <= 100:
        errors.append(invalid(path, weight, "must be in the range 1-100"))


def _check_spread(errors: Errors, path: str, constraint: TopologySpreadConstraint) -> None:
    if constraint.max_skew <= 0:
        errors.append(invalid(f"{path}.maxSkew", constraint.max_skew, "must be greater than zero"))
    if not constraint.topology_key:
        errors.append(required(f"{path}.topologyKey", "can not be empty"))
    check_enum(
        errors, f"{path}.whenUnsatisfiable", constraint.when_unsatisfiable, UNSATISFIABLE_ACTIONS
    )
    if constraint.min_domains is not None:
        if constraint.min_domains <= 0:
            errors.append(
                invalid(f"{path}.minDomains", constraint.min_domains, "must be greater than 0")
            )
        elif constraint.when_unsatisfiable != "DoNotSchedule":
            errors.append(
                invalid(
                    f"{path}.minDomains",
                    constraint.min_domains,
                    "can only use minDomains if whenUnsatisfiable=DoNotSchedule, "
                    f"not {constraint.when_unsatisfiable}",
                )
            )
    check_enum(
        errors, f"{path}.nodeAffinityPolicy", constraint.node_affinity_policy, INCLUSION_POLICIES
    )
    check_enum(
        errors, f"{path}.nodeTaintsPolicy", constraint.node_taints_policy, INCLUSION_POLICIES
    )
    check_label_selector(errors, f"{path}.labelSelector", constraint.label_selector)
