"""Kubernetes' integer types: every integer field of the API is an int32 or an
int64 in Go, and a value outside its range never reaches the object.

`Int32` and `Int64` are the annotated types the models use (strict: `"3"` is
not an integer, as in Kubernetes' JSON decoding). Their bounds are pydantic
`ge`/`le` constraints, checked in pydantic's core at no measurable cost.
`range_message` turns pydantic's bound error into Kubernetes' wording for an
out-of-range number, so `spec.replicas: 2147483648` reads as
`spec.replicas: value 2147483648 is out of range for int32 (-2147483648 to
2147483647)` with its field path (the apiserver answers such a manifest with
`cannot unmarshal number 2147483648 into Go struct field
DeploymentSpec.spec.replicas of type int32`).

Neighbours: every model in `engine.api`; `engine.manifests` reports the errors.
"""

from __future__ import annotations

from typing import Annotated, Any, Final, TypeAlias

from pydantic import Field, StrictInt

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "Int32",
    "Int64",
    "out_of_range",
    "range_message",
]

INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1

Int32: TypeAlias = Annotated[StrictInt, Field(ge=INT32_MIN, le=INT32_MAX)]
"""A Go `int32` field: replicas, ports, counts, most `*Seconds`."""

Int64: TypeAlias = Annotated[StrictInt, Field(ge=INT64_MIN, le=INT64_MAX)]
"""A Go `int64` field: generations, user and group ids, grace periods."""

_RANGES: Final = {"int32": (INT32_MIN, INT32_MAX), "int64": (INT64_MIN, INT64_MAX)}
_BOUND_ERRORS: Final = {"greater_than_equal": "ge", "less_than_equal": "le"}


def range_message(error_type: str, context: dict[str, Any] | None, value: Any) -> str | None:
    """Kubernetes' message for a pydantic bound error on an Int32 or Int64
    field; None for any other error (a field's own `ge=0` keeps pydantic's)."""
    bound = _BOUND_ERRORS.get(error_type)
    if bound is None or context is None:
        return None
    limit = context.get(bound)
    for width, (low, high) in _RANGES.items():
        if limit == (low if bound == "ge" else high):
            return out_of_range(value, width)
    return None


def out_of_range(value: object, width: str = "int32") -> str:
    """The message for `value` outside the range of an int32 or int64."""
    low, high = _RANGES[width]
    return f"value {value} is out of range for {width} ({low} to {high})"
