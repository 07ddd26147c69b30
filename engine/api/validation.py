"""Object validation beyond types: the checks the apiserver makes on every
create and update, with Kubernetes' field paths and phrasing.

`validate_object(obj)` returns every problem as a `FieldError` (empty when the
object is valid); `engine.manifests` and `engine.strategies` raise `Invalid`
with them. It checks metadata for every kind (name or generateName, DNS names
per kind, label and annotation syntax, namespace scope) and then the kind's
own rules: pod specs and templates, selectors that must match template labels,
counts, strategies, service ports, ingress paths, HPA bounds, PDB budgets...
Custom kinds get metadata checks plus whatever `register_validator` adds.

The core/v1 kinds are checked here; `engine.api.validation_workloads` (apps,
batch) and `engine.api.validation_groups` (networking, autoscaling, policy,
scheduling, coordination, discovery) hold the others, `engine.api.validation_pod`
pod specs, `engine.api.validation_rules` the primitive checks and messages.

Neighbours: those modules, and `engine.api.defaulting` (runs before this).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

from engine.api.base import ObjectMeta, Resource
from engine.api.core import Binding, ConfigMap, Namespace, Node, Pod, Secret, Service
from engine.api.scheduling import PriorityClass
from engine.api.validation_groups import VALIDATORS as group_validators
from engine.api.validation_pod import TAINT_EFFECTS, check_pod_spec
from engine.api.validation_rules import (
    Errors,
    check_dns_label,
    check_dns_subdomain,
    check_enum,
    check_labels,
    check_path_segment_name,
    check_port_number,
    check_port_reference,
    check_qualified_name,
    duplicate,
    forbidden,
    invalid,
    required,
    too_long,
)
from engine.api.validation_workloads import VALIDATORS as workload_validators
from engine.errors import FieldError

__all__ = [
    "SPEC_CHECKS_READ_NAME",
    "has_spec_checks",
    "register_validator",
    "validate_metadata",
    "validate_metadata_maps",
    "validate_object",
    "validate_spec",
]

R = TypeVar("R", bound=Resource)
Validator = Callable[[Any, Errors], None]

ANNOTATIONS_MAX_BYTES: Final = 256 * 1024
DATA_MAX_BYTES: Final = 1024 * 1024
"""A ConfigMap's or Secret's data, in bytes (Kubernetes' MaxSecretSize)."""
_CONFIG_KEY: Final = re.compile(r"[-._a-zA-Z0-9]+")

_VALIDATORS: dict[type[Resource], Validator] = {}

SPEC_CHECKS_READ_NAME: Final[frozenset[type[Resource]]] = frozenset({PriorityClass})
"""Kinds whose own checks also read metadata.name (system- priority classes)."""


def register_validator(model: type[R], validator: Callable[[R], list[FieldError]]) -> None:
    """Add the kind-specific checks of a (custom) kind; metadata is always checked."""
    _VALIDATORS[model] = lambda obj, errors: errors.extend(validator(obj))


def validate_object(obj: Resource) -> list[FieldError]:
    """Every problem with `obj` (empty when valid), with Kubernetes field paths."""
    return validate_metadata(obj) + validate_spec(obj)


def validate_metadata(obj: Resource) -> list[FieldError]:
    """The problems with `obj.metadata` alone."""
    errors: Errors = []
    _check_metadata(obj, errors)
    return errors


def has_spec_checks(model: type[Resource]) -> bool:
    """Whether the kind has checks of its own (beyond metadata)."""
    return model in _VALIDATORS


def validate_spec(obj: Resource) -> list[FieldError]:
    """The kind's own checks: everything but metadata. They read only the
    object's non-metadata fields, except for the kinds in `SPEC_CHECKS_READ_NAME`."""
    errors: Errors = []
    validator = _VALIDATORS.get(type(obj))
    if validator is not None:
        validator(obj, errors)
    return errors


# -- metadata -----------------------------------------------------------------

# Names that must be DNS labels; every other kind takes a DNS subdomain.
_LABEL_NAMED: Final[dict[type[Resource], bool]] = {Namespace: False, Service: True}

# Kubernetes checks RBAC names only as URL path segments (ValidateRBACName), so
# the "system:kube-dns-autoscaler" roles of cluster add-ons are valid. These
# kinds are schema-backed (engine.catalogue): known by group and kind, not type.
_PATH_SEGMENT_NAMED_GROUPS: Final = frozenset({"rbac.authorization.k8s.io"})


def _check_metadata(obj: Resource, errors: Errors) -> None:
    meta = obj.metadata
    rfc1035 = _LABEL_NAMED.get(type(obj))
    path_segment = obj.api_group_version.rpartition("/")[0] in _PATH_SEGMENT_NAMED_GROUPS
    if meta.name and path_segment:
        check_path_segment_name(errors, "metadata.name", meta.name)
    elif meta.name:
        _check_name(errors, "metadata.name", meta.name, rfc1035)
    elif meta.generate_name and path_segment:
        check_path_segment_name(errors, "metadata.generateName", meta.generate_name, prefix=True)
    elif meta.generate_name:
        # A prefix: checked as if a suffix were already appended.
        _check_name(errors, "metadata.generateName", meta.generate_name + "x", rfc1035)
    else:
        errors.append(required("metadata.name", "name or generateName is required"))
    # A cluster-scoped object's namespace is cleared by the store, as the apiserver does.
    if meta.namespace and type(obj).namespaced:
        check_dns_label(errors, "metadata.namespace", meta.namespace)
    _check_metadata_maps(meta, errors)


def validate_metadata_maps(obj: Resource, stored: ObjectMeta) -> list[FieldError]:
    """The problems with `obj.metadata`'s labels and annotations, for an
    update of an object stored with metadata `stored` (same name and
    namespace): the labels and annotation keys it already had were checked
    when it was stored, so only new ones are checked here."""
    errors: Errors = []
    meta = obj.metadata
    labels, old_labels = meta.labels, stored.labels
    if labels is not old_labels:
        new = {k: v for k, v in labels.items() if old_labels.get(k) != v}
        if new:
            check_labels(errors, "metadata.labels", new)
    if meta.annotations is not stored.annotations:
        _check_annotations(errors, meta.annotations, stored.annotations)
    return errors


def _check_metadata_maps(meta: ObjectMeta, errors: Errors) -> None:
    check_labels(errors, "metadata.labels", meta.labels)
    if meta.annotations:
        _check_annotations(errors, meta.annotations, {})


def _check_annotations(
    errors: Errors, annotations: Mapping[str, str], checked: Mapping[str, str]
) -> None:
    size = 0
    for key, value in annotations.items():
        if key not in checked:
            check_qualified_name(errors, "metadata.annotations", key)
        size += len(key) + len(value)
    if size > ANNOTATIONS_MAX_BYTES:
        errors.append(too_long("metadata.annotations", ANNOTATIONS_MAX_BYTES))


def _check_name(errors: Errors, path: str, name: str, rfc1035: bool | None) -> None:
    if rfc1035 is None:
        check_dns_subdomain(errors, path, name)
    else:
        check_dns_label(errors, path, name, rfc1035=rfc1035)


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
    size = sum(map(_text_bytes, obj.data.values())) + sum(
        map(_base64_bytes, obj.binary_data.values())
    )
    if size > DATA_MAX_BYTES:
        errors.append(too_long("", DATA_MAX_BYTES))  # the whole object, as Kubernetes says


def _validate_secret(obj: Secret, errors: Errors) -> None:
    _check_config_keys(errors, "data", obj.data, encoded=True)
    _check_config_keys(errors, "stringData", obj.string_data, encoded=False)
    size = sum(map(_base64_bytes, obj.data.values())) + sum(
        map(_text_bytes, obj.string_data.values())
    )
    if size > DATA_MAX_BYTES:
        errors.append(too_long("data", DATA_MAX_BYTES))
    if obj.type == "kubernetes.io/tls":
        for key in ("tls.crt", "tls.key"):
            if key not in obj.data and key not in obj.string_data:
                errors.append(required(f"data[{key}]"))


def _text_bytes(value: str) -> int:
    """Bytes of a string in UTF-8 (as Go's len), without encoding ASCII."""
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


def _base64_bytes(value: str) -> int:
    """Bytes a base64 text decodes to, without decoding it."""
    return len(value) * 3 // 4 - value[-2:].count("=")


def _validate_node(obj: Node, errors: Errors) -> None:
    seen: set[tuple[str, str]] = set()
    for index, taint in enumerate(obj.spec.taints):
        at = f"spec.taints[{index}]"
        check_qualified_name(errors, f"{at}.key", taint.key)
        check_enum(errors, f"{at}.effect", taint.effect, TAINT_EFFECTS)
        if (taint.key, taint.effect) in seen:
            errors.append(duplicate(at, f"{taint.key}:{taint.effect}"))
        seen.add((taint.key, taint.effect))


_VALIDATORS.update(
    {
        Pod: _validate_pod,
        Binding: _validate_binding,
        Service: _validate_service,
        ConfigMap: _validate_config_map,
        Secret: _validate_secret,
        Node: _validate_node,
    }
)
_VALIDATORS.update(workload_validators)
_VALIDATORS.update(group_validators)
