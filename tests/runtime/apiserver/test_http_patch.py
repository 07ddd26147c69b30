"""PATCH in its four types, server-side apply, subresources and custom kinds
over HTTP."""

from __future__ import annotations

from typing import Any

import yaml

from engine.api.apps import Deployment
from engine.api.base import ObjectMeta
from engine.api.core import Node, NodeSpec, Pod
from tests.runtime.apiserver.conftest import Api, deployment, pod

PODS = "/api/v1/namespaces/default/pods"
DEPLOYMENTS = "/apis/apps/v1/namespaces/default/deployments"
JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"

CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "widgets.example.com"},
    "spec": {
        "group": "example.com",
        "scope": "Namespaced",
        "names": {
            "plural": "widgets",
            "singular": "widget",
            "kind": "Widget",
            "shortNames": ["wd"],
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {
                    "status": {},
                    "scale": {
                        "specReplicasPath": ".spec.replicas",
                        "statusReplicasPath": ".status.replicas",
                    },
                },
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "size": {"type": "integer"},
                                    "replicas": {"type": "integer"},
                                },
                            },
                            "status": {
                                "type": "object",
                                "properties": {
                                    "phase": {"type": "string"},
                                    "replicas": {"type": "integer"},
                                },
                            },
                        },
                    }
                },
            }
        ],
    },
}
WIDGETS = "/apis/example.com/v1/namespaces/default/widgets"


async def test_json_merge_and_strategic_patches(api: Api) -> None:
    await api.call("POST", PODS, pod("web", app="web"))
    ops = [{"op": "add", "path": "/metadata/labels/tier", "value": "front"}]
    status, patched, _ = await api.call("PATCH", f"{PODS}/web", ops, content_type=JSON_PATCH)
    assert status == 200 and patched["metadata"]["labels"]["tier"] == "front"
    failing = [{"op": "test", "path": "/metadata/labels/tier", "value": "back"}]
    before = api.store.revision
    status, body, _ = await api.call("PATCH", f"{PODS}/web", failing, content_type=JSON_PATCH)
    assert status == 422 and body["kind"] == "Status"
    assert api.store.revision == before
    status, patched, _ = await api.call(
        "PATCH", f"{PODS}/web", {"metadata": {"labels": {"tier": None}}}, content_type=MERGE
    )
    assert status == 200 and "tier" not in patched["metadata"]["labels"]
    containers = {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}
    status, patched, _ = await api.call("PATCH", f"{PODS}/web", containers, content_type=STRATEGIC)
    assert status == 200 and patched["spec"]["containers"][0]["image"] == "nginx:2"
    status, body, _ = await api.call("PATCH", f"{PODS}/web", {}, content_type="text/plain")
    assert status == 415
    status, body, _ = await api.call(
        "PATCH", f"{PODS}/web", {"metadata": {"name": "other"}}, content_type=MERGE
    )
    assert status == 400


async def test_server_side_apply_creates_then_conflicts_then_forces(api: Api) -> None:
    manifest = yaml.safe_dump(deployment("web", replicas=2))
    path = f"{DEPLOYMENTS}/web"
    status, created, _ = await api.call(
        "PATCH",
        path,
        data=manifest.encode(),
        content_type=APPLY,
        params={"fieldManager": "alice"},
    )
    assert status == 201 and created["spec"]["replicas"] == 2
    changed = yaml.safe_dump(deployment("web", replicas=5))
    status, body, _ = await api.call(
        "PATCH", path, data=changed.encode(), content_type=APPLY, params={"fieldManager": "bob"}
    )
    assert status == 409 and body["reason"] == "Conflict"
    status, forced, _ = await api.call(
        "PATCH",
        path,
        data=changed.encode(),
        content_type=APPLY,
        params={"fieldManager": "bob", "force": "true"},
    )
    assert status == 200 and forced["spec"]["replicas"] == 5
    status, body, _ = await api.call("PATCH", path, data=changed.encode(), content_type=APPLY)
    assert status == 400 and "fieldManager" in body["message"]


async def test_status_and_scale_subresources(api: Api) -> None:
    await api.call("POST", DEPLOYMENTS, deployment("web", replicas=2))
    status, scale, _ = await api.call("GET", f"{DEPLOYMENTS}/web/scale")
    assert status == 200 and scale["kind"] == "Scale" and scale["spec"]["replicas"] == 2
    assert scale["status"]["selector"] == "app=web"
    scale["spec"]["replicas"] = 4
    status, scaled, _ = await api.call("PUT", f"{DEPLOYMENTS}/web/scale", scale)
    assert status == 200 and scaled["spec"]["replicas"] == 4
    status, scaled, _ = await api.call(
        "PATCH", f"{DEPLOYMENTS}/web/scale", {"spec": {"replicas": 1}}, content_type=MERGE
    )
    assert status == 200 and api.store.get(Deployment, "web", "default").spec.replicas == 1
    status, patched, _ = await api.call(
        "PATCH",
        f"{DEPLOYMENTS}/web/status",
        {"status": {"observedGeneration": 7}},
        content_type=MERGE,
    )
    assert status == 200 and patched["status"]["observedGeneration"] == 7
    status, _body, _ = await api.call("GET", "/api/v1/namespaces/default/configmaps/x/status")
    assert status == 404


async def test_binding_and_eviction(api: Api) -> None:
    api.store.create(Node(metadata=ObjectMeta(name="n1"), spec=NodeSpec()))
    await api.call("POST", PODS, pod("web"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "web"},
        "target": {"kind": "Node", "name": "n1"},
    }
    status, _, _ = await api.call("POST", f"{PODS}/web/binding", binding)
    assert status == 201 and api.store.get(Pod, "web", "default").spec.node_name == "n1"
    eviction = {"apiVersion": "policy/v1", "kind": "Eviction", "metadata": {"name": "web"}}
    status, body, _ = await api.call("POST", f"{PODS}/web/eviction", eviction)
    assert status == 201 and body["status"] == "Success"
    status, body, _ = await api.call("GET", f"{PODS}/web/log")
    assert status in (200, 404)


async def test_custom_kinds_are_served_once_their_crd_is_established(api: Api) -> None:
    status, _, _ = await api.call("GET", WIDGETS)
    assert status == 404
    status, crd, _ = await api.call(
        "POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", CRD
    )
    assert status == 201
    assert any(
        c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"]
    )
    _, resources, _ = await api.call("GET", "/apis/example.com/v1")
    names = {r["name"] for r in resources["resources"]}
    assert names == {"widgets", "widgets/status", "widgets/scale"}
    aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    _, groups, _ = await api.call("GET", "/apis", headers={"Accept": aggregated})
    [example] = [g for g in groups["items"] if g["metadata"]["name"] == "example.com"]
    [widgets] = example["versions"][0]["resources"]
    assert widgets["resource"] == "widgets" and widgets["shortNames"] == ["wd"]
    assert widgets["singularResource"] == "widget" and widgets["scope"] == "Namespaced"
    assert {s["subresource"] for s in widgets["subresources"]} == {"status", "scale"}
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w"},
        "spec": {"size": 3, "replicas": 1},
    }
    status, created, _ = await api.call("POST", WIDGETS, widget)
    assert status == 201, created
    assert created["spec"]["size"] == 3
    status, body, _ = await api.call(
        "PATCH", f"{WIDGETS}/w", {"spec": {"size": 4}}, content_type=STRATEGIC
    )
    assert status == 415
    status, patched, _ = await api.call(
        "PATCH", f"{WIDGETS}/w", {"spec": {"size": 4}}, content_type=MERGE
    )
    assert status == 200 and patched["spec"]["size"] == 4
    status, patched, _ = await api.call(
        "PATCH",
        f"{WIDGETS}/w/status",
        {"status": {"phase": "Ready", "replicas": 1}},
        content_type=MERGE,
    )
    assert status == 200 and patched["status"]["phase"] == "Ready"
    status, scale, _ = await api.call("GET", f"{WIDGETS}/w/scale")
    assert status == 200 and scale["spec"]["replicas"] == 1
    bad = {**widget, "metadata": {"name": "bad"}, "spec": {"size": "big"}}
    status, body, _ = await api.call("POST", WIDGETS, bad)
    assert status == 422 and body["details"]["causes"][0]["field"] == "spec.size"
    status, _, _ = await api.call(
        "DELETE", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.example.com"
    )
    assert status == 200
    status, _, _ = await api.call("GET", WIDGETS)
    assert status == 404
    _, groups, _ = await api.call("GET", "/apis", headers={"Accept": aggregated})
    assert "example.com" not in {g["metadata"]["name"] for g in groups["items"]}
