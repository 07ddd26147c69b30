"""Kubernetes' protobuf framing of one object: the 4 bytes `k8s\\x00`, then a
`runtime.Unknown` message whose `typeMeta` names the object's apiVersion and
kind and whose `raw` holds the object's own message (`contentEncoding` and
`contentType` are empty: the raw bytes are protobuf, uncompressed).

* `decode(data)` gives the object as a JSON-shaped dict with `apiVersion` and
  `kind` from the envelope; `default` (apiVersion, kind) stands in for an
  envelope that names no kind, as the request's path does for JSON.
* `encode(document)` frames a JSON-shaped object (its `apiVersion` and
  `kind` pick the message).
* A kind with no message in the descriptor set (a custom resource, a kind
  that became stable after 1.32) raises `NoProtobufForm`: such objects travel as JSON.
* Anything malformed raises `ProtobufError` (400) naming the problem.

Neighbours: `engine.protobuf.codec` (messages <-> dicts),
`runtime.apiserver.encoding` (request bodies and responses).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from google.protobuf.message import DecodeError

from engine.protobuf.codec import MAGIC, ProtobufError, to_document, to_message
from engine.protobuf.descriptors import catalogue

__all__ = ["MAGIC", "NoProtobufForm", "decode", "encode"]

_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"


class NoProtobufForm(ValueError):
    """The kind has no protobuf message here."""

    def __init__(self, api_version: str, kind: str) -> None:
        super().__init__(f"{kind} in {api_version or 'v1'} has no protobuf encoding on this server")
        self.api_version = api_version
        self.kind = kind


def decode(
    data: bytes, *, what: str = "", default: tuple[str, str] | None = None
) -> dict[str, Any]:
    """The object framed in `data` (see the module docstring)."""
    if not data.startswith(MAGIC):
        raise ProtobufError(what, "it does not start with the Kubernetes protobuf prefix k8s\\x00")
    cat = catalogue()
    unknown = cat.new(cat.named(_UNKNOWN))
    try:
        unknown.ParseFromString(data[len(MAGIC) :])
    except DecodeError as error:
        raise ProtobufError(what, f"cannot parse the runtime.Unknown envelope ({error})") from None
    envelope: Any = unknown
    if envelope.contentEncoding:
        raise ProtobufError(what, f"content encoding {envelope.contentEncoding!r} is not supported")
    if envelope.contentType not in ("", "application/vnd.kubernetes.protobuf"):
        raise ProtobufError(what, f"the content type {envelope.contentType!r} is not protobuf")
    api_version, kind = envelope.typeMeta.apiVersion, envelope.typeMeta.kind
    if not kind and default is not None:
        api_version, kind = api_version or default[0], default[1]
    if not kind:
        raise ProtobufError(what, "the envelope names no kind")
    descriptor = cat.message(api_version, kind)
    if descriptor is None:
        raise NoProtobufForm(api_version, kind)
    message = cat.new(descriptor)
    try:
        message.ParseFromString(envelope.raw)
    except DecodeError as error:
        raise ProtobufError(what, f"cannot parse {kind} ({error})") from None
    try:
        document = to_document(message, cat)
    except (UnicodeDecodeError, RecursionError) as error:
        raise ProtobufError(what, f"cannot read {kind} ({error})") from None
    return {"apiVersion": api_version, "kind": kind, **document}


def encode(document: Mapping[str, Any], *, lenient: bool = False) -> bytes:
    """`document` framed as Kubernetes sends it (see the module docstring);
    `lenient` leaves out fields the descriptors lack instead of refusing."""
    api_version = document.get("apiVersion") or ""
    kind = document.get("kind") or ""
    cat = catalogue()
    descriptor = cat.message(api_version, kind)
    if descriptor is None:
        raise NoProtobufForm(api_version, kind)
    raw = to_message(document, descriptor, lenient=lenient).SerializeToString(deterministic=True)
    unknown: Any = cat.new(cat.named(_UNKNOWN))
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    unknown.raw = raw
    framed: bytes = unknown.SerializeToString(deterministic=True)
    return MAGIC + framed
