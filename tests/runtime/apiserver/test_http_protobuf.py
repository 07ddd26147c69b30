"""Kubernetes protobuf over the HTTP API: request bodies decode into the same
objects as JSON and pass the same validation; clients that accept only
protobuf get protobuf objects, lists, Status errors and watch frames; bad
bodies are 400 (never 500) and change nothing."""

from __future__ import annotations

import json
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.protobuf import MAGIC, decode, encode
from engine.protobuf.descriptors import META, catalogue
from tests.engine.protobuf_strategies import objects
from tests.runtime.apiserver.conftest import Api, deployment, pod
from tests.runtime.apiserver.test_fuzz import _valid_objects, run_against_server
from tests.runtime.apiserver.test_http_patch import CRD

PROTOBUF = "application/vnd.kubernetes.protobuf"
PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
ONLY_PROTOBUF = {"Accept": PROTOBUF}
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"


async def send(api: Api, method: str, path: str, document: dict[str, Any]) -> tuple[int, Any]:
    # lenient: what a server answered may carry fields newer than the messages.
    data = encode(document, lenient=True)
    status, body, _ = await api.call(method, path, data=data, content_type=PROTOBUF)
    return status, body


async def test_a_protobuf_create_is_validated_and_stored_like_json(api: Api) -> None:
    idle = deployment("idle", replicas=0)
    status, created = await send(api, "POST", DEPLOYMENTS, idle)
    assert status == 201, created
    assert created["spec"]["replicas"] == 0  # a pointer's zero, not the default 1
    assert created["spec"]["revisionHistoryLimit"] == 10  # defaulted as for JSON
    bad = deployment("bad")
    bad["spec"]["template"]["metadata"]["labels"] = {"other": "labels"}
    status, refused = await send(api, "POST", DEPLOYMENTS, bad)
    assert status == 422 and refused["reason"] == "Invalid"
    assert "selector" in refused["message"]


async def test_protobuf_update_delete_options_and_eviction(api: Api) -> None:
    status, created = await send(api, "POST", PODS, pod("web", app="web"))
    assert status == 201
    changed = json.loads(json.dumps(created))
    changed["metadata"]["labels"]["tier"] = "front"
    status, updated = await send(api, "PUT", f"{PODS}/web", changed)
    assert status == 200 and updated["metadata"]["labels"]["tier"] == "front"
    wrong_uid = {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "preconditions": {"uid": "not-the-uid"},
    }
    status, refused = await send(api, "DELETE", f"{PODS}/web", wrong_uid)
    assert status == 409 and "Precondition failed" in refused["message"]
    eviction = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": "web", "namespace": "default"},
        "deleteOptions": {"gracePeriodSeconds": 0},
    }
    status, _ = await send(api, "POST", f"{PODS}/web/eviction", eviction)
    assert status == 201
    status, _, _ = await api.call("GET", f"{PODS}/web")
    assert status == 404


async def test_bad_protobuf_bodies_are_400_or_415_and_change_nothing(api: Api) -> None:
    revision = api.store.revision
    status, body, _ = await api.call("POST", PODS, data=b"\x00\x01", content_type=PROTOBUF)
    assert status == 400 and "Kubernetes protobuf prefix" in body["message"]
    status, body, _ = await api.call("POST", PODS, data=MAGIC + b"\xff", content_type=PROTOBUF)
    assert status == 400 and "runtime.Unknown envelope" in body["message"]
    status, body, _ = await api.call("POST", PODS, data=b"", content_type=PROTOBUF)
    assert status == 400 and "empty" in body["message"]
    status, body, _ = await api.call("POST", PODS, data=b"\xa0", content_type="application/cbor")
    assert status == 415
    assert api.store.revision == revision
    status, _, _ = await api.call(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD
    )
    assert status == 201
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    framed = MAGIC + _envelope("example.com/v1", "Widget")
    path = "/apis/example.com/v1/namespaces/default/widgets"
    status, body, _ = await api.call("POST", path, data=framed, content_type=PROTOBUF)
    assert status == 415 and "send it as application/json" in body["message"]
    status, _, _ = await api.call("POST", path, widget)
    assert status == 201


def _envelope(api_version: str, kind: str) -> bytes:
    cat = catalogue()
    unknown: Any = cat.new(cat.named("k8s.io.apimachinery.pkg.runtime.Unknown"))
    unknown.typeMeta.apiVersion = api_version
    unknown.typeMeta.kind = kind
    return bytes(unknown.SerializeToString())


async def test_a_client_accepting_only_protobuf_gets_protobuf(api: Api) -> None:
    await api.call("POST", PODS, pod("web", app="web"))
    _, as_json, _ = await api.call("GET", f"{PODS}/web")
    async with api.http.get(f"{PODS}/web", headers=ONLY_PROTOBUF) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == PROTOBUF
        got = decode(await response.read())
    assert got["kind"] == "Pod"
    assert got["metadata"]["uid"] == as_json["metadata"]["uid"]
    assert got["metadata"]["resourceVersion"] == as_json["metadata"]["resourceVersion"]
    assert got["spec"]["containers"] == as_json["spec"]["containers"]
    async with api.http.get(PODS, headers=ONLY_PROTOBUF) as response:
        listed = decode(await response.read())
    assert listed["kind"] == "PodList" and [p["metadata"]["name"] for p in listed["items"]] == [
        "web"
    ]
    async with api.http.get(f"{PODS}/missing", headers=ONLY_PROTOBUF) as response:
        assert response.status == 404
        error = decode(await response.read())
    assert error["kind"] == "Status" and error["reason"] == "NotFound" and error["code"] == 404
    # Either is fine to client-go, which then gets JSON.
    accept = {"Accept": f"{PROTOBUF}, */*"}
    async with api.http.get(f"{PODS}/web", headers=accept) as response:
        assert response.headers["Content-Type"].startswith("application/json")
    async with api.http.get(f"{PODS}/web", headers={"Accept": "image/png"}) as response:
        assert response.status == 406


async def test_custom_resources_have_no_protobuf_form(api: Api) -> None:
    await api.call("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD)
    path = "/apis/example.com/v1/namespaces/default/widgets"
    await api.call(
        "POST", path, {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    )
    async with api.http.get(f"{path}/w", headers=ONLY_PROTOBUF) as response:
        assert response.status == 406
        assert "no protobuf form" in (await response.json())["message"]
    async with api.http.get(path, headers=ONLY_PROTOBUF, params={"watch": "true"}) as response:
        assert response.status == 406


def frames(data: bytes) -> list[dict[str, Any]]:
    """The WatchEvents of a protobuf watch stream, objects decoded."""
    cat = catalogue()
    events = []
    while data:
        (length,) = struct.unpack(">I", data[:4])
        event: Any = cat.new(cat.named(f"{META}.WatchEvent"))
        event.ParseFromString(data[4 : 4 + length])
        events.append({"type": event.type, "object": decode(event.object.raw)})
        data = data[4 + length :]
    return events


async def test_a_protobuf_watch_sends_length_prefixed_watch_events(api: Api) -> None:
    await api.call("POST", PODS, pod("a"))
    await api.call("POST", PODS, pod("b"))
    params = {"watch": "true", "timeoutSeconds": "0"}
    async with api.http.get(PODS, headers=ONLY_PROTOBUF, params=params) as response:
        assert response.headers["Content-Type"] == f"{PROTOBUF};stream=watch"
        events = frames(await response.read())
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "a"),
        ("ADDED", "b"),
    ]
    assert events[0]["object"]["kind"] == "Pod"


def _mutated(data: bytes, cut: int, flip: int) -> bytes:
    out = bytearray(data[: max(len(MAGIC), len(data) - cut)])
    if flip and len(out) > len(MAGIC):
        position = len(MAGIC) + flip % (len(out) - len(MAGIC))
        out[position] ^= 0xFF
    return bytes(out)


_VALID = [encode(document) for document in _valid_objects()]
BODIES = st.one_of(
    st.sampled_from(_VALID),
    st.builds(_mutated, st.sampled_from(_VALID), st.integers(0, 40), st.integers(0, 400)),
    objects().map(encode),
    st.binary(max_size=64).map(lambda junk: MAGIC + junk),
)
PATHS = st.sampled_from(
    [
        PODS,
        f"{PODS}/web",
        f"{PODS}/web/eviction",
        f"{PODS}/web/binding",
        "/api/v1/namespaces/default/configmaps",
        "/api/v1/namespaces/default/configmaps/a",
        DEPLOYMENTS,
        f"{DEPLOYMENTS}/web",
        f"{DEPLOYMENTS}/web/scale",
        f"{DEPLOYMENTS}/web/status",
    ]
)


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from(["POST", "PUT", "DELETE"]), PATHS, BODIES), max_size=6))
def test_random_protobuf_bodies_never_get_a_500_and_refusals_change_nothing(
    requests: list[tuple[str, str, bytes]],
) -> None:
    none: dict[str, str] = {}
    sent: list[tuple[str, str, dict[str, str], str, bytes | None]] = [
        (method, path, none, PROTOBUF, body) for method, path, body in requests
    ]
    for (method, path, _, _, _), (status, changed) in zip(
        sent, run_against_server(sent), strict=True
    ):
        assert status < 500, (method, path, status)
        if status >= 400:
            assert not changed, (method, path, status)
