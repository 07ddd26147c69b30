"""Protobuf request bodies of the authentication and authorization kinds, which
kubectl's typed commands (`create token`, `auth whoami`, `auth can-i`) send
as `application/vnd.kubernetes.protobuf` whatever the server prefers.

Contract: `decode(data, kinds)` reads Kubernetes' protobuf envelope (the
magic `k8s\\0`, then a `runtime.Unknown` holding the apiVersion, kind and the
object's bytes) and returns the object as the JSON document its JSON form
would be, for a kind in `kinds`; anything else (another kind, bytes that do
not parse) is a 400 naming what is wrong. Only the kinds below are known:
TokenRequest, TokenReview, SelfSubjectReview, SubjectAccessReview,
LocalSubjectAccessReview, SelfSubjectAccessReview (the bodies of other kinds
stay 415, `runtime.apiserver.encoding.read_body`).

The message classes come from a descriptor built at first use with
`google.protobuf.descriptor_pb2`, with the message names and field numbers
of Kubernetes' `generated.proto` files (the subset a request carries:
metadata's name, namespace, labels and annotations, and the spec), so the wire
format is the protobuf library's, as in `engine.openapi_proto`. Field names
are declared in their JSON spelling, so a decoded message is the JSON
document as it stands.

`read_document(request, kinds)` is a request's body as JSON, whether it came
as JSON, YAML or protobuf.

Neighbours: `runtime.apiserver.reviews`, `runtime.apiserver.tokens`.
"""

from __future__ import annotations

import functools
from collections.abc import Collection
from typing import Any, Final

from aiohttp import web
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import DecodeError, Message

from engine.errors import BadRequest
from runtime.apiserver.encoding import decode_object, read_body, read_bytes

__all__ = ["PROTOBUF", "decode", "read_document"]

PROTOBUF: Final = "application/vnd.kubernetes.protobuf"
MAGIC: Final = b"k8s\x00"
_PACKAGE: Final = "kubeloop.k8s"

_F = descriptor_pb2.FieldDescriptorProto
_S, _I64, _I32, _BOOL, _BYTES = (
    _F.TYPE_STRING,
    _F.TYPE_INT64,
    _F.TYPE_INT32,
    _F.TYPE_BOOL,
    _F.TYPE_BYTES,
)
_REPEATED: Final = "repeated"
_MAP: Final = "map"

# message -> [(JSON field name, number, scalar type or message name, flags...)]
_Field = tuple[str, int, int | str, tuple[str, ...]]


def _f(name: str, number: int, kind: int | str, *flags: str) -> _Field:
    return (name, number, kind, flags)


_ACCESS_ATTRIBUTES: Final = [
    _f("resourceAttributes", 1, "ResourceAttributes"),
    _f("nonResourceAttributes", 2, "NonResourceAttributes"),
]
_MESSAGES: Final[dict[str, list[_Field]]] = {
    "Unknown": [
        _f("typeMeta", 1, "TypeMeta"),
        _f("raw", 2, _BYTES),
        _f("contentEncoding", 3, _S),
        _f("contentType", 4, _S),
    ],
    "TypeMeta": [_f("apiVersion", 1, _S), _f("kind", 2, _S)],
    "ObjectMeta": [
        _f("name", 1, _S),
        _f("generateName", 2, _S),
        _f("namespace", 3, _S),
        _f("uid", 5, _S),
        _f("resourceVersion", 6, _S),
        _f("labels", 11, _S, _MAP),
        _f("annotations", 12, _S, _MAP),
    ],
    "TokenRequest": [
        _f("metadata", 1, "ObjectMeta"),
        _f("spec", 2, "TokenRequestSpec"),
    ],
    "TokenRequestSpec": [
        _f("audiences", 1, _S, _REPEATED),
        _f("boundObjectRef", 3, "BoundObjectReference"),
        _f("expirationSeconds", 4, _I64),
    ],
    "BoundObjectReference": [
        _f("kind", 1, _S),
        _f("apiVersion", 2, _S),
        _f("name", 3, _S),
        _f("uid", 4, _S),
    ],
    "TokenReview": [_f("metadata", 1, "ObjectMeta"), _f("spec", 2, "TokenReviewSpec")],
    "TokenReviewSpec": [_f("token", 1, _S), _f("audiences", 2, _S, _REPEATED)],
    "SelfSubjectReview": [_f("metadata", 1, "ObjectMeta")],
    "SelfSubjectAccessReview": [
        _f("metadata", 1, "ObjectMeta"),
        _f("spec", 2, "SelfSubjectAccessReviewSpec"),
    ],
    "SelfSubjectAccessReviewSpec": _ACCESS_ATTRIBUTES,
    # LocalSubjectAccessReview is the same message (added below).
    "SubjectAccessReview": [
        _f("metadata", 1, "ObjectMeta"),
        _f("spec", 2, "SubjectAccessReviewSpec"),
    ],
    "SubjectAccessReviewSpec": [
        *_ACCESS_ATTRIBUTES,
        _f("user", 3, _S),
        _f("groups", 4, _S, _REPEATED),
        _f("extra", 5, "ExtraValue", _MAP),
        _f("uid", 6, _S),
    ],
    "ExtraValue": [_f("items", 1, _S, _REPEATED)],
    "ResourceAttributes": [
        _f("namespace", 1, _S),
        _f("verb", 2, _S),
        _f("group", 3, _S),
        _f("version", 4, _S),
        _f("resource", 5, _S),
        _f("subresource", 6, _S),
        _f("name", 7, _S),
    ],
    "NonResourceAttributes": [_f("path", 1, _S), _f("verb", 2, _S)],
}
_MESSAGES["LocalSubjectAccessReview"] = _MESSAGES["SubjectAccessReview"]
KINDS: Final = frozenset(
    {
        "TokenRequest",
        "TokenReview",
        "SelfSubjectReview",
        "SelfSubjectAccessReview",
        "SubjectAccessReview",
        "LocalSubjectAccessReview",
    }
)


def _add_field(message: Any, name: str, number: int, kind: int | str, label: int) -> None:
    field = message.field.add(name=name, number=number, json_name=name, label=label)
    if isinstance(kind, str):
        field.type = _F.TYPE_MESSAGE
        field.type_name = f".{_PACKAGE}.{kind}"
    else:
        field.type = kind


@functools.cache
def _classes() -> dict[str, type[Message]]:
    file = descriptor_pb2.FileDescriptorProto(
        name="kubeloop/k8s-reviews.proto", package=_PACKAGE, syntax="proto2"
    )
    for message_name, fields in _MESSAGES.items():
        message = file.message_type.add(name=message_name)
        for name, number, kind, flags in fields:
            if _MAP in flags:
                # A map is a repeated entry message (key 1, value 2) marked map_entry.
                entry = message.nested_type.add(name=f"{name[0].upper()}{name[1:]}Entry")
                entry.options.map_entry = True
                _add_field(entry, "key", 1, _S, _F.LABEL_OPTIONAL)
                _add_field(entry, "value", 2, kind, _F.LABEL_OPTIONAL)
                _add_field(message, name, number, "", _F.LABEL_REPEATED)
                message.field[-1].type_name = f".{_PACKAGE}.{message_name}.{entry.name}"
            else:
                label = _F.LABEL_REPEATED if _REPEATED in flags else _F.LABEL_OPTIONAL
                _add_field(message, name, number, kind, label)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    return {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in _MESSAGES
    }


def _value(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _document(value)
    if field.type == FieldDescriptor.TYPE_STRING:
        return _text(field.name, value)
    return value


def _text(name: str, value: Any) -> Any:
    # proto2 hands out a string field that is not UTF-8 as bytes: JSON has no such value.
    if isinstance(value, bytes):
        raise BadRequest(f"the protobuf body's {name} is not UTF-8")
    return value


def _document(message: Message) -> dict[str, Any]:
    """The set fields of `message` as JSON (int64s stay integers)."""
    document: dict[str, Any] = {}
    for field, value in message.ListFields():
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            value_field = field.message_type.fields_by_name["value"]
            document[field.name] = {
                _text(field.name, k): _value(value_field, v) for k, v in value.items()
            }
        elif field.is_repeated:
            document[field.name] = [_value(field, v) for v in value]
        else:
            document[field.name] = _value(field, value)
    return document


def decode(data: bytes, kinds: Collection[str]) -> dict[str, Any]:
    """The JSON document of a protobuf body holding one of `kinds` (see the
    module docstring)."""
    if not data.startswith(MAGIC):
        raise BadRequest("the protobuf body does not start with Kubernetes' k8s\\0 prefix")
    classes = _classes()
    try:
        envelope = classes["Unknown"].FromString(data[len(MAGIC) :])
        head = _document(envelope)
        type_meta = head.get("typeMeta", {})
        kind = type_meta.get("kind", "")
        if kind not in kinds or kind not in KINDS:
            raise BadRequest(
                f"the protobuf body holds a {kind or 'object without a kind'}, "
                f"expected {' or '.join(sorted(kinds))}"
            )
        if head.get("contentEncoding"):
            raise BadRequest(f"unsupported content encoding {head['contentEncoding']!r}")
        document = _document(classes[kind].FromString(head.get("raw", b"")))
    except DecodeError as error:
        raise BadRequest(f"the protobuf body could not be decoded: {error}") from None
    return {"apiVersion": type_meta.get("apiVersion", ""), "kind": kind, **document}


async def read_document(request: web.Request, kinds: Collection[str]) -> dict[str, Any]:
    """The body of a request for one of `kinds` as a JSON object, whatever its
    encoding (see the module docstring); 400 when it is not an object."""
    if request.content_type == PROTOBUF:
        return decode(await read_bytes(request), kinds)
    document = decode_object(await read_body(request))
    if not isinstance(document, dict):
        raise BadRequest("the request body must be a JSON object")
    return document
