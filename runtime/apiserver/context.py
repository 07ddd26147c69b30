"""`ApiContext`: what every request handler of one server shares, and the
per-request view of it (`RequestScope`).

The store is synchronous and lives on the server's event loop, so handlers
call it directly: each request's read or write is atomic with respect to
every other request and to the cluster's controllers.

Neighbours: built by `runtime.apiserver.app`; read by `.resources`,
`.watching`, `.patching`, `.subresources`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from engine import conversion, crd
from engine.api.base import Resource
from engine.store import Store
from runtime.apiserver.encoding import ObjectEncoder, dumps
from runtime.apiserver.hooks import Hooks, User
from runtime.apiserver.paths import Target

__all__ = [
    "USER_KEY",
    "ApiContext",
    "Limits",
    "request_user",
    "storage_model",
    "warning_headers",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds that keep one client from taking the server down.

    `max_watches_per_user`: concurrent watches of one user (429 beyond).
    `watch_buffer`: events one HTTP watch may have waiting while its client
    reads; a client slower than that is cut off (it resumes, and gets 410
    once its revision left the history). `write_timeout`: seconds one chunk
    of a watch may take to reach a client that stopped reading."""

    max_watches_per_user: int = 1000
    watch_buffer: int = 10_000
    write_timeout: float = 30.0


@dataclass
class ApiContext:
    store: Store
    hooks: Hooks = field(default_factory=Hooks)
    limits: Limits = field(default_factory=Limits)
    server_address: str = "127.0.0.1:6443"
    token: str = ""
    """The kubeconfig's bearer token (a TokenReview recognizes it)."""
    encoder: ObjectEncoder = field(default_factory=ObjectEncoder)
    watches: Counter[str] = field(default_factory=Counter)

    def encode(self, obj: Resource, target: Target) -> bytes:
        """`obj` as JSON in the version the request asked for."""
        model = target.info.model
        if type(obj) is model:
            return self.encoder.encode(obj)
        if isinstance(obj, crd.CustomResource):
            document = self.encoder.document(obj)
            document["apiVersion"] = target.info.api_version
            return dumps(document)
        return self.encoder.encode(conversion.convert(obj, model))

    def respond(
        self,
        obj: Resource,
        target: Target,
        status: int = 200,
        warnings: list[str] | None = None,
    ) -> web.Response:
        return web.Response(
            body=self.encode(obj, target),
            status=status,
            content_type="application/json",
            headers=warning_headers(warnings),
        )


def warning_headers(warnings: list[str] | None) -> Any:
    """Kubernetes' `Warning: 299 - "text"` headers (one per warning)."""
    if not warnings:
        return None
    from multidict import CIMultiDict

    headers: CIMultiDict[str] = CIMultiDict()
    for text in warnings:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        headers.add("Warning", f'299 - "{escaped}"')
    return headers


def storage_model(target: Target) -> type[Resource]:
    """The model the store keeps the target's objects under (a custom kind's
    storage version; built-in kinds convert inside the store)."""
    model = target.info.model
    if issubclass(model, crd.CustomResource) and model.storage_model is not None:
        return model.storage_model
    return model


USER_KEY = web.RequestKey("user", User)
"""Who made the request (set by the server's authentication)."""


def request_user(request: web.Request) -> User:
    return request[USER_KEY]
