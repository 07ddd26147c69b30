"""The building blocks of object validation: Kubernetes' error phrasing and the
primitive checks every kind shares (DNS names, label keys and values, port
numbers and names, counts and percentages, label and node selectors).

Messages follow Kubernetes' field errors so they read as kubectl users expect:
`Required value`, `Invalid value: "Foo": <why>`, `Unsupported value: "x":
supported values: "a", "b"`, `Duplicate value: "x"`, `Forbidden: <why>`,
`Not found: "x"`. Each check appends `FieldError`s to a list and returns
nothing, so one pass collects every problem.

Neighbours: `engine.api.validation` (per kind), `engine.api.validation_pod`
(pod specs), `engine.selectors` (label key/value rules), `engine.errors`.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from typing import Final

from engine.api.base import LabelSelector
from engine.api.core import IntOrString, NodeSelectorRequirement
from engine.errors import FieldError
from engine.selectors import label_key_errors, label_value_errors

__all__ = [
    "Errors",
    "check_dns_label",
    "check_dns_subdomain",
    "check_enum",
    "check_int_or_percent",
    "check_label_selector",
    "check_labels",
    "check_node_selector_requirement",
    "check_non_negative",
    "check_port_name",
    "check_port_number",
    "check_port_reference",
    "check_qualified_name",
    "duplicate",
    "forbidden",
    "invalid",
    "is_zero",
    "not_found",
    "quote",
    "required",
    "unsupported",
]

Errors = list[FieldError]

_DNS_LABEL: Final = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_DNS_1035_LABEL: Final = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_DNS_SUBDOMAIN: Final = re.compile(
    r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*"
)
_PERCENT: Final = re.compile(r"[0-9]+%")
_IANA_SVC_NAME: Final = re.compile(r"[-a-z0-9]+")
_HAS_LETTER: Final = re.compile(r"[a-z]")

DNS_LABEL_MAX: Final = 63
DNS_SUBDOMAIN_MAX: Final = 253
PORT_NAME_MAX: Final = 15


def quote(value: object) -> str:
    """A value as Kubernetes prints it in errors: strings quoted, numbers bare."""
    if isinstance(value, str):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return json.dumps(dict(value), sort_keys=True, separators=(",", ":"))
    return str(value)


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(path, f"Required value: {detail}" if detail else "Required value")


def invalid(path: str, value: object, detail: str) -> FieldError:
    return FieldError(path, f"Invalid value: {quote(value)}: {detail}")


def unsupported(path: str, value: object, supported: Iterable[str]) -> FieldError:
    values = ", ".join(quote(s) for s in supported)
    return FieldError(path, f"Unsupported value: {quote(value)}: supported values: {values}")


def duplicate(path: str, value: object) -> FieldError:
    return FieldError(path, f"Duplicate value: {quote(value)}")


def too_long(path: str, limit: int) -> FieldError:
    """`field.TooLong`: Kubernetes prints the whole object's path as `[]`."""
    return FieldError(path or "[]", f"Too long: may not be more than {limit} bytes")


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(path, f"Forbidden: {detail}")


def not_found(path: str, value: object) -> FieldError:
    return FieldError(path, f"Not found: {quote(value)}")


def check_enum(errors: Errors, path: str, value: str | None, allowed: tuple[str, ...]) -> None:
    """`value` (when set) must be one of `allowed`."""
    if value is not None and value not in allowed:
        errors.append(unsupported(path, value, allowed))


def check_non_negative(errors: Errors, path: str, value: int | None) -> None:
    if value is not None and value < 0:
        errors.append(invalid(path, value, "must be greater than or equal to 0"))


def check_dns_label(errors: Errors, path: str, value: str, *, rfc1035: bool = False) -> None:
    """An RFC 1123 label (RFC 1035 with `rfc1035`: must also start with a letter)."""
    if _valid_dns_label(value, rfc1035):
        return
    pattern = _DNS_1035_LABEL if rfc1035 else _DNS_LABEL
    if len(value) > DNS_LABEL_MAX:
        errors.append(invalid(path, value, f"must be no more than {DNS_LABEL_MAX} characters"))
    elif not pattern.fullmatch(value):
        kind = "RFC 1035 label" if rfc1035 else "RFC 1123 label"
        start = "an alphabetic character" if rfc1035 else "an alphanumeric character"
        errors.append(
            invalid(
                path,
                value,
                f"a lowercase {kind} must consist of lower case alphanumeric characters or "
                f"'-', start with {start}, and end with an alphanumeric character "
                f"(e.g. 'my-name')",
            )
        )


@functools.lru_cache(maxsize=1 << 17)
def _valid_dns_label(value: str, rfc1035: bool) -> bool:
    # Names are checked on every write of their object: remember the good ones.
    pattern = _DNS_1035_LABEL if rfc1035 else _DNS_LABEL
    return len(value) <= DNS_LABEL_MAX and pattern.fullmatch(value) is not None


@functools.lru_cache(maxsize=1 << 17)
def _valid_dns_subdomain(value: str) -> bool:
    return len(value) <= DNS_SUBDOMAIN_MAX and _DNS_SUBDOMAIN.fullmatch(value) is not None


def check_dns_subdomain(errors: Errors, path: str, value: str) -> None:
    if _valid_dns_subdomain(value):
        return
    if len(value) > DNS_SUBDOMAIN_MAX:
        errors.append(invalid(path, value, f"must be no more than {DNS_SUBDOMAIN_MAX} characters"))
    elif not _DNS_SUBDOMAIN.fullmatch(value):
        errors.append(
            invalid(
                path,
                value,
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
                "characters, '-' or '.', and must start and end with an alphanumeric "
                "character (e.g. 'example.com')",
            )
        )


def check_path_segment_name(errors: Errors, path: str, value: str, *, prefix: bool = False) -> None:
    """A name that only has to be one URL path segment (Kubernetes' RBAC names):
    no '/' or '%', and not '.' or '..' (a generateName `prefix` may be those)."""
    if not prefix and value in (".", ".."):
        errors.append(invalid(path, value, f"may not be '{value}'"))
    for char in "/%":
        if char in value:
            errors.append(invalid(path, value, f"may not contain '{char}'"))


@functools.lru_cache(maxsize=16384)
def _key_problems(key: str) -> str:
    # Label keys and values repeat across objects ("app", "pod-template-hash"):
    # their verdicts are remembered, so validating a write costs no regex.
    return "; ".join(label_key_errors(key))


@functools.lru_cache(maxsize=16384)
def _value_problems(value: str) -> str:
    return "; ".join(label_value_errors(value))


def check_qualified_name(errors: Errors, path: str, key: str) -> None:
    """A qualified name such as `app.kubernetes.io/name` (label and annotation keys)."""
    problems = _key_problems(key)
    if problems:
        errors.append(invalid(path, key, problems))


def check_labels(errors: Errors, path: str, labels: Mapping[str, str]) -> None:
    for key, value in labels.items():
        check_qualified_name(errors, path, key)
        problems = _value_problems(value)
        if problems:
            errors.append(invalid(path, value, problems))


def check_port_number(errors: Errors, path: str, port: int, *, allow_zero: bool = False) -> None:
    low = 0 if allow_zero else 1
    if not low <= port <= 65535:
        errors.append(invalid(path, port, f"must be between {low} and 65535, inclusive"))


def check_port_name(errors: Errors, path: str, name: str) -> None:
    """An IANA service name: at most 15 lowercase alphanumerics or '-', with a
    letter, no '--', not starting or ending with '-'."""
    problem = ""
    if len(name) > PORT_NAME_MAX:
        problem = f"must be no more than {PORT_NAME_MAX} characters"
    elif not _IANA_SVC_NAME.fullmatch(name):
        problem = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
    elif "--" in name:
        problem = "must not contain consecutive hyphens"
    elif not _HAS_LETTER.search(name):
        problem = "must contain at least one letter (a-z)"
    elif name.startswith("-") or name.endswith("-"):
        problem = "must not begin or end with a hyphen"
    if problem:
        errors.append(invalid(path, name, problem))


def check_port_reference(errors: Errors, path: str, port: IntOrString) -> None:
    """A port number or a named port, as probes and targetPort give them."""
    if isinstance(port, int):
        check_port_number(errors, path, port)
    else:
        check_port_name(errors, path, port)


def check_int_or_percent(
    errors: Errors, path: str, value: IntOrString | None, *, at_most_100: bool = False
) -> None:
    """A non-negative count or a percentage such as `25%`."""
    if value is None:
        return
    if isinstance(value, int):
        check_non_negative(errors, path, value)
        return
    if not _PERCENT.fullmatch(value):
        errors.append(
            invalid(path, value, "a valid percent string must be a numeric string followed by '%'")
        )
    elif at_most_100 and int(value[:-1]) > 100:
        errors.append(invalid(path, value, "must not be greater than 100%"))


def is_zero(value: IntOrString | None) -> bool:
    """0 or 0% (what maxSurge and maxUnavailable may not both be)."""
    return value == 0 or (
        isinstance(value, str) and _PERCENT.fullmatch(value) is not None and int(value[:-1]) == 0
    )


_SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist")
_NODE_SELECTOR_OPERATORS: Final = ("In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt")


def check_label_selector(errors: Errors, path: str, selector: LabelSelector | None) -> None:
    """metav1.LabelSelector: valid labels, operators and values per operator."""
    if selector is None:
        return
    check_labels(errors, f"{path}.matchLabels", selector.match_labels)
    for index, expression in enumerate(selector.match_expressions):
        at = f"{path}.matchExpressions[{index}]"
        check_qualified_name(errors, f"{at}.key", expression.key)
        if expression.operator not in _SELECTOR_OPERATORS:
            errors.append(
                invalid(f"{at}.operator", expression.operator, "not a valid selector operator")
            )
        elif expression.operator in ("In", "NotIn") and not expression.values:
            errors.append(
                required(f"{at}.values", "must be specified when `operator` is 'In' or 'NotIn'")
            )
        elif expression.operator in ("Exists", "DoesNotExist") and expression.values:
            errors.append(
                forbidden(
                    f"{at}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                )
            )


def check_node_selector_requirement(
    errors: Errors, path: str, requirement: NodeSelectorRequirement
) -> None:
    """One node selector expression; Gt and Lt take exactly one integer value."""
    check_qualified_name(errors, f"{path}.key", requirement.key)
    operator = requirement.operator
    values = requirement.values
    if operator not in _NODE_SELECTOR_OPERATORS:
        errors.append(invalid(f"{path}.operator", operator, "not a valid selector operator"))
    elif operator in ("In", "NotIn") and not values:
        errors.append(
            required(f"{path}.values", "must be specified when `operator` is 'In' or 'NotIn'")
        )
    elif operator in ("Exists", "DoesNotExist") and values:
        errors.append(
            forbidden(
                f"{path}.values",
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )
        )
    elif operator in ("Gt", "Lt") and (len(values) != 1 or not _is_int(values[0])):
        errors.append(
            required(f"{path}.values", "must be specified single integer value for 'Gt' or 'Lt'")
        )


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
