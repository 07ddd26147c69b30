"""Which encoding a response goes out in: JSON, or Kubernetes protobuf for a
client that accepts nothing else.

client-go's typed clients (kubectl's among them) send
`Accept: application/vnd.kubernetes.protobuf,application/json` (or `, */*`):
they take either, and get JSON, as from any server that prefers it. A client
whose Accept names protobuf and no JSON (`*/*`, `application/*`,
`application/json`, YAML or text) gets protobuf: handlers answer JSON, and
`to_protobuf` re-encodes the answer (objects, lists, Status errors) through
`engine.protobuf` in the server's middleware, the one place a response is
turned into protobuf; a watch frames each event as Kubernetes does
(`watch_frames`: a 4-byte big-endian length, then a `meta/v1.WatchEvent`
whose `object.raw` is the framed object). Answers with no protobuf form
(custom resources, tables) are 406, as kube-apiserver answers; answers that
are not API objects (`/version`) stay JSON. Fields newer than the
descriptor set (Kubernetes 1.34's, see `engine.protobuf.generate`) are left
out of protobuf answers, as a 1.34 client would skip them; JSON carries all.

Neighbours: `runtime.apiserver.app` (its middleware), `.watching`,
`engine.protobuf`.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

from aiohttp import web
from multidict import CIMultiDict

from engine.protobuf import NoProtobufForm, ProtobufError
from engine.protobuf import encode as encode_protobuf
from engine.protobuf.descriptors import META, catalogue
from runtime.apiserver.encoding import PROTOBUF
from runtime.apiserver.status import NotAcceptable, status_response

__all__ = [
    "FORMAT_KEY",
    "WATCH_PROTOBUF",
    "Format",
    "has_protobuf_form",
    "response_format",
    "to_protobuf",
    "watch_frames",
]

Format = Literal["json", "protobuf"]
FORMAT_KEY: Final = web.RequestKey("format", str)
"""The encoding a request's answer goes out in (set by the server's middleware)."""
WATCH_PROTOBUF: Final = f"{PROTOBUF};stream=watch"
_JSON_LIKE: Final = frozenset(
    {"*/*", "application/*", "application/json", "application/yaml", "text/plain", "text/*"}
)


def response_format(request: web.Request) -> Format:
    """JSON unless the Accept header takes protobuf and nothing JSON can be; 406
    when it takes neither."""
    accept = request.headers.get("Accept", "")
    if not accept:
        return "json"
    kinds = [part.split(";")[0].strip().lower() for part in accept.split(",")]
    if any(kind in _JSON_LIKE for kind in kinds):
        return "json"
    if PROTOBUF in kinds:
        return "protobuf"
    raise NotAcceptable(
        f"only application/json and {PROTOBUF} are served; the request accepts {accept!r}"
    )


def to_protobuf(response: web.Response) -> web.Response:
    """A JSON answer re-encoded as protobuf (see the module docstring)."""
    body = response.body
    if response.content_type != "application/json" or not isinstance(body, bytes):
        return response
    document = json.loads(body)
    if not isinstance(document, dict) or "kind" not in document:
        return response  # not an API object (/version): JSON, as Kubernetes answers it
    try:
        data = encode_protobuf(document, lenient=True)
    except (NoProtobufForm, ProtobufError) as error:
        return status_response(NotAcceptable(f"no protobuf form for this answer: {error}"))
    headers = CIMultiDict(response.headers)
    headers.pop("Content-Length", None)
    headers["Content-Type"] = PROTOBUF
    return web.Response(body=data, status=response.status, headers=headers)


def has_protobuf_form(api_version: str, kind: str) -> bool:
    return catalogue().message(api_version, kind) is not None


def watch_frames(chunk: bytes) -> bytes:
    """Newline-delimited JSON watch events as protobuf watch frames."""
    frames: list[bytes] = []
    cat = catalogue()
    for line in chunk.splitlines():
        if not line.strip():
            continue
        event: dict[str, Any] = json.loads(line)
        message: Any = cat.new(cat.named(f"{META}.WatchEvent"))
        message.type = event["type"]
        message.object.raw = encode_protobuf(event["object"], lenient=True)
        data = message.SerializeToString(deterministic=True)
        frames.append(len(data).to_bytes(4, "big") + data)
    return b"".join(frames)
