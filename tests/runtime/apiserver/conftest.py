"""Fixtures for the HTTP API tests: a server over a bare store, and an HTTP
session that talks to it with the bearer token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from engine.store import Store
from runtime.apiserver import ApiServer, Endpoint, Hooks


@dataclass
class Api:
    store: Store
    server: ApiServer
    endpoint: Endpoint
    http: aiohttp.ClientSession

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: dict[str, str] | None = None,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        import json

        payload = data if data is not None else (None if body is None else json.dumps(body))
        sent = {"Content-Type": content_type, **(headers or {})}
        async with self.http.request(
            method, path, data=payload, params=params, headers=sent
        ) as response:
            text = await response.text()
            try:
                decoded: Any = json.loads(text)
            except ValueError:
                decoded = text
            return response.status, decoded, response


async def start_api(hooks: Hooks | None = None) -> tuple[ApiServer, Endpoint, Store]:
    store = Store()
    server = ApiServer(store, tls=False, hooks=hooks)
    return server, await server.start(), store


@pytest.fixture
async def api() -> AsyncIterator[Api]:
    server, endpoint, store = await start_api()
    headers = {"Authorization": f"Bearer {endpoint.token}"}
    async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:
        yield Api(store, server, endpoint, http)
    await server.stop()


def pod(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx"}]},
    }


def deployment(name: str, replicas: int = 2) -> dict[str, Any]:
    labels = {"app": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "app", "image": "nginx"}]},
            },
        },
    }
