"""The server's seams: extra bearer tokens and an authorizer (ServiceAccounts
and RBAC plug in here), the `as=Table` printer, and the slow-watcher cut-off."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp

from engine.manifests import parse_object
from engine.store import Store
from runtime.apiserver import ApiServer, Hooks, Limits
from tests.runtime.apiserver.conftest import pod, start_api

PODS = "/api/v1/namespaces/default/pods"


@dataclass(frozen=True)
class Robot:
    name: str = "system:serviceaccount:default:robot"
    groups: tuple[str, ...] = ("system:serviceaccounts",)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""


class ReadOnly:
    """Allows get, list and watch only, and remembers what it was asked."""

    def __init__(self) -> None:
        self.asked: list[Any] = []

    def authorize(self, user: Any, attrs: Any) -> Decision:
        self.asked.append(attrs)
        return Decision(attrs.verb in ("get", "list", "watch"))

    def forbidden_message(self, user: Any, attrs: Any) -> str:
        return (
            f'{attrs.resource} is forbidden: User "{user.name}" cannot {attrs.verb} '
            f'resource "{attrs.resource}" in API group "{attrs.api_group}" in the namespace '
            f'"{attrs.namespace}"'
        )


async def test_extra_tokens_are_authorized_and_the_kubeconfig_user_is_admin() -> None:
    authorizer = ReadOnly()
    hooks = Hooks(
        authenticate=lambda token: Robot() if token == "robot-token" else None,
        authorizer=authorizer,
    )
    server, endpoint, _ = await start_api(hooks)
    try:
        robot = {"Authorization": "Bearer robot-token"}
        async with aiohttp.ClientSession(base_url=endpoint.url, headers=robot) as http:
            async with http.get(PODS) as response:
                assert response.status == 200
            async with http.post(PODS, json=pod("web")) as response:
                assert response.status == 403
                body = await response.json()
            assert body["reason"] == "Forbidden"
            assert body["message"].startswith('pods is forbidden: User "system:serviceaccount')
        asked = [(a.verb, a.resource, a.namespace) for a in authorizer.asked]
        assert asked == [("list", "pods", "default"), ("create", "pods", "default")]
        admin = {"Authorization": f"Bearer {endpoint.token}"}
        async with (
            aiohttp.ClientSession(base_url=endpoint.url, headers=admin) as http,
            http.post(PODS, json=pod("web")) as response,
        ):
            assert response.status == 201
        assert len(authorizer.asked) == 2  # the admin is never asked about
    finally:
        await server.stop()


def printer(
    objects: Sequence[Mapping[str, Any]],
    *,
    group: str,
    version: str,
    kind: str,
    include_object: str = "Metadata",
    crd_columns: Sequence[Mapping[str, Any]] | None = None,
    now: datetime,
) -> dict[str, Any]:
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "columnDefinitions": [{"name": "Name", "type": "string"}],
        "rows": [{"cells": [o["metadata"]["name"]]} for o in objects],
    }


async def test_tables_come_from_the_printer_hook_when_asked_for() -> None:
    server, endpoint, _ = await start_api(Hooks(table=printer))
    headers = {"Authorization": f"Bearer {endpoint.token}"}
    table = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
    try:
        async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:
            await (await http.post(PODS, json=pod("web"))).read()
            async with http.get(PODS, headers={"Accept": table}) as response:
                listed = await response.json()
            assert listed["kind"] == "Table" and listed["rows"] == [{"cells": ["web"]}]
            assert listed["metadata"]["resourceVersion"]
            async with http.get(PODS) as response:
                assert (await response.json())["kind"] == "PodList"
    finally:
        await server.stop()


async def test_a_watcher_that_falls_too_far_behind_is_cut_off_with_410() -> None:
    store = Store()
    server = ApiServer(store, tls=False, limits=Limits(watch_buffer=3))
    endpoint = await server.start()
    headers = {"Authorization": f"Bearer {endpoint.token}"}
    template = parse_object(pod("template"))
    try:
        async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:
            params = {"watch": "true", "resourceVersion": str(store.revision)}
            async with http.get(PODS, params=params) as stream:
                # A burst of writes while the watch's reader has not run yet.
                for i in range(10):
                    meta = template.metadata.model_copy(update={"name": f"p{i}"})
                    store.create(template.model_copy(update={"metadata": meta}))
                lines = (await stream.content.read()).splitlines()
    finally:
        await server.stop()
    last = json.loads(lines[-1])
    assert last["type"] == "ERROR" and last["object"]["code"] == 410
    assert len(lines) < 10
