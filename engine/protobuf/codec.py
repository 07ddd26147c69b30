"""Kubernetes objects between their JSON shape (dicts, as the JSON path of the
API reads and writes them) and their protobuf messages.

`to_document(message)` gives the dict that Go's JSON encoding of the same
object gives; `to_message(document, descriptor)` the message Go would send
for that dict. Fields are matched by their JSON names (`json_name`, which
the descriptor set gives where it is not the protobuf name). What Go's types add beyond the
messages:

* Zero values. Go writes every value field (gogo `nullable = false`) whatever
  its value, and a pointer field only when set. Decoding drops a zero scalar
  of a value field, as `omitempty` does in JSON, and keeps every pointer field
  that is on the wire, zero or not (`replicas: 0`). A message field on the
  wire is kept even when empty (`emptyDir: {}`), as JSON keeps it.
* Inline structs: a few Go structs are embedded with `json:",inline"` (a
  Volume's VolumeSource, a Probe's handler, a key selector's
  LocalObjectReference, ...); their message is a field, their JSON fields sit
  in the parent. `INLINE` lists them; no descriptor records it.
* Special messages: `meta/v1.Time` (seconds, nanos; RFC 3339 to the second,
  the zero time is absent), `MicroTime` (to the microsecond), `Duration`
  (nanoseconds; Go's "1m30s"), `resource.Quantity` (its string),
  `intstr.IntOrString` (a number or a string), `runtime.RawExtension` and
  `meta/v1.FieldsV1` (their JSON bytes, or a nested protobuf object), and
  named slices (`Verbs`, `ExtraValue`) that are plain arrays in JSON.
* `bytes` fields (Secret data) are base64 in JSON.

Bad input raises `ProtobufError` naming the field path and what is wrong.

Neighbours: `engine.protobuf.descriptors` (the messages), `engine.protobuf.
envelope` (the `k8s\\x00` + `runtime.Unknown` framing).
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from engine.errors import BadRequest
from engine.protobuf.descriptors import META, Catalogue, catalogue

__all__ = ["INLINE", "ProtobufError", "to_document", "to_message"]

_CORE = "k8s.io.api.core.v1"
INLINE: Final = frozenset(
    {
        f"{_CORE}.ConfigMapEnvSource.localObjectReference",
        f"{_CORE}.ConfigMapKeySelector.localObjectReference",
        f"{_CORE}.ConfigMapProjection.localObjectReference",
        f"{_CORE}.ConfigMapVolumeSource.localObjectReference",
        f"{_CORE}.SecretEnvSource.localObjectReference",
        f"{_CORE}.SecretKeySelector.localObjectReference",
        f"{_CORE}.SecretProjection.localObjectReference",
        f"{_CORE}.EphemeralContainer.ephemeralContainerCommon",
        f"{_CORE}.PersistentVolumeSpec.persistentVolumeSource",
        f"{_CORE}.Probe.handler",
        f"{_CORE}.Volume.volumeSource",
        "k8s.io.api.networking.v1.IngressRule.ingressRuleValue",
        "k8s.io.api.admissionregistration.v1.NamedRuleWithOperations.ruleWithOperations",
        "k8s.io.api.admissionregistration.v1.RuleWithOperations.rule",
    }
)
"""Fields whose Go struct is embedded with `json:",inline"`."""

_TIME = f"{META}.Time"
_MICRO_TIME = f"{META}.MicroTime"
_DURATION = f"{META}.Duration"
_FIELDS = f"{META}.FieldsV1"
_RAW = "k8s.io.apimachinery.pkg.runtime.RawExtension"
_INT_OR_STRING = "k8s.io.apimachinery.pkg.util.intstr.IntOrString"
_RESOURCE = "k8s.io.apimachinery.pkg.api.resource"
_QUANTITIES = frozenset({f"{_RESOURCE}.Quantity", f"{_RESOURCE}.QuantityValue"})
_SLICES = frozenset(
    {
        f"{META}.Verbs",
        "k8s.io.api.authentication.v1.ExtraValue",
        "k8s.io.api.authorization.v1.ExtraValue",
        "k8s.io.api.certificates.v1.ExtraValue",
    }
)
MAGIC: Final = b"k8s\x00"
"""What every Kubernetes protobuf object starts with (see `engine.protobuf.envelope`)."""

_MESSAGE = FieldDescriptor.TYPE_MESSAGE
_BYTES = FieldDescriptor.TYPE_BYTES
_ABSENT: Final = object()


class ProtobufError(BadRequest):
    """A protobuf body that does not make an object: names the field and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        where = f" at {path}" if path else ""
        super().__init__(f"the protobuf body is invalid{where}: {problem}")


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# -- Go's formats ------------------------------------------------------------------

_UNITS: Final = (("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000))
_SMALL_UNITS: Final = (("ms", 1_000_000), ("µs", 1_000), ("us", 1_000), ("ns", 1))
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")


def go_duration(nanoseconds: int) -> str:
    """Go's `time.Duration.String()`: "1h2m3.5s", "150ms", "0s"."""
    if nanoseconds == 0:
        return "0s"
    sign, n = ("-", -nanoseconds) if nanoseconds < 0 else ("", nanoseconds)
    if n < 1_000_000_000:
        for unit, size in _SMALL_UNITS:
            if n >= size and unit != "us":
                return sign + _decimal(n, size) + unit
    hours, n = divmod(n, _UNITS[0][1])
    minutes, n = divmod(n, _UNITS[1][1])
    text = f"{hours}h{minutes}m" if hours else f"{minutes}m" if minutes else ""
    return sign + text + _decimal(n, _UNITS[2][1]) + "s"


def _decimal(n: int, size: int) -> str:
    whole, rest = divmod(n, size)
    if not rest:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{rest:0{digits}d}".rstrip("0")


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a Go duration string; ValueError if it is not one."""
    body = text[1:] if text[:1] in "+-" else text
    if body == "0":
        return 0
    sizes = dict(_UNITS + _SMALL_UNITS)
    total, end = 0.0, 0
    for match in _DURATION_PART.finditer(body):
        if match.start() != end:
            break
        total += float(match.group(1)) * sizes[match.group(2)]
        end = match.end()
    if not body or end != len(body):
        raise ValueError(f"invalid duration {text!r}")
    return -round(total) if text.startswith("-") else round(total)


def _time_text(seconds: int, nanos: int, micro: bool, path: str) -> str:
    try:
        moment = datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise ProtobufError(path, f"time out of range ({seconds} seconds)") from None
    if not micro:
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{nanos // 1000:06d}Z"


def _parse_time(value: Any, path: str) -> tuple[int, int]:
    if not isinstance(value, str):
        raise ProtobufError(path, f"a time must be an RFC 3339 string, got {value!r}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ProtobufError(path, f"invalid RFC 3339 time {value!r}") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    whole = moment.replace(microsecond=0)
    return int(whole.timestamp()), moment.microsecond * 1000


# -- decoding ----------------------------------------------------------------------


def to_document(message: Message, cat: Catalogue | None = None) -> dict[str, Any]:
    """The JSON shape of a decoded message (see the module docstring)."""
    value = _decode_message(message, cat or catalogue(), "")
    if not isinstance(value, dict):
        raise ProtobufError("", f"{message.DESCRIPTOR.full_name} is not an object")
    return value


def _decode_special(message: Any, full: str, path: str) -> Any:
    if full in (_TIME, _MICRO_TIME):
        seconds, nanos = message.seconds, message.nanos
        if not seconds and not nanos:
            return _ABSENT  # Go's zero time: null in JSON
        return _time_text(seconds, nanos, full == _MICRO_TIME, path)
    if full == _DURATION:
        return go_duration(message.duration)
    if full in _QUANTITIES:
        text: str = message.string
        return text if text else _ABSENT
    if full == _INT_OR_STRING:
        if message.type == 1:
            return message.strVal
        if message.type != 0:
            raise ProtobufError(path, f"IntOrString type {message.type} is neither 0 nor 1")
        return message.intVal
    if full in (_RAW, _FIELDS):
        raw: bytes = message.raw if full == _RAW else message.Raw
        return _decode_raw(raw, path) if raw else _ABSENT
    return list(message.items)


_SPECIAL: Final = frozenset(
    {_TIME, _MICRO_TIME, _DURATION, _INT_OR_STRING, _RAW, _FIELDS, *_QUANTITIES, *_SLICES}
)


def _decode_raw(raw: bytes, path: str) -> Any:
    if raw.startswith(MAGIC):
        from engine.protobuf.envelope import decode

        return decode(raw, what=path)
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ProtobufError(path, f"the embedded object is not JSON ({error})") from None


def _zero(value: Any) -> bool:
    return value is _ABSENT or (not value and not isinstance(value, dict))


def _decode_message(message: Message, cat: Catalogue, path: str) -> Any:
    full = message.DESCRIPTOR.full_name
    if full in _SPECIAL:
        return _decode_special(message, full, path)
    out: dict[str, Any] = {}
    for field, value in message.ListFields():
        key = field.json_name
        where = _join(path, key)
        if field.is_repeated:
            decoded = _decode_repeated(field, value, cat, where)
            if decoded:
                out[key] = decoded
            continue
        decoded = _decode_value(field, value, cat, where)
        if decoded is _ABSENT or (cat.is_value(field) and _zero(decoded)):
            continue
        if field.full_name in INLINE and isinstance(decoded, dict):
            out.update(decoded)
        else:
            out[key] = decoded
    return out


def _decode_value(field: FieldDescriptor, value: Any, cat: Catalogue, path: str) -> Any:
    if field.type == _MESSAGE:
        return _decode_message(value, cat, path)
    if field.type == _BYTES:
        return base64.b64encode(value).decode()
    if type(value) is bytes:  # a proto2 string whose bytes are not UTF-8
        raise ProtobufError(path, "a string field is not UTF-8")
    return value


def _decode_repeated(field: FieldDescriptor, value: Any, cat: Catalogue, path: str) -> Any:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        value_field = entry.fields_by_name["value"]
        mapped = {}
        for key, item in value.items():
            decoded = _decode_value(value_field, item, cat, f"{path}[{key}]")
            mapped[key] = None if decoded is _ABSENT else decoded
        return mapped
    items = [_decode_value(field, item, cat, f"{path}[{i}]") for i, item in enumerate(value)]
    return [None if item is _ABSENT else item for item in items]


# -- encoding ----------------------------------------------------------------------


def to_message(
    document: Mapping[str, Any], descriptor: Descriptor, *, lenient: bool = False
) -> Message:
    """The message for a JSON-shaped object (`apiVersion`/`kind` are left to
    the envelope and skipped here). A field the message does not have is an
    error, or, when `lenient`, left out (a field newer than the descriptors)."""
    cat = catalogue()
    message = cat.new(descriptor)
    body = {k: v for k, v in document.items() if k not in ("apiVersion", "kind")}
    _fill(message, body, _Encoding(cat, lenient), "")
    return message


class _Encoding:
    __slots__ = ("cat", "lenient")

    def __init__(self, cat: Catalogue, lenient: bool) -> None:
        self.cat = cat
        self.lenient = lenient


@functools.cache
def _routes(descriptor: Descriptor) -> dict[str, tuple[FieldDescriptor, ...]]:
    """JSON key -> the fields to follow to reach it (through inline structs)."""
    routes: dict[str, tuple[FieldDescriptor, ...]] = {}
    for field in descriptor.fields:
        if field.full_name in INLINE:
            for key, route in _routes(field.message_type).items():
                routes.setdefault(key, (field, *route))
        else:
            routes[field.json_name] = (field,)
    return routes


def _fill(message: Message, document: Any, cat: _Encoding, path: str) -> None:
    full = message.DESCRIPTOR.full_name
    if full in _SPECIAL:
        _encode_special(message, full, document, path)
        return
    if not isinstance(document, Mapping):
        raise ProtobufError(path, f"expected an object for {full}, got {document!r}")
    routes = _routes(message.DESCRIPTOR)
    for key, value in document.items():
        if value is None:
            continue
        where = _join(path, key)
        route = routes.get(key)
        if route is None:
            if cat.lenient:
                continue
            raise ProtobufError(where, f"unknown field {key!r} in {full}")
        owner = message
        for step in route[:-1]:
            owner = getattr(owner, step.name)
            owner.SetInParent()
        _set(owner, route[-1], value, cat, where)


def _set(message: Message, field: FieldDescriptor, value: Any, cat: _Encoding, path: str) -> None:
    name = field.name
    try:
        if field.is_repeated:
            _set_repeated(getattr(message, name), field, value, cat, path)
        elif field.type == _MESSAGE:
            child = getattr(message, name)
            child.SetInParent()
            _fill(child, value, cat, path)
        else:
            setattr(message, name, _scalar(field, value, path))
    except (TypeError, ValueError) as error:
        if isinstance(error, ProtobufError):
            raise
        raise ProtobufError(path, str(error)) from None


def _set_repeated(
    container: Any, field: FieldDescriptor, value: Any, cat: _Encoding, path: str
) -> None:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        if not isinstance(value, Mapping):
            raise ProtobufError(path, f"expected an object, got {value!r}")
        value_field = entry.fields_by_name["value"]
        for key, item in value.items():
            where = f"{path}[{key}]"
            if value_field.type == _MESSAGE:
                _fill(container[key], item, cat, where)
            else:
                container[key] = _scalar(value_field, item, where)
        return
    if not isinstance(value, list):
        raise ProtobufError(path, f"expected a list, got {value!r}")
    for i, item in enumerate(value):
        if field.type == _MESSAGE:
            _fill(container.add(), item, cat, f"{path}[{i}]")
        else:
            container.append(_scalar(field, item, f"{path}[{i}]"))


_INTEGERS = frozenset(
    {
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_INT64,
        FieldDescriptor.TYPE_UINT32,
        FieldDescriptor.TYPE_UINT64,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SINT64,
        FieldDescriptor.TYPE_FIXED32,
        FieldDescriptor.TYPE_FIXED64,
    }
)
_FLOATS = frozenset({FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT})


def _scalar(field: FieldDescriptor, value: Any, path: str) -> Any:
    kind = field.type
    if kind == _BYTES:
        if not isinstance(value, str):
            raise ProtobufError(path, f"expected base64 text, got {value!r}")
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise ProtobufError(path, "invalid base64 data") from None
    if kind == FieldDescriptor.TYPE_BOOL:
        ok = isinstance(value, bool)
    elif kind in _INTEGERS:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind in _FLOATS:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        raise ProtobufError(path, f"invalid value {value!r} for a {_TYPE_NAMES.get(kind, kind)}")
    return value


_TYPE_NAMES: Final[dict[int, str]] = {
    FieldDescriptor.TYPE_BOOL: "boolean",
    FieldDescriptor.TYPE_STRING: "string",
    **dict.fromkeys(_INTEGERS, "integer"),
    **dict.fromkeys(_FLOATS, "number"),
}


def _encode_special(message: Any, full: str, value: Any, path: str) -> None:
    setter: Callable[[str, Any], None] = functools.partial(setattr, message)
    if full in (_TIME, _MICRO_TIME):
        seconds, nanos = _parse_time(value, path)
        setter("seconds", seconds)
        if full == _MICRO_TIME:
            setter("nanos", nanos)
    elif full == _DURATION:
        try:
            setter("duration", parse_go_duration(value) if isinstance(value, str) else None)
        except (ValueError, TypeError):
            raise ProtobufError(path, f"invalid duration {value!r}") from None
    elif full in _QUANTITIES:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise ProtobufError(path, f"invalid quantity {value!r}")
        setter("string", str(value))
    elif full == _INT_OR_STRING:
        if isinstance(value, str):
            setter("type", 1)
            setter("strVal", value)
        elif isinstance(value, int) and not isinstance(value, bool):
            setter("type", 0)
            setter("intVal", value)
        else:
            raise ProtobufError(path, f"expected an integer or a string, got {value!r}")
    elif full in (_RAW, _FIELDS):
        setter("raw" if full == _RAW else "Raw", json.dumps(value, separators=(",", ":")).encode())
    else:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ProtobufError(path, f"expected a list of strings, got {value!r}")
        message.items.extend(value)
