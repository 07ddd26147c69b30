"""Structural sharing of immutable API values: one instance for equal values.

Role: objects handed out by the store are immutable and shared (DESIGN.md
"Objects handed out are shared"), so equal sub-objects need not be distinct
objects. Trusted internal writers (the kubelet's status builder, binding,
the store's create defaults) build their small values through here:

* `shared(model, **fields)` returns the one instance of `model` with these
  field values, building (and validating) it only the first time: a
  condition, a container state or a host IP that thousands of pods carry at
  once (the same type, status and virtual-clock transition time) is one
  object, and a kubelet rebuilding a pod's status gets back the very objects
  the stored revision holds, which keeps equality checks to identity tests
  and new revisions sharing every unchanged part with the previous one.
* `shared_list(items)` does the same for a list of shared items (a pod's
  conditions, its hostIPs).
* `compact(model)` lets an instance share its bookkeeping with every other
  instance of its kind: the set of fields that were given and empty lists
  and dicts, which pydantic makes per instance (a set alone is 216 bytes).

Contract: field values passed to `shared` are scalars (str, int, float,
bool, None, datetime), keyed by value, or values that came out of
`shared`/`shared_list` themselves, keyed by identity (the entry keeps them
alive, so an identity is never reused). The tables are bounded: when one is full it
is emptied, which only costs later sharing, never correctness. Nothing here
is mutated after it is handed out; the mutation detector (`engine.mutation`)
holds every writer to that.

Neighbours: `engine.api.base` (the models and `copied`), `engine.strategies`
(binding), `runtime.kubelet.podstatus` (the status builder).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel

__all__ = ["compact", "shared", "shared_list", "statistics"]

M = TypeVar("M", bound=BaseModel)

_MAX_ENTRIES = 1 << 17
"""Entries per table before it is emptied (about 25 MiB of keys and values at most)."""

_VALUES: dict[tuple[Any, ...], BaseModel] = {}
_LISTS: dict[tuple[int, ...], tuple[list[Any], tuple[Any, ...]]] = {}
_FIELD_SETS: dict[frozenset[str], set[str]] = {}
_EMPTY_LIST: list[Any] = []
_EMPTY_DICT: dict[str, Any] = {}
_BY_VALUE = frozenset({str, int, float, bool, type(None), datetime})


def shared(model: type[M], /, **fields: Any) -> M:
    """The instance of `model` with exactly these fields (attribute names),
    validated once and shared by every caller asking for the same values."""
    key = (model, *_key_parts(model, fields))
    found = _VALUES.get(key)
    if found is None:
        if len(_VALUES) >= _MAX_ENTRIES:
            _VALUES.clear()
        found = model(**fields)
        values = found.__dict__
        for name, value in fields.items():
            if value.__class__ not in _BY_VALUE:
                # Validation may have rebuilt it (a list): keep the very
                # object the key names, so the entry keeps its id alive.
                values[name] = value
        _VALUES[key] = compact(found)
    return found  # type: ignore[return-value]


def shared_list(items: list[M]) -> list[M]:
    """One list object for every equal list of shared items (`items` itself
    the first time). Never append to what this returns."""
    if not items:
        return _EMPTY_LIST
    key = tuple(map(id, items))
    found = _LISTS.get(key)
    if found is None:
        if len(_LISTS) >= _MAX_ENTRIES:
            _LISTS.clear()
        # The tuple keeps the items alive, so their ids in the key stay theirs.
        found = (items, tuple(items))
        _LISTS[key] = found
    return found[0]


def compact(model: M) -> M:
    """`model` with its fields-set and its empty list and dict fields shared
    with other instances (changed in place: call it only on a new object
    before anyone else sees it)."""
    values = model.__dict__
    for name, value in values.items():
        if value is _EMPTY_LIST or value is _EMPTY_DICT:
            continue
        if type(value) is list and not value:
            values[name] = _EMPTY_LIST
        elif type(value) is dict and not value:
            values[name] = _EMPTY_DICT
    fields_set = model.__pydantic_fields_set__
    key = frozenset(fields_set)
    canonical = _FIELD_SETS.get(key)
    if canonical is None:
        canonical = _FIELD_SETS[key] = set(key)
    object.__setattr__(model, "__pydantic_fields_set__", canonical)
    return model


def statistics() -> dict[str, int]:
    """How many shared values, lists and field sets are held now."""
    return {"values": len(_VALUES), "lists": len(_LISTS), "field_sets": len(_FIELD_SETS)}


def _key_parts(model: type[BaseModel], fields: dict[str, Any]) -> list[Any]:
    parts: list[Any] = []
    for name, value in fields.items():
        parts.append(name)
        if value.__class__ in _BY_VALUE:
            parts.append(value)
        elif isinstance(value, (BaseModel, list)):
            # Shared values are keyed by identity; the stored instance holds
            # them, so they outlive the entry and the id stays theirs.
            parts.append(id(value))
        else:
            raise TypeError(f"shared {model.__name__}.{name}: {value!r} is no shared value")
    return parts
