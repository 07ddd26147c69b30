"""Watches over HTTP: events from a resourceVersion, initial events, bookmarks,
410 as an ERROR event, and the per-user watch limit."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from engine.store import Store
from runtime.apiserver import ApiServer, Limits
from tests.runtime.apiserver.conftest import Api, pod

PODS = "/api/v1/namespaces/default/pods"


async def read_events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    while len(events) < count:
        line = await response.content.readline()
        assert line, f"the stream ended after {len(events)} events"
        events.append(json.loads(line))
    return events


async def test_a_watch_from_a_lists_revision_sees_every_later_change_once(api: Api) -> None:
    await api.call("POST", PODS, pod("before"))
    _, listed, _ = await api.call("GET", PODS)
    revision = listed["metadata"]["resourceVersion"]
    params = {"watch": "true", "resourceVersion": revision}
    async with api.http.get(PODS, params=params) as response:
        assert response.status == 200
        await api.call("POST", PODS, pod("a"))
        _, got, _ = await api.call("GET", f"{PODS}/a")
        got["metadata"]["labels"] = {"x": "y"}
        await api.call("PUT", f"{PODS}/a", got)
        await api.call("DELETE", f"{PODS}/a")
        events = await read_events(response, 3)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("MODIFIED", "a"),
        ("DELETED", "a"),
    ]
    revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert revisions == sorted(revisions) and revisions[0] > int(revision)


async def test_a_watch_without_a_revision_starts_with_the_current_objects(api: Api) -> None:
    await api.call("POST", PODS, pod("one", app="x"))
    await api.call("POST", PODS, pod("two", app="y"))
    params = {"watch": "1", "labelSelector": "app=x"}
    async with api.http.get(PODS, params=params) as response:
        events = await read_events(response, 1)
    assert events[0]["type"] == "ADDED" and events[0]["object"]["metadata"]["name"] == "one"


async def test_send_initial_events_ends_with_the_initial_events_end_bookmark(api: Api) -> None:
    await api.call("POST", PODS, pod("one"))
    params = {
        "watch": "true",
        "sendInitialEvents": "true",
        "resourceVersionMatch": "NotOlderThan",
        "allowWatchBookmarks": "true",
    }
    async with api.http.get(PODS, params=params) as response:
        events = await read_events(response, 2)
    assert events[0]["type"] == "ADDED"
    assert events[1]["type"] == "BOOKMARK"
    annotations = events[1]["object"]["metadata"]["annotations"]
    assert annotations == {"k8s.io/initial-events-end": "true"}
    status, _body, _ = await api.call(
        "GET", PODS, params={"watch": "true", "sendInitialEvents": "true"}
    )
    assert status == 400


async def test_a_revision_older_than_the_history_is_an_error_event_410() -> None:
    store = Store(history_size=2)
    server = ApiServer(store, tls=False)
    endpoint = await server.start()
    headers = {"Authorization": f"Bearer {endpoint.token}"}
    try:
        async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:
            for i in range(5):
                async with http.post(PODS, json=pod(f"p{i}")) as response:
                    assert response.status == 201
            params = {"watch": "true", "resourceVersion": "1"}
            async with http.get(PODS, params=params) as response:
                assert response.status == 200
                events = await read_events(response, 1)
                assert await response.content.readline() == b""  # the stream ends
    finally:
        await server.stop()
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


async def test_watches_per_user_are_bounded() -> None:
    server = ApiServer(Store(), tls=False, limits=Limits(max_watches_per_user=2))
    endpoint = await server.start()
    headers = {"Authorization": f"Bearer {endpoint.token}"}
    try:
        async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:
            params = {"watch": "true", "resourceVersion": "1"}
            first = await http.get(PODS, params=params)
            second = await http.get(PODS, params=params)
            async with http.get(PODS, params=params) as third:
                assert third.status == 429
                assert (await third.json())["reason"] == "TooManyRequests"
            first.close()
            second.close()
    finally:
        await server.stop()


async def test_a_watch_ends_after_timeout_seconds(api: Api) -> None:
    params = {"watch": "true", "timeoutSeconds": "0"}
    async with api.http.get(PODS, params=params) as response:
        assert await response.content.read() == b""
