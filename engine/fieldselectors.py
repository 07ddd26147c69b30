"""Field selectors (`metadata.name=x,spec.nodeName!=,status.phase==Running`):
parse once, match fast, with Kubernetes' per-kind list of selectable fields.

Contract:

* Syntax as Kubernetes' `fields.ParseSelector`: comma-separated terms, each
  `field=value`, `field==value` or `field!=value`; `\\,` `\\=` `\\\\` escape
  those characters in values. Values are taken verbatim (no trimming); the
  field name is trimmed.
* A field that is absent (None) on the object reads as "", so
  `spec.nodeName=` selects unbound pods and `spec.nodeName!=` bound ones.
  Booleans read as `true`/`false` and integers in decimal, with Go's zero
  values (`false`, `0`) when unset, as Kubernetes' field sets do.
* Each kind supports only the fields Kubernetes supports for it (every kind:
  `metadata.name`, `metadata.namespace`; Pod, Node, Namespace, Secret, Event,
  ReplicaSet, ReplicationController, Job add their own; see `_BUILTIN_FIELDS`).
  Any other field raises `InvalidSelector("field label not supported: ...")`,
  up front when the selector is parsed for a kind, else on the first match of
  an object of that kind. Custom kinds add fields with `register_fields`.
* `str()` is canonical (terms sorted, values escaped) and re-parses equal.

Neighbours: `engine.selectors` (label selectors; `InvalidSelector` lives
there), `engine.store` and informers (filter lists and watches; use
`exact_match("spec.nodeName")` to pick an index instead of scanning).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from typing import Any, Final

from pydantic import BaseModel

from engine.api.base import Resource
from engine.selectors import InvalidSelector

__all__ = [
    "FieldExtractor",
    "FieldOperator",
    "FieldRequirement",
    "FieldSelector",
    "field_value",
    "parse_field_selector",
    "path_extractor",
    "register_fields",
    "supported_fields",
]

FieldExtractor = Callable[[Any], object]
"""Reads one field of an object; the result is printed as Kubernetes prints
field values (None -> "", bool -> "true"/"false", int -> decimal)."""


class FieldOperator(StrEnum):
    """`=` (also written `==`) or `!=`."""

    EQUALS = "="
    NOT_EQUALS = "!="


# -- reading fields ----------------------------------------------------------


def _as_field_string(value: object) -> str:
    if type(value) is str:
        return value
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


_ATTRIBUTE_NAMES: dict[tuple[type[BaseModel], str], str | None] = {}


def _attribute_name(model: type[BaseModel], wire_name: str) -> str | None:
    """The Python attribute behind a camelCase wire name, via the model's aliases."""
    key = (model, wire_name)
    try:
        return _ATTRIBUTE_NAMES[key]
    except KeyError:
        pass
    found: str | None = None
    for name, info in model.model_fields.items():
        if info.alias == wire_name or (info.alias is None and name == wire_name):
            found = name
            break
    _ATTRIBUTE_NAMES[key] = found
    return found


def _step(value: Any, wire_name: str) -> Any:
    if isinstance(value, Mapping):
        return value.get(wire_name)
    if isinstance(value, BaseModel):
        name = _attribute_name(type(value), wire_name)
        if name is not None:
            return getattr(value, name)
        extra = value.model_extra
        return extra.get(wire_name) if extra else None
    return None


def path_extractor(path: str, default: object = None) -> FieldExtractor:
    """An extractor that follows a camelCase wire path (`spec.nodeName`)
    through models (by alias) and plain dicts (unstructured objects)."""
    steps = tuple(path.split("."))

    def extract(obj: Any) -> object:
        value = obj
        for wire_name in steps:
            value = _step(value, wire_name)
            if value is None:
                return default
        return value

    return extract


def _attrs(*names: str, default: object = None) -> FieldExtractor:
    """A fast extractor over snake_case attributes; a missing link reads as `default`."""

    def extract(obj: Any) -> object:
        value = obj
        for name in names:
            value = getattr(value, name, None)
            if value is None:
                return default
        return value

    return extract


def _pod_ip(pod: Any) -> object:
    # Kubernetes selects on the first of status.podIPs; podIP mirrors it.
    status = getattr(pod, "status", None)
    ips = getattr(status, "pod_ips", None)
    if ips:
        return getattr(ips[0], "ip", None)
    return getattr(status, "pod_ip", None)


_COMMON_FIELDS: Final[dict[str, FieldExtractor]] = {
    "metadata.name": _attrs("metadata", "name"),
    "metadata.namespace": _attrs("metadata", "namespace"),
}

# Kubernetes' field label conversions (pkg/apis/*/v1/conversion.go) and the
# selectable field sets of each kind's registry strategy.
_BUILTIN_FIELDS: Final[dict[str, dict[str, FieldExtractor]]] = {
    "Pod": {
        "spec.nodeName": _attrs("spec", "node_name"),
        "spec.restartPolicy": _attrs("spec", "restart_policy"),
        "spec.schedulerName": _attrs("spec", "scheduler_name"),
        "spec.serviceAccountName": _attrs("spec", "service_account_name"),
        "spec.hostNetwork": _attrs("spec", "host_network", default=False),
        "status.phase": _attrs("status", "phase"),
        "status.podIP": _pod_ip,
        "status.nominatedNodeName": _attrs("status", "nominated_node_name"),
    },
    "Node": {"spec.unschedulable": _attrs("spec", "unschedulable", default=False)},
    "Namespace": {"status.phase": _attrs("status", "phase")},
    "Secret": {"type": _attrs("type")},
    "Event": {
        "involvedObject.kind": _attrs("involved_object", "kind"),
        "involvedObject.namespace": _attrs("involved_object", "namespace"),
        "involvedObject.name": _attrs("involved_object", "name"),
        "involvedObject.uid": _attrs("involved_object", "uid"),
        "involvedObject.apiVersion": _attrs("involved_object", "api_version"),
        "involvedObject.resourceVersion": _attrs("involved_object", "resource_version"),
        "involvedObject.fieldPath": _attrs("involved_object", "field_path"),
        "reason": _attrs("reason"),
        "reportingComponent": _attrs("reporting_component"),
        "source": _attrs("source", "component"),
        "type": _attrs("type"),
    },
    "ReplicaSet": {"status.replicas": _attrs("status", "replicas", default=0)},
    "ReplicationController": {"status.replicas": _attrs("status", "replicas", default=0)},
    "Job": {"status.successful": _attrs("status", "successful", default=0)},
}

# Old names Kubernetes still accepts, rewritten to the current one per kind.
_ALIASES: Final[dict[str, dict[str, str]]] = {"Pod": {"spec.host": "spec.nodeName"}}

_fields: dict[str, dict[str, FieldExtractor]] = {
    kind: {**_COMMON_FIELDS, **fields} for kind, fields in _BUILTIN_FIELDS.items()
}


def _kind_name(kind: str | type[Resource]) -> str:
    return kind if isinstance(kind, str) else kind.kind_name


def register_fields(
    kind: str | type[Resource], fields: Mapping[str, FieldExtractor | None]
) -> None:
    """Make `fields` selectable for a kind (by kind name). An extractor of None
    follows the field's camelCase path through the object (`path_extractor`).
    `metadata.name` and `metadata.namespace` are always selectable."""
    name = _kind_name(kind)
    table = _fields.setdefault(name, dict(_COMMON_FIELDS))
    for path, extractor in fields.items():
        table[path] = extractor if extractor is not None else path_extractor(path)


def supported_fields(kind: str | type[Resource]) -> frozenset[str]:
    """The field names selectable for a kind."""
    name = _kind_name(kind)
    return frozenset(_fields.get(name, _COMMON_FIELDS)) | frozenset(_ALIASES.get(name, {}))


def _extractor(kind_name: str, path: str) -> FieldExtractor:
    path = _ALIASES.get(kind_name, {}).get(path, path)
    extractor = _fields.get(kind_name, _COMMON_FIELDS).get(path)
    if extractor is None:
        raise InvalidSelector(f'field label not supported: {path} (kind "{kind_name}")')
    return extractor


def field_value(obj: Any, path: str) -> str:
    """The selectable value of one field of an object, as a selector sees it."""
    return _as_field_string(_extractor(_object_kind(obj), path)(obj))


def _object_kind(obj: Any) -> str:
    if isinstance(obj, Mapping):
        return str(obj.get("kind", ""))
    return getattr(obj, "kind", "") or getattr(type(obj), "kind_name", "")


# -- parsing -----------------------------------------------------------------


def _split_terms(text: str) -> list[str]:
    """Split on commas that are not escaped by a backslash."""
    terms: list[str] = []
    start = 0
    escaped = False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


_OPERATORS_LONGEST_FIRST: Final = ("!=", "==", "=")


def _split_term(term: str) -> tuple[str, FieldOperator, str] | None:
    for i in range(len(term)):
        for op in _OPERATORS_LONGEST_FIRST:
            if term.startswith(op, i):
                operator = FieldOperator.NOT_EQUALS if op == "!=" else FieldOperator.EQUALS
                return term[:i], operator, term[i + len(op) :]
    return None


def _unescape(value: str, term: str) -> str:
    if "\\" not in value and "," not in value and "=" not in value:
        return value
    out: list[str] = []
    escaped = False
    for ch in value:
        if escaped:
            if ch not in "\\,=":
                raise InvalidSelector(
                    f"invalid escape sequence '\\{ch}' in field selector {term!r}"
                )
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            raise InvalidSelector(f"unescaped '{ch}' in the value of field selector term {term!r}")
        else:
            out.append(ch)
    if escaped:
        raise InvalidSelector(f"invalid escape sequence '\\' at the end of {term!r}")
    return "".join(out)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


# -- the selector --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    """One term: `field` compared with `value` by `operator`."""

    field: str
    operator: FieldOperator
    value: str

    def __str__(self) -> str:
        return f"{self.field}{self.operator.value}{_escape(self.value)}"


# A compiled term: (extractor, wanted value, True for = / False for !=).
_Check = tuple[FieldExtractor, str, bool]


@dataclass(frozen=True, slots=True)
class FieldSelector:
    """A compiled field selector: every requirement must hold. Compiled per
    kind on first use (register custom fields before matching that kind)."""

    requirements: tuple[FieldRequirement, ...] = ()
    _by_kind: dict[str, tuple[_Check, ...]] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )

    @classmethod
    def of(
        cls, requirements: list[FieldRequirement] | tuple[FieldRequirement, ...]
    ) -> FieldSelector:
        ordered = sorted(requirements, key=lambda r: (r.field, r.operator.value, r.value))
        return cls(tuple(ordered))

    @classmethod
    def empty(cls) -> FieldSelector:
        """Matches every object."""
        return cls()

    @classmethod
    def equals(cls, field_name: str, value: str) -> FieldSelector:
        """`field_name=value`, without parsing (values need no escaping)."""
        return cls((FieldRequirement(field_name, FieldOperator.EQUALS, value),))

    def is_empty(self) -> bool:
        return not self.requirements

    def exact_match(self, field_name: str) -> str | None:
        """The value this selector requires `field_name` to equal, if it does
        (Kubernetes' RequiresExactMatch): lets callers use an index."""
        for r in self.requirements:
            if r.field == field_name and r.operator is not FieldOperator.NOT_EQUALS:
                return r.value
        return None

    def check(self, kind: str | type[Resource]) -> None:
        """Raise InvalidSelector unless every field is selectable for `kind`."""
        self._compiled(_kind_name(kind))

    def _compiled(self, kind_name: str) -> tuple[_Check, ...]:
        checks = self._by_kind.get(kind_name)
        if checks is None:
            checks = tuple(
                (_extractor(kind_name, r.field), r.value, r.operator is FieldOperator.EQUALS)
                for r in self.requirements
            )
            # Benign race: two tasks may compile the same thing; both results are equal.
            self._by_kind[kind_name] = checks
        return checks

    def matches(self, obj: Any) -> bool:
        """Whether `obj` (a model, or a dict with `kind`) satisfies every term."""
        if not self.requirements:
            return True
        for extract, wanted, equal in self._compiled(_object_kind(obj)):
            value = extract(obj)
            if type(value) is not str:
                value = _as_field_string(value)
            if (value == wanted) is not equal:
                return False
        return True

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def parse_field_selector(text: str, kind: str | type[Resource] | None = None) -> FieldSelector:
    """Parse `a=b,c!=d,e==f`; "" selects everything. With `kind`, every field
    is checked to be selectable for that kind now rather than at match time."""
    requirements: list[FieldRequirement] = []
    for term in _split_terms(text):
        if not term:
            continue
        parts = _split_term(term)
        if parts is None:
            raise InvalidSelector(
                f"invalid field selector {text!r}: can't understand {term!r} "
                "(expected field=value, field==value or field!=value)"
            )
        name, op, raw_value = parts
        requirements.append(FieldRequirement(name.strip(), op, _unescape(raw_value, term)))
    selector = FieldSelector.of(requirements)
    if kind is not None:
        selector.check(kind)
    return selector
