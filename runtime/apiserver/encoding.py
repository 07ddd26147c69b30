"""Bytes in and out: request bodies read under the size limit and decoded,
objects encoded as Kubernetes JSON, query parameters parsed.

* `read_body` refuses bodies over `MAX_REQUEST_BYTES` (3 MiB, the apiserver's
  limit) with 413 before reading them whole, and text that is not UTF-8 with 400.
* `decode_object` takes JSON (or YAML, for `apply-patch+yaml` and kubectl's
  YAML bodies) holding exactly one document; anything else is a 400 naming
  what is wrong (`engine.documents` finds the line of a YAML error).
* `read_document` is the object a create, update, delete or subresource
  request sends: JSON or YAML as above, or Kubernetes protobuf
  (`application/vnd.kubernetes.protobuf`, which client-go's typed clients
  send: kubectl's `create` and `drain`), decoded by `engine.protobuf`
  into the same dict, so the same validation and admission follow. A kind
  with no protobuf form (a custom resource) is 415, a malformed body 400
  naming the problem; CBOR is 415.
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

import orjson
from aiohttp import web

from engine.api.base import Resource
from engine.documents import MAX_REQUEST_BYTES, decode_documents
from engine.errors import BadRequest, RequestEntityTooLarge
from engine.protobuf import NoProtobufForm
from engine.protobuf import decode as decode_protobuf
from runtime.apiserver.status import UnsupportedMediaType

__all__ = [
    "MAX_REQUEST_BYTES",
    "PROTOBUF",
    "ObjectEncoder",
    "Query",
    "decode_json_object",
    "decode_object",
    "dumps",
    "read_body",
    "read_bytes",
    "read_document",
    "read_object",
    "wire_document",
]

PROTOBUF = "application/vnd.kubernetes.protobuf"
BINARY_TYPES = frozenset({PROTOBUF, "application/cbor"})


def dumps(value: Any) -> bytes:
    """Compact JSON, UTF-8, by orjson; what orjson refuses (integers beyond
    64 bits, keys that are not strings) by the standard library, as before."""
    try:
        return orjson.dumps(value)
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def wire_document(obj: Resource) -> dict[str, Any]:
    """`obj.to_dict()`, about twice as fast: the same dump with empty dicts and
    lists dropped by a walk that only descends into containers (the engine's
    `prune_empty` calls itself on every scalar). Tests hold the two equal."""
    return _pruned(obj.model_dump(mode="json", by_alias=True, exclude_none=True))


def _pruned(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in value.items():
        kind = type(item)
        if kind is dict:
            if not item:
                continue
            item = _pruned(item)
            if not item:
                continue
        elif kind is list:
            if not item:
                continue
            item = _pruned_items(item)
        out[key] = item
    return out


def _pruned_items(values: list[Any]) -> list[Any]:
    # Inside a list nothing is dropped (an empty item stays), as prune_empty.
    return [
        _pruned(v) if type(v) is dict else _pruned_items(v) if type(v) is list else v
        for v in values
    ]


def _unsupported(request: web.Request, accepted: str) -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"the body of the request was in an unknown format ({request.content_type}) - "
        f"accepted media types include: {accepted}"
    )


async def read_body(request: web.Request, limit: int = MAX_REQUEST_BYTES) -> str:
    """The request body as text; 413 over `limit` bytes, 400 if not UTF-8, 415
    for binary encodings (a patch is never protobuf or CBOR)."""
    if request.content_type in BINARY_TYPES:
        raise _unsupported(request, "application/json, application/yaml")
    data = await read_bytes(request, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise BadRequest(
            f"the request body is not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start}"
        ) from None


async def read_document(
    request: web.Request,
    default: tuple[str, str],
    *,
    what: str = "the request body",
    optional: bool = False,
    checked_later: bool = False,
) -> Any:
    """The object a request sends (see the module docstring); `default` is the
    (apiVersion, kind) the path implies, for a protobuf envelope naming none.
    An `optional` body may be empty (None). A body `checked_later` (a create
    or update: `parse_object` bounds its depth and size) takes
    `decode_json_object`'s fast path when it is plain JSON."""
    if request.content_type == PROTOBUF:
        data = await read_bytes(request)
        if not data:
            if optional:
                return None
            raise BadRequest(f"{what} is empty")
        try:
            return decode_protobuf(data, default=default)
        except NoProtobufForm as error:
            raise UnsupportedMediaType(f"{error}: send it as application/json") from None
    if request.content_type in BINARY_TYPES:
        raise _unsupported(request, f"application/json, application/yaml, {PROTOBUF}")
    text = await read_body(request)
    if optional and not text.strip():
        return None
    if checked_later:
        return decode_json_object(text)
    return decode_object(text, what=what)


async def read_object(request: web.Request, api_version: str, kind: str) -> dict[str, Any]:
    """The body of a request that creates one `kind` (a TokenRequest, a
    review), as JSON whether it came as JSON, YAML or protobuf (kubectl's
    `create token` and `auth` commands send protobuf); 400 if it is not an
    object or names another kind."""
    document = await read_document(request, (api_version, kind))
    if not isinstance(document, dict):
        raise BadRequest("the request body must be a JSON object")
    if document.get("kind") not in (None, kind):
        raise BadRequest(f"the request body is a {document.get('kind')}, not a {kind}")
    return document


async def read_bytes(request: web.Request, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """The request body; 413 over `limit` bytes, found before reading it whole."""
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


def decode_json_object(text: str) -> Any:
    """`decode_object` for bodies that are checked again before use (creates
    and updates: `parse_object` bounds their depth and size first): plain
    JSON is read by the standard library's C scanner without the walk that
    bounds YAML aliases; anything else (YAML, a key given twice, NaN, a
    broken document) takes `decode_object`'s careful path and its messages."""
    if text[:1] == "{":
        try:
            return json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_refused)
        except (ValueError, RecursionError):
            pass
    return decode_object(text)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        raise ValueError("a key given twice")
    return document


def _refused(name: str) -> Any:
    raise ValueError(name)


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
        # Event lines are wanted by every watcher of a kind within moments of
        # each other: a short memory suffices.
        self._lines: OrderedDict[tuple[int, str], tuple[Resource, bytes]] = OrderedDict()
        self._line_capacity = 10_000

    def encode(self, obj: Resource) -> bytes:
        key = id(obj)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        data = dumps(wire_document(obj))
        self._cache[key] = (obj, data)
        if len(self._cache) > self._capacity:
            self._cache.popitem(last=False)
        return data

    def event_line(self, event_type: str, obj: Resource) -> bytes:
        """The watch event line `{"type":...,"object":...}\\n` of `obj`, made once
        for every watcher that receives it (cached as the encoding is)."""
        key = (id(obj), event_type)
        hit = self._lines.get(key)
        if hit is not None and hit[0] is obj:
            return hit[1]
        line = b'{"type":"' + event_type.encode() + b'","object":' + self.encode(obj) + b"}\n"
        self._lines[key] = (obj, line)
        if len(self._lines) > self._line_capacity:
            self._lines.popitem(last=False)
        return line

    def document(self, obj: Resource) -> dict[str, Any]:
        """A fresh (mutable) JSON document of the object."""
        loaded: dict[str, Any] = orjson.loads(self.encode(obj))
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
