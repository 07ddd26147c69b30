"""The OpenAPI documents' shape: every served kind defined with its
group-version-kind, references that resolve, Kubernetes' operations and
parameters, CRD schemas made Swagger-compatible, the v3 index's hashes, and
the protobuf encoding read back with the same message classes."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import yaml

from engine.catalogue import SERVED
from engine.openapi import json_bytes, openapi_v2, openapi_v3, openapi_v3_index
from engine.openapi_proto import document_message_class, openapi_v2_protobuf
from tests.engine.test_openapi_kubectl import WIDGETS_CRD

NULLABLE_CRD: dict[str, Any] = {
    "spec": {
        "group": "stable.example.com",
        "scope": "Cluster",
        "names": {"plural": "crontabs", "kind": "CronTab"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "note": {"type": "string", "nullable": True},
                                    "port": {
                                        "x-kubernetes-int-or-string": True,
                                        "anyOf": [{"type": "integer"}, {"type": "string"}],
                                    },
                                    "size": {"type": "integer", "default": 1},
                                },
                            }
                        },
                    }
                },
            },
            {"name": "v0", "served": False, "schema": {"openAPIV3Schema": {"type": "object"}}},
        ],
    }
}


def refs(document: Any) -> Iterator[str]:
    if isinstance(document, dict):
        for key, value in document.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(document, list):
        for item in document:
            yield from refs(item)


def test_v2_defines_every_served_kind_with_its_gvk() -> None:
    document = openapi_v2([WIDGETS_CRD, NULLABLE_CRD])
    assert document["swagger"] == "2.0"
    gvks = {
        (g["group"], g["version"], g["kind"])
        for schema in document["definitions"].values()
        for g in schema.get("x-kubernetes-group-version-kind", ())
    }
    for served in SERVED:
        group, _, version = served.api_version.rpartition("/")
        assert (group, version, served.kind) in gvks, served
    assert ("example.com", "v1", "Widget") in gvks
    assert ("example.com", "v1", "WidgetList") in gvks
    assert not any(version == "v1beta1" for _, version, _ in gvks)
    for ref in refs(document):
        assert ref.removeprefix("#/definitions/") in document["definitions"], ref


def test_v2_paths_carry_kubernetes_operations() -> None:
    paths = openapi_v2([WIDGETS_CRD])["paths"]
    pod = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert pod["patch"]["x-kubernetes-group-version-kind"] == {
        "group": "",
        "kind": "Pod",
        "version": "v1",
    }
    assert pod["patch"]["x-kubernetes-action"] == "patch"
    names = [p["name"] for p in pod["patch"]["parameters"]]
    assert names == ["body", "dryRun", "fieldManager", "fieldValidation", "force"]
    assert "application/strategic-merge-patch+json" in pod["patch"]["consumes"]
    assert pod["get"]["operationId"] == "readCoreV1NamespacedPod"
    assert "/api/v1/namespaces/{namespace}/pods/{name}/status" in paths
    assert paths["/api/v1/pods"]["get"]["operationId"] == "listCoreV1PodForAllNamespaces"
    assert paths["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"]["operationId"] == (
        "createAppsV1NamespacedDeployment"
    )
    assert "/api/v1/nodes/{name}" in paths
    widget = paths["/apis/example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in widget["consumes"]


def test_protobuf_is_announced_for_built_in_kinds_only() -> None:
    paths = openapi_v2([WIDGETS_CRD])["paths"]
    deployments = paths["/apis/apps/v1/namespaces/{namespace}/deployments"]
    assert deployments["post"]["produces"] == [
        "application/json",
        "application/yaml",
        "application/vnd.kubernetes.protobuf",
    ]
    assert "application/vnd.kubernetes.protobuf;stream=watch" in deployments["get"]["produces"]
    widgets = paths["/apis/example.com/v1/namespaces/{namespace}/widgets"]
    assert widgets["get"]["produces"] == [
        "application/json",
        "application/yaml",
        "application/json;stream=watch",
    ]


def test_crd_schemas_are_made_swagger_compatible() -> None:
    v2 = openapi_v2([NULLABLE_CRD])["definitions"]
    assert "com.example.stable.v0.CronTab" not in v2
    spec = v2["com.example.stable.v1.CronTab"]["properties"]["spec"]["properties"]
    assert spec["note"] == {}
    assert spec["port"] == {"x-kubernetes-int-or-string": True}
    assert spec["size"] == {"type": "integer"}
    assert v2["com.example.stable.v1.CronTab"]["properties"]["metadata"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    v3 = openapi_v3("apis/stable.example.com/v1", [NULLABLE_CRD])
    assert v3 is not None
    spec3 = v3["components"]["schemas"]["com.example.stable.v1.CronTab"]["properties"]["spec"]
    assert spec3["properties"]["note"] == {"type": "string", "nullable": True}
    assert spec3["properties"]["size"]["default"] == 1


def test_v3_documents_resolve_and_the_index_hashes_them() -> None:
    index = openapi_v3_index([WIDGETS_CRD])
    assert {"api/v1", "apis/apps/v1", "apis/example.com/v1"} <= set(index["paths"])
    for gv, entry in index["paths"].items():
        document = openapi_v3(gv, [WIDGETS_CRD])
        assert document is not None
        digest = hashlib.sha512(json_bytes(document)).hexdigest().upper()
        assert entry["serverRelativeURL"] == f"/openapi/v3/{gv}?hash={digest}"
        schemas = document["components"]["schemas"]
        for ref in refs(document):
            assert ref.removeprefix("#/components/schemas/") in schemas, (gv, ref)
    assert openapi_v3("apis/nothing.example/v1") is None
    assert openapi_v3("apps/v1") is openapi_v3("apis/apps/v1")
    apps = openapi_v3("apps/v1")
    assert apps is not None and "io.k8s.api.core.v1.Pod" not in apps["components"]["schemas"]
    assert "io.k8s.api.apps.v1.Deployment" in apps["components"]["schemas"]


def test_protobuf_reads_back_with_the_same_content() -> None:
    document = openapi_v2([WIDGETS_CRD])
    message: Any = document_message_class()()
    message.ParseFromString(openapi_v2_protobuf(document))
    assert message.swagger == "2.0"
    names = [d.name for d in message.definitions.additional_properties]
    assert names == list(document["definitions"])
    deployment = next(
        d.value
        for d in message.definitions.additional_properties
        if d.name == "io.k8s.api.apps.v1.Deployment"
    )
    (extension,) = [
        e for e in deployment.vendor_extension if e.name == "x-kubernetes-group-version-kind"
    ]
    assert yaml.safe_load(extension.value.yaml) == [
        {"group": "apps", "kind": "Deployment", "version": "v1"}
    ]
    spec = next(p.value for p in deployment.properties.additional_properties if p.name == "spec")
    assert spec._ref == "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
    path = next(
        p.value
        for p in message.paths.path
        if p.name == "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"
    )
    query = [
        p.parameter.non_body_parameter.query_parameter_sub_schema.name
        for p in path.patch.parameters
        if p.parameter.HasField("non_body_parameter")
    ]
    assert "fieldValidation" in query
