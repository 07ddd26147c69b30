"""Bytes in and out: request bodies read under the size limit and decoded,
objects encoded as Kubernetes JSON, query parameters parsed.

* `read_body` refuses bodies over `MAX_REQUEST_BYTES` (3 MiB, the apiserver's
  limit) with 413 before reading them whole, and text that is not UTF-8 with 400.
* `decode_object` takes JSON (or YAML, for `apply-patch+yaml` and kubectl's
  YAML bodies) holding exactly one document; anything else is a 400 naming
  what is wrong (`engine.documents` finds the line of a YAML error).
* `ObjectEncoder` turns stored objects into JSON bytes. Stored objects are
  shared and immutable, so the encoding of one is cached (bounded, keyed by
  the object's identity and holding the object so the identity stays valid):
  a list of 10,000 pods re-encodes only what changed since the last one.
* `Query` reads typed parameters, answering 400 for a bad value.

Neighbours: `runtime.apiserver.resources`, `.watching`, `.patching`.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from aiohttp import web

from engine.api.base import Resource
from engine.documents import MAX_REQUEST_BYTES, decode_documents
from engine.errors import BadRequest, RequestEntityTooLarge
from runtime.apiserver.status import UnsupportedMediaType

__all__ = [
    "MAX_REQUEST_BYTES",
    "ObjectEncoder",
    "Query",
    "decode_object",
    "dumps",
    "read_body",
    "read_bytes",
]


BINARY_TYPES = frozenset({"application/vnd.kubernetes.protobuf", "application/cbor"})


def dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


async def read_body(request: web.Request, limit: int = MAX_REQUEST_BYTES) -> str:
    """The request body as text; 413 over `limit` bytes, 400 if not UTF-8, 415
    for binary encodings (protobuf, CBOR: clients then send JSON)."""
    if request.content_type in BINARY_TYPES:
        raise UnsupportedMediaType(
            f"the body of the request was in an unknown format ({request.content_type}) - "
            "accepted media types include: application/json, application/yaml"
        )
    data = await read_bytes(request, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"the request body is not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}"
        ) from None


async def read_bytes(request: web.Request, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """The request body's bytes, whatever its type; 413 over `limit` bytes."""
    length = request.content_length
    too_large = RequestEntityTooLarge(f"Request entity too large: limit is {limit}")
    if length is not None and length > limit:
        raise too_large
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def decode_object(text: str, *, what: str = "the request body") -> Any:
    """The one JSON (or YAML) document of a body; 400 if none, several or broken."""
    if not text.strip():
        raise BadRequest(f"{what} is empty")
    documents = [d for d in decode_documents(text, what) if d is not None]
    if len(documents) != 1:
        raise BadRequest(f"{what} must hold exactly one document, found {len(documents)}")
    return documents[0]


class ObjectEncoder:
    """JSON bytes of stored objects, cached by identity (see the module docstring)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._cache: OrderedDict[int, tuple[Resource, bytes]] = OrderedDict()
        self._capacity = capacity

    def encode(self, obj: Resource) -> bytes:
        key = id(obj)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        data = dumps(obj.to_dict())
        self._cache[key] = (obj, data)
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return data

    def document(self, obj: Resource) -> dict[str, Any]:
        """A fresh (mutable) JSON document of the object."""
        loaded: dict[str, Any] = json.loads(self.encode(obj))
        return loaded


class Query:
    """Typed query parameters of one request; bad values are 400s naming them."""

    def __init__(self, request: web.Request) -> None:
        self._query = request.query

    def text(self, name: str) -> str | None:
        value = self._query.get(name)
        return value if value != "" else None

    def all(self, name: str) -> list[str]:
        return [v for v in self._query.getall(name, []) if v != ""]

    def flag(self, name: str) -> bool:
        value = self._query.get(name)
        if value is None or value == "":
            return False
        if value.lower() in ("true", "1"):
            return True
        if value.lower() in ("false", "0"):
            return False
        raise BadRequest(f"invalid value for {name}: {value!r} (expected true or false)")

    def integer(self, name: str, *, minimum: int = 0) -> int | None:
        value = self._query.get(name)
        if value is None or value == "":
            return None
        try:
            number = int(value)
        except ValueError:
            raise BadRequest(f"invalid value for {name}: {value!r} (expected an integer)") from None
        if number < minimum:
            raise BadRequest(f"invalid value for {name}: {number} (must be >= {minimum})")
        return number

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.text(name)
        if value is not None and value not in choices:
            raise BadRequest(
                f"invalid value for {name}: {value!r} (expected one of {', '.join(choices)})"
            )
        return value
