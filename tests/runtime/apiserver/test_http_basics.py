"""The HTTP API over a bare store: authentication, discovery, CRUD and errors
as Status objects."""

from __future__ import annotations

from typing import Any

import aiohttp

from engine.api.core import Pod
from tests.runtime.apiserver.conftest import Api, deployment, pod, start_api

PODS = "/api/v1/namespaces/default/pods"


async def test_requests_without_the_token_get_401_and_learn_nothing() -> None:
    server, endpoint, _ = await start_api()
    try:
        async with aiohttp.ClientSession(base_url=endpoint.url) as http:
            for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
                async with http.get(PODS, headers=headers) as response:
                    assert response.status == 401
                    body = await response.json()
                    assert body["kind"] == "Status" and body["reason"] == "Unauthorized"
                    assert body["message"] == "Unauthorized"
                    assert "details" not in body
            async with http.get("/healthz") as response:
                assert response.status == 200
    finally:
        await server.stop()


async def test_discovery_lists_versions_groups_and_resources(api: Api) -> None:
    status, version, _ = await api.call("GET", "/version")
    assert status == 200 and version["major"] == "1"
    _, core, _ = await api.call("GET", "/api")
    assert core["versions"] == ["v1"]
    _, groups, _ = await api.call("GET", "/apis")
    names = {g["name"]: g for g in groups["groups"]}
    assert names["apps"]["preferredVersion"]["groupVersion"] == "apps/v1"
    _, resources, _ = await api.call("GET", "/api/v1")
    by_name = {r["name"]: r for r in resources["resources"]}
    assert by_name["pods"]["shortNames"] == ["po"] and by_name["pods"]["namespaced"]
    assert {"pods/status", "pods/log", "pods/eviction", "pods/binding"} <= set(by_name)
    _, apps, _ = await api.call("GET", "/apis/apps/v1")
    assert any(r["name"] == "deployments/scale" for r in apps["resources"])
    status, missing, _ = await api.call("GET", "/apis/nope.example.com/v1")
    assert status == 404 and missing["kind"] == "Status"


KUBECTL_DISCOVERY_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


async def _aggregated(api: Api, path: str, accept: str = KUBECTL_DISCOVERY_ACCEPT) -> Any:
    status, document, response = await api.call("GET", path, headers={"Accept": accept})
    assert status == 200
    return response.headers["Content-Type"], document


async def test_aggregated_discovery_holds_every_group_and_resource(api: Api) -> None:
    content_type, core = await _aggregated(api, "/api")
    assert content_type == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    assert core["kind"] == "APIGroupDiscoveryList"
    assert core["apiVersion"] == "apidiscovery.k8s.io/v2"
    [legacy] = core["items"]
    assert "name" not in legacy["metadata"]
    [v1] = legacy["versions"]
    assert v1["version"] == "v1" and v1["freshness"] == "Current"
    pods = next(r for r in v1["resources"] if r["resource"] == "pods")
    assert pods["scope"] == "Namespaced" and pods["singularResource"] == "pod"
    assert pods["shortNames"] == ["po"] and pods["categories"] == ["all"]
    assert pods["responseKind"] == {"group": "", "version": "v1", "kind": "Pod"}
    subresources = {s["subresource"]: s for s in pods["subresources"]}
    assert set(subresources) == {"status", "log", "binding", "eviction"}
    assert subresources["eviction"]["responseKind"] == {
        "group": "policy",
        "version": "v1",
        "kind": "Eviction",
    }
    nodes = next(r for r in v1["resources"] if r["resource"] == "nodes")
    assert nodes["scope"] == "Cluster"
    _, groups = await _aggregated(api, "/apis")
    by_name = {g["metadata"]["name"]: g for g in groups["items"]}
    assert "" not in by_name and "apps" in by_name
    autoscaling = [v["version"] for v in by_name["autoscaling"]["versions"]]
    assert autoscaling[0] == "v2" and "v1" in autoscaling  # the preferred version first
    deployments = next(
        r for r in by_name["apps"]["versions"][0]["resources"] if r["resource"] == "deployments"
    )
    scale = next(s for s in deployments["subresources"] if s["subresource"] == "scale")
    assert scale["responseKind"]["kind"] == "Scale" and scale["verbs"] == ["get", "patch", "update"]
    reviews = by_name["authorization.k8s.io"]["versions"][0]["resources"]
    assert {r["resource"] for r in reviews} >= {"selfsubjectaccessreviews", "subjectaccessreviews"}


async def test_aggregated_discovery_only_when_asked_and_in_the_version_asked(api: Api) -> None:
    content_type, legacy = await _aggregated(api, "/apis", "application/json, */*")
    assert content_type.startswith("application/json") and legacy["kind"] == "APIGroupList"
    content_type, core = await _aggregated(api, "/api", "application/json")
    assert core["kind"] == "APIVersions"
    beta = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    content_type, document = await _aggregated(api, "/apis", f"{beta},application/json")
    assert content_type == beta and document["apiVersion"] == "apidiscovery.k8s.io/v2beta1"


async def test_create_get_update_delete_a_pod(api: Api) -> None:
    status, created, _ = await api.call("POST", PODS, pod("web", app="web"))
    assert status == 201
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    status, got, _ = await api.call("GET", f"{PODS}/web")
    assert status == 200 and got["metadata"]["uid"] == created["metadata"]["uid"]
    got["metadata"]["labels"]["tier"] = "front"
    status, updated, _ = await api.call("PUT", f"{PODS}/web", got)
    assert status == 200 and updated["metadata"]["labels"]["tier"] == "front"
    status, stale, _ = await api.call("PUT", f"{PODS}/web", got)
    assert status == 409 and stale["reason"] == "Conflict"
    status, deleted, _ = await api.call("DELETE", f"{PODS}/web")
    assert status == 200
    assert deleted["status"] == "Success" and deleted["details"]["name"] == "web"
    status, gone, _ = await api.call("GET", f"{PODS}/web")
    assert status == 404 and gone["reason"] == "NotFound"


async def test_errors_are_status_objects_with_causes(api: Api) -> None:
    bad = pod("bad")
    bad["spec"]["containers"][0]["image"] = 5
    status, body, _ = await api.call("POST", PODS, bad)
    assert status == 422 and body["reason"] == "Invalid"
    fields = [c["field"] for c in body["details"]["causes"]]
    assert "spec.containers[0].image" in fields
    status, body, _ = await api.call(
        "POST", PODS, data=b'{"kind": ', content_type="application/json"
    )
    assert status == 400 and body["reason"] == "BadRequest"
    status, body, _ = await api.call("GET", "/api/v1/namespaces/default/widgets")
    assert status == 404 and "widgets" in body["message"]
    status, body, _ = await api.call("POST", PODS, deployment("d"))
    assert status == 400 and "do not match" in body["message"]
    status, body, _ = await api.call("POST", PODS, pod("x"), params={"fieldValidation": "Nope"})
    assert status == 400
    assert api.store.try_get(Pod, "x", "default") is None
    status, body, _ = await api.call("POST", "/api/v1/namespaces/missing/pods", pod("x"))
    assert status == 404 and body["message"] == 'namespaces "missing" not found'


async def test_bodies_over_3_mib_are_413(api: Api) -> None:
    big = pod("big")
    big["metadata"]["annotations"] = {"a": "x" * (3 * 1024 * 1024)}
    status, body, _ = await api.call("POST", PODS, big)
    assert status == 413 and body["reason"] == "RequestEntityTooLarge"
    assert api.store.try_get(Pod, "big", "default") is None


async def test_generate_name_and_dry_run(api: Api) -> None:
    template = pod("")
    del template["metadata"]["name"]
    template["metadata"]["generateName"] = "web-"
    status, created, _ = await api.call("POST", PODS, template)
    assert status == 201 and created["metadata"]["name"].startswith("web-")
    before = api.store.revision
    status, dry, _ = await api.call("POST", PODS, pod("dry"), params={"dryRun": "All"})
    assert status == 201 and dry["metadata"]["name"] == "dry"
    status, _, _ = await api.call(
        "DELETE", f"{PODS}/{created['metadata']['name']}", params={"dryRun": "All"}
    )
    assert status == 200
    assert api.store.revision == before


async def test_field_validation_strict_warn_ignore(api: Api) -> None:
    body = pod("strict")
    body["spec"]["bogus"] = 1
    status, refused, _ = await api.call("POST", PODS, body, params={"fieldValidation": "Strict"})
    assert status == 422 and refused["details"]["causes"][0]["field"] == "spec.bogus"
    status, _, response = await api.call("POST", PODS, body, params={"fieldValidation": "Warn"})
    assert status == 201
    assert response.headers.getall("Warning") == ['299 - "unknown field \\"spec.bogus\\""']
    body["metadata"]["name"] = "ignored"
    status, _, response = await api.call("POST", PODS, body, params={"fieldValidation": "Ignore"})
    assert status == 201 and "Warning" not in response.headers


async def test_list_with_selectors_pages_and_resource_versions(api: Api) -> None:
    for i in range(5):
        await api.call("POST", PODS, pod(f"p{i}", tier="a" if i % 2 else "b"))
    _, listed, _ = await api.call("GET", PODS, params={"labelSelector": "tier=a"})
    assert [p["metadata"]["name"] for p in listed["items"]] == ["p1", "p3"]
    assert listed["kind"] == "PodList"
    _, by_field, _ = await api.call(
        "GET", "/api/v1/pods", params={"fieldSelector": "metadata.name=p2"}
    )
    assert [p["metadata"]["name"] for p in by_field["items"]] == ["p2"]
    _, first, _ = await api.call("GET", PODS, params={"limit": "2"})
    token = first["metadata"]["continue"]
    _, second, _ = await api.call("GET", PODS, params={"limit": "2", "continue": token})
    _, third, _ = await api.call(
        "GET", PODS, params={"limit": "2", "continue": second["metadata"]["continue"]}
    )
    names = [p["metadata"]["name"] for page in (first, second, third) for p in page["items"]]
    assert names == ["p0", "p1", "p2", "p3", "p4"] and "continue" not in third["metadata"]
    revision = listed["metadata"]["resourceVersion"]
    status, exact, _ = await api.call(
        "GET", PODS, params={"resourceVersion": revision, "resourceVersionMatch": "Exact"}
    )
    assert status == 200 and len(exact["items"]) == 5
    status, body, _ = await api.call("GET", PODS, params={"resourceVersionMatch": "Exact"})
    assert status == 400
    status, body, _ = await api.call("GET", PODS, params={"resourceVersion": "999999"})
    assert status == 504 and body["reason"] == "Timeout"
    status, body, _ = await api.call("GET", PODS, params={"labelSelector": "a in (("})
    assert status == 400


async def test_delete_options_and_deletecollection(api: Api) -> None:
    await api.call("POST", PODS, pod("keep", app="x"))
    precondition = {"preconditions": {"uid": "not-it"}}
    status, body, _ = await api.call("DELETE", f"{PODS}/keep", precondition)
    assert body["reason"] == "Conflict"
    assert status == 409
    status, _body, _ = await api.call("DELETE", f"{PODS}/keep", {"propagationPolicy": "Sideways"})
    assert status == 400
    for i in range(3):
        await api.call("POST", PODS, pod(f"gone{i}", app="gone"))
    status, listed, _ = await api.call("DELETE", PODS, params={"labelSelector": "app=gone"})
    assert status == 200 and len(listed["items"]) == 3
    assert [p.metadata.name for p in api.store.list(Pod).items] == ["keep"]


async def test_the_in_process_cluster_fixture_runs_a_deployment(kubeloop_cluster: Any) -> None:
    from engine.api.apps import Deployment

    await kubeloop_cluster.apply(deployment("web", replicas=2))
    await kubeloop_cluster.wait_converged(timeout=60)
    web = await kubeloop_cluster.get(Deployment, "web", "default")
    assert web.status.ready_replicas == 2
