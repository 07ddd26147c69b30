"""Small core/v1 types shared by many kinds: IntOrString, object references and
condition lookup.

`IntOrString` is Kubernetes' `intstr.IntOrString`: a port number or port name,
a count or a percentage (`25%`). It stays exactly what the manifest said: `80`
is an int, `"80"` a string, as the apiserver keeps them. `scaled_value`
resolves a count-or-percentage against a total as the controllers do.

Neighbours: every other module of `engine.api.core`, and `engine.api.apps`,
`engine.api.policy`, `engine.api.networking` for IntOrString.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Protocol, TypeAlias, TypeVar

from engine.api.base import KubeModel
from engine.api.integers import Int32, Int64

__all__ = [
    "Condition",
    "IntOrString",
    "LocalObjectReference",
    "ObjectReference",
    "TypedLocalObjectReference",
    "TypedObjectReference",
    "find_condition",
    "is_percent",
    "scaled_value",
]

IntOrString: TypeAlias = Int32 | str
"""An int or a string (`intstr.IntOrString`); `25%`, `http` and `8080` are all valid."""

_PERCENT = re.compile(r"^[0-9]+%$")


def is_percent(value: IntOrString) -> bool:
    """True for a percentage string such as `25%`."""
    return isinstance(value, str) and _PERCENT.match(value) is not None


def scaled_value(value: IntOrString, total: int, *, round_up: bool) -> int:
    """A count, or a percentage of `total` rounded up or down (Kubernetes'
    GetScaledValueFromIntOrPercent). ValueError for any other string."""
    if isinstance(value, int):
        return value
    if not is_percent(value):
        raise ValueError(f"invalid value for IntOrString: invalid value {value!r}")
    scaled = int(value[:-1]) * total
    return -(-scaled // 100) if round_up else scaled // 100


class ObjectReference(KubeModel):
    """A reference to any object, possibly to a field within it (`fieldPath`)."""

    api_version: str | None = None
    kind: str | None = None
    namespace: str | None = None
    name: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    field_path: str | None = None


class LocalObjectReference(KubeModel):
    """The name of an object in the same namespace (e.g. an image pull secret)."""

    name: str | None = None


class TypedLocalObjectReference(KubeModel):
    """A typed reference to an object in the same namespace."""

    api_group: str | None = None
    kind: str
    name: str


class TypedObjectReference(KubeModel):
    """A typed reference to an object, possibly in another namespace."""

    api_group: str | None = None
    kind: str
    name: str
    namespace: str | None = None


class Condition(KubeModel):
    """metav1.Condition, the standard condition shape (Service, PDB, ...)."""

    type: str
    status: str
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None
    observed_generation: Int64 | None = None


class _Condition(Protocol):
    @property
    def type(self) -> str: ...


C = TypeVar("C", bound=_Condition)


def find_condition(conditions: Iterable[C], condition_type: str) -> C | None:
    """The condition of the given type, or None (conditions are keyed by type)."""
    for condition in conditions:
        if condition.type == condition_type:
            return condition
    return None
