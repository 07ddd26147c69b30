"""Property-based tests of the HTTP API with hypothesis: random valid and
invalid requests never get a 500, a rejected request never changes the store,
and a watch from a list's resourceVersion sees every later change exactly once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.manifests import parse_object
from engine.store import Store
from runtime.apiserver import ApiServer

NAMES = st.sampled_from(["a", "b", "web", "x" * 70, "UPPER", "d.o.t", "-bad", ""])
NAMESPACES = st.sampled_from(["default", "kube-system", "missing", "Bad_NS"])
PLURALS = st.sampled_from(
    ["pods", "configmaps", "services", "nodes", "namespaces", "secrets", "widgets", "events"]
)
GROUPED = st.sampled_from(
    [
        "apps/v1/deployments",
        "apps/v1/replicasets",
        "batch/v1/jobs",
        "autoscaling/v1/horizontalpodautoscalers",
        "rbac.authorization.k8s.io/v1/roles",
        "nope.io/v9/things",
    ]
)
SUBRESOURCES = st.sampled_from(["status", "scale", "log", "binding", "eviction", "exec", "x"])


@st.composite
def paths(draw: st.DrawFn) -> str:
    if draw(st.booleans()):
        base = f"/api/v1/namespaces/{draw(NAMESPACES)}/{draw(PLURALS)}"
    else:
        base = f"/apis/{draw(GROUPED)}"
        if draw(st.booleans()):
            group_version, _, plural = base.rpartition("/")
            base = f"{group_version}/namespaces/{draw(NAMESPACES)}/{plural}"
    if draw(st.booleans()):
        base += f"/{draw(NAMES)}"
        if draw(st.booleans()):
            base += f"/{draw(SUBRESOURCES)}"
    if draw(st.integers(0, 9)) == 0:
        base += "/" + draw(st.text("abc/%.", max_size=8))
    return base


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _valid_objects() -> list[dict[str, Any]]:
    container = {"name": "app", "image": "nginx"}
    return [
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}, "data": {"k": "v"}},
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "web"},
            "spec": {"containers": [container]},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {"containers": [container]},
                },
            },
        },
    ]


@st.composite
def bodies(draw: st.DrawFn) -> bytes | None:
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return None
    if choice == 1:
        return draw(st.binary(max_size=40))
    if choice == 2:
        return json.dumps(draw(JSON)).encode()
    obj = json.loads(json.dumps(draw(st.sampled_from(_valid_objects()))))
    for _ in range(draw(st.integers(0, 3))):
        section = draw(st.sampled_from(["metadata", "spec", "data", "kind", "apiVersion"]))
        if section in ("kind", "apiVersion"):
            obj[section] = draw(JSON)
        elif isinstance(obj.get(section), dict):
            obj[section][draw(st.sampled_from(["name", "labels", "replicas", "k", "x"]))] = draw(
                JSON
            )
    if choice == 4:
        return json.dumps(
            [
                {
                    "op": draw(st.sampled_from(["add", "test", "remove", "nope"])),
                    "path": draw(st.sampled_from(["/metadata/labels/x", "/spec", "", "/x/0"])),
                    "value": draw(JSON),
                }
            ]
        ).encode()
    return json.dumps(obj).encode()


QUERY = st.dictionaries(
    st.sampled_from(
        [
            "labelSelector",
            "fieldSelector",
            "limit",
            "continue",
            "resourceVersion",
            "resourceVersionMatch",
            "dryRun",
            "fieldValidation",
            "fieldManager",
            "force",
            "propagationPolicy",
            "gracePeriodSeconds",
            "timeoutSeconds",
            "tailLines",
            "container",
        ]
    ),
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "All",
            "Strict",
            "Exact",
            "a=b",
            "a in ((",
            "x,y=",
            "metadata.name=a",
            "true",
            "99999999999999999999",
            "Foreground",
        ]
    ),
    max_size=4,
)
CONTENT_TYPES = st.sampled_from(
    [
        "application/json",
        "application/yaml",
        "application/merge-patch+json",
        "application/json-patch+json",
        "application/strategic-merge-patch+json",
        "application/apply-patch+yaml",
        "application/vnd.kubernetes.protobuf",
        "text/plain",
    ]
)
COLLECTIONS = {
    "ConfigMap": "/api/v1/namespaces/default/configmaps",
    "Pod": "/api/v1/namespaces/default/pods",
    "Deployment": "/apis/apps/v1/namespaces/default/deployments",
}


@st.composite
def coherent(draw: st.DrawFn) -> tuple[str, str, dict[str, str], str, bytes | None]:
    """A request that gets far into the server: a known object's own path, a
    fitting content type, a body that is valid or nearly so."""
    obj = draw(st.sampled_from(_valid_objects()))
    collection = COLLECTIONS[obj["kind"]]
    method = draw(st.sampled_from(["POST", "POST", "PUT", "PATCH", "DELETE", "GET"]))
    name = draw(st.sampled_from(["web", obj["metadata"]["name"]]))
    path = collection if method == "POST" else f"{collection}/{name}"
    if method in ("PUT", "PATCH", "GET") and draw(st.booleans()):
        path += "/" + draw(st.sampled_from(["status", "scale"]))
    content_type = "application/json"
    body = draw(bodies())
    if method == "PATCH":
        content_type = draw(CONTENT_TYPES)
    if body is None and method in ("POST", "PUT"):
        body = json.dumps(obj).encode()
    return method, path, draw(QUERY), content_type, body


REQUESTS = st.one_of(
    coherent(),
    st.tuples(
        st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
        paths(),
        QUERY,
        CONTENT_TYPES,
        bodies(),
    ),
)


def run_against_server(
    requests: list[tuple[str, str, dict[str, str], str, bytes | None]],
) -> list[tuple[int, bool]]:
    """Each request's status and whether the store changed under it."""

    async def main() -> list[tuple[int, bool]]:
        store = Store()
        for document in _valid_objects():  # so that writes to existing objects happen
            store.create(parse_object({**document, "metadata": {"name": "web"}}))
        server = ApiServer(store, tls=False)
        endpoint = await server.start()
        results: list[tuple[int, bool]] = []
        headers = {"Authorization": f"Bearer {endpoint.token}"}
        try:
            async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:
                for method, path, query, content_type, body in requests:
                    if query.get("timeoutSeconds") not in ("0",):
                        query = {**query, "timeoutSeconds": "0"}  # watches end at once
                    before = store.revision
                    async with http.request(
                        method,
                        path,
                        params=query,
                        data=body,
                        headers={"Content-Type": content_type},
                    ) as response:
                        await response.read()
                        results.append((response.status, store.revision != before))
        finally:
            await server.stop()
        return results

    return asyncio.run(main())


@settings(max_examples=60)
@given(st.lists(REQUESTS, min_size=1, max_size=8))
def test_random_requests_never_get_a_500_and_refusals_change_nothing(
    requests: list[tuple[str, str, dict[str, str], str, bytes | None]],
) -> None:
    for (method, path, query, _, _), (status, changed) in zip(
        requests, run_against_server(requests), strict=True
    ):
        assert status < 500 or status == 504, (method, path, query, status)
        if status >= 400:
            assert not changed, (method, path, query, status)


OPS = st.lists(
    st.tuples(st.sampled_from(["create", "update", "delete"]), st.sampled_from("abcd")),
    max_size=12,
)


@given(OPS, OPS)
def test_a_watch_from_a_lists_revision_sees_every_later_change_once(
    before: list[tuple[str, str]], after: list[tuple[str, str]]
) -> None:
    async def main() -> None:
        store = Store()
        server = ApiServer(store, tls=False)
        endpoint = await server.start()
        path = "/api/v1/namespaces/default/configmaps"
        headers = {"Authorization": f"Bearer {endpoint.token}"}
        try:
            async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:

                async def apply(ops: list[tuple[str, str]]) -> int:
                    changes = 0
                    for verb, name in ops:
                        revision = store.revision
                        body = {"metadata": {"name": name}, "data": {"v": str(revision)}}
                        if verb == "create":
                            request = http.post(path, json=body)
                        elif verb == "update":
                            request = http.put(f"{path}/{name}", json=body)
                        else:
                            request = http.delete(f"{path}/{name}")
                        async with request as response:
                            await response.read()
                        changes += store.revision != revision
                    return changes

                await apply(before)
                async with http.get(path) as response:
                    listed = await response.json()
                state = {i["metadata"]["name"]: i for i in listed["items"]}
                params = {"watch": "true", "resourceVersion": listed["metadata"]["resourceVersion"]}
                async with http.get(path, params=params) as stream:
                    changes = await apply(after)
                    events = [json.loads(await stream.content.readline()) for _ in range(changes)]
                revisions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
                assert revisions == sorted(set(revisions))
                for event in events:
                    name = event["object"]["metadata"]["name"]
                    if event["type"] == "DELETED":
                        assert name in state
                        del state[name]
                    else:
                        assert (name in state) == (event["type"] == "MODIFIED")
                        state[name] = event["object"]
                async with http.get(path) as response:
                    final = await response.json()
                assert {n: o["data"] for n, o in state.items()} == {
                    i["metadata"]["name"]: i["data"] for i in final["items"]
                }
        finally:
            await server.stop()

    asyncio.run(main())
