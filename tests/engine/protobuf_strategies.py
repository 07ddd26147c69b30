"""Hypothesis strategies for JSON-shaped objects of any kind that has a protobuf
message, built from the message descriptors themselves: every field may
appear, with values of its type (special types in their JSON form, inline
structs flattened into their parent). A value field (a Go value, not a
pointer) is never zero, since its zero is the same as its absence; a pointer
field may be zero. So decoding the encoding of such a dict gives it back."""

from __future__ import annotations

import base64
import functools
from datetime import UTC, datetime
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from hypothesis import strategies as st

from engine.protobuf.codec import INLINE, go_duration
from engine.protobuf.descriptors import META, catalogue
from engine.registry import builtin_registry

__all__ = ["objects", "protobuf_kinds"]

_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)
_RANGES = {
    FieldDescriptor.TYPE_INT32: _INT32,
    FieldDescriptor.TYPE_INT64: _INT64,
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
}
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
MAX_DEPTH = 4


def protobuf_kinds() -> list[tuple[str, str]]:
    """(apiVersion, kind) of every served kind that has a protobuf message."""
    cat = catalogue()
    return sorted(
        (info.api_version, info.kind)
        for info in builtin_registry()
        if cat.message(info.api_version, info.kind) is not None
    )


def _nonzero(value: bool, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy.filter(bool) if value else strategy


def _time(micro: bool) -> st.SearchStrategy[str]:
    def text(seconds: int, micros: int) -> str:
        moment = datetime.fromtimestamp(seconds, UTC)
        if not micro:
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{micros:06d}Z"

    return st.builds(text, st.integers(1, 4_000_000_000), st.integers(0, 999_999))


def _special(full: str, value: bool) -> st.SearchStrategy[Any] | None:
    resource = "k8s.io.apimachinery.pkg.api.resource"
    strategies: dict[str, st.SearchStrategy[Any]] = {
        f"{META}.Time": _time(False),
        f"{META}.MicroTime": _time(True),
        f"{META}.Duration": st.integers(-(10**13), 10**13).map(go_duration),
        f"{resource}.Quantity": st.sampled_from(["0", "1", "500m", "1Gi", "2.5", "100Mi", "1e3"]),
        f"{resource}.QuantityValue": st.sampled_from(["1", "250m"]),
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _nonzero(
            value, st.integers(*_INT32) | _TEXT
        ),
        "k8s.io.apimachinery.pkg.runtime.RawExtension": st.dictionaries(_TEXT, _JSON, max_size=3),
        f"{META}.FieldsV1": st.dictionaries(_TEXT, _JSON, max_size=3),
    }
    if full.endswith((".Verbs", ".ExtraValue")):
        return st.lists(_TEXT, min_size=1, max_size=3)
    return strategies.get(full)


def _scalar(field: FieldDescriptor, value: bool) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.just(True) if value else st.booleans()
    if kind in _RANGES:
        return _nonzero(value, st.integers(*_RANGES[kind]))
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return _nonzero(value, st.floats(allow_nan=False, allow_infinity=False))
    if kind == FieldDescriptor.TYPE_BYTES:
        raw = st.binary(min_size=1 if value else 0, max_size=8)
        return raw.map(lambda b: base64.b64encode(b).decode())
    return _nonzero(value, _TEXT)


def _value(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any] | None:
    """One value of a singular field, or None where the depth runs out."""
    value = catalogue().is_value(field)
    message = field.message_type
    if message is None:
        return _scalar(field, value)
    special = _special(message.full_name, value)
    if special is not None:
        return special
    if depth >= MAX_DEPTH:
        return None
    return _documents(message, depth + 1)


def _field(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any] | None:
    entry = field.message_type
    if field.is_repeated and entry is not None and entry.GetOptions().map_entry:
        item = _value(entry.fields_by_name["value"], depth)
        return None if item is None else st.dictionaries(_TEXT, item, min_size=1, max_size=2)
    item = _value(field, depth)
    if item is None or not field.is_repeated:
        return item
    return st.lists(item, min_size=1, max_size=2)


@functools.cache
def _documents(descriptor: Descriptor, depth: int) -> st.SearchStrategy[dict[str, Any]]:
    optional: dict[str, st.SearchStrategy[Any]] = {}
    inline: list[st.SearchStrategy[dict[str, Any]]] = []
    for field in descriptor.fields:
        if field.full_name in INLINE:
            inline.append(_documents(field.message_type, depth))
            continue
        strategy = _field(field, depth)
        if strategy is not None:
            optional[field.json_name] = strategy
    own = st.fixed_dictionaries({}, optional=optional)

    def merged(parts: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for part in parts:
            out.update(part)
        return out

    return st.tuples(own, *inline).map(merged)


@st.composite
def objects(draw: st.DrawFn) -> dict[str, Any]:
    """A JSON-shaped object of a kind with a protobuf form."""
    api_version, kind = draw(st.sampled_from(protobuf_kinds()))
    descriptor = catalogue().message(api_version, kind)
    assert descriptor is not None
    body = draw(_documents(descriptor, 0))
    return {"apiVersion": api_version, "kind": kind, **body}
