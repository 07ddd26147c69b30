"""The OpenAPI documents and Tables read by the real kubectl: a tiny HTTP
server (this test's own, serving discovery, the documents and two Tables)
answers `kubectl get` (server-side printed tables), `kubectl
explain` (OpenAPI v3, and v2 as protobuf with `--output=plaintext-openapiv2`)
and `kubectl apply --validate=strict`, which validates with the v2 protobuf
schema when the server does not take `fieldValidation`, and leaves validation
to the server when the PATCH operations say it does.

kubectl is the machine's binary; these tests skip when there is none. Each
kubectl run is bounded by a timeout."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from engine.openapi import json_bytes, openapi_v2, openapi_v3, openapi_v3_index
from engine.openapi_proto import PROTOBUF_CONTENT_TYPE, openapi_v2_protobuf
from engine.printers import table

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed on this machine")

WIDGETS_CRD: dict[str, Any] = {
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
            "listKind": "WidgetList",
        },
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "description": "What the widget should be.",
                                "properties": {
                                    "size": {
                                        "type": "integer",
                                        "description": "How many sprockets the widget has.",
                                    },
                                    "port": {"x-kubernetes-int-or-string": True},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}

RESOURCES: dict[str, list[dict[str, Any]]] = {
    "/api/v1": [
        {
            "name": "configmaps",
            "singularName": "configmap",
            "namespaced": True,
            "kind": "ConfigMap",
            "shortNames": ["cm"],
        },
        {
            "name": "namespaces",
            "singularName": "namespace",
            "namespaced": False,
            "kind": "Namespace",
        },
        {"name": "pods", "singularName": "pod", "namespaced": True, "kind": "Pod"},
    ],
    "/apis/apps/v1": [
        {
            "name": "deployments",
            "singularName": "deployment",
            "namespaced": True,
            "kind": "Deployment",
        },
    ],
    "/apis/example.com/v1": [
        {"name": "widgets", "singularName": "widget", "namespaced": True, "kind": "Widget"},
    ],
}
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
PODS = [
    {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "web-1",
            "namespace": "default",
            "creationTimestamp": "2026-03-01T11:55:00Z",
        },
        "spec": {"nodeName": "node-1", "containers": [{"name": "app", "image": "nginx"}]},
        "status": {
            "phase": "Running",
            "podIPs": [{"ip": "10.0.0.7"}],
            "containerStatuses": [
                {
                    "name": "app",
                    "ready": False,
                    "restartCount": 4,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {
                        "terminated": {"exitCode": 1, "finishedAt": "2026-03-01T11:58:30Z"}
                    },
                }
            ],
        },
    }
]
WIDGETS = [
    {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "gear", "namespace": "default"},
        "spec": {"size": 7},
    }
]
WIDGET_COLUMNS = [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
LISTS: dict[str, tuple[str, str, list[dict[str, Any]], list[dict[str, Any]] | None]] = {
    "/api/v1/namespaces/default/pods": ("", "Pod", PODS, None),
    "/apis/example.com/v1/namespaces/default/widgets": (
        "example.com",
        "Widget",
        WIDGETS,
        WIDGET_COLUMNS,
    ),
}
VERBS = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _strip_field_validation(document: Any) -> Any:
    """The document as an old server's: no `fieldValidation` query parameter."""
    if isinstance(document, dict):
        return {k: _strip_field_validation(v) for k, v in document.items()}
    if isinstance(document, list):
        return [
            _strip_field_validation(v)
            for v in document
            if not (
                isinstance(v, dict)
                and v.get("name") == "fieldValidation"
                and v.get("in") == "query"
            )
        ]
    return document


class Fixture:
    def __init__(self, field_validation: bool) -> None:
        crds = [WIDGETS_CRD]
        v2 = openapi_v2(crds)
        self.v2 = v2 if field_validation else _strip_field_validation(v2)
        self.v2_proto = openapi_v2_protobuf(self.v2)
        self.v3: dict[str, bytes] = {}
        index = openapi_v3_index(crds)
        for gv in index["paths"]:
            document = openapi_v3(gv, crds)
            assert document is not None
            if not field_validation:
                document = _strip_field_validation(document)
                # The index must hash what is served.
            self.v3[gv] = json_bytes(document)
        self.index = {"paths": {gv: {"serverRelativeURL": f"/openapi/v3/{gv}"} for gv in self.v3}}
        self.requests: list[str] = []

    def answer(self, path: str, accept: str) -> tuple[int, str, bytes]:
        self.requests.append(path)
        path = path.split("?", 1)[0]
        if path == "/version":
            return (
                200,
                "application/json",
                json.dumps({"major": "1", "minor": "34", "gitVersion": "v1.34.0"}).encode(),
            )
        if path == "/api":
            return (
                200,
                "application/json",
                json.dumps({"kind": "APIVersions", "versions": ["v1"]}).encode(),
            )
        if path == "/apis":
            groups = [
                {
                    "name": group,
                    "versions": [{"groupVersion": f"{group}/v1", "version": "v1"}],
                    "preferredVersion": {"groupVersion": f"{group}/v1", "version": "v1"},
                }
                for group in ("apps", "example.com")
            ]
            return (
                200,
                "application/json",
                json.dumps({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}).encode(),
            )
        if path in RESOURCES:
            group_version = path.removeprefix("/api/").removeprefix("/apis/")
            body = {
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": [{**r, "verbs": VERBS} for r in RESOURCES[path]],
            }
            return 200, "application/json", json.dumps(body).encode()
        if path in LISTS and "as=Table" in accept:
            group, kind, objects, columns = LISTS[path]
            printed = table(
                objects, group=group, version="v1", kind=kind, crd_columns=columns, now=NOW
            )
            return 200, "application/json", json.dumps(printed).encode()
        if path == "/openapi/v2":
            if "protobuf" in accept:
                return 200, PROTOBUF_CONTENT_TYPE, self.v2_proto
            return 200, "application/json", json.dumps(self.v2).encode()
        if path == "/openapi/v3":
            return 200, "application/json", json.dumps(self.index).encode()
        if path.startswith("/openapi/v3/") and path.removeprefix("/openapi/v3/") in self.v3:
            return 200, "application/json", self.v3[path.removeprefix("/openapi/v3/")]
        status = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "the server could not find the requested resource",
            "reason": "NotFound",
            "code": 404,
        }
        return 404, "application/json", json.dumps(status).encode()


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Any]:
    servers: list[ThreadingHTTPServer] = []

    def start(field_validation: bool = True) -> tuple[Fixture, list[str]]:
        fixture = Fixture(field_validation)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                code, content_type, body = fixture.answer(self.path, self.headers.get("Accept", ""))
                self.send_response(code)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        kubeconfig = tmp_path / f"kubeconfig-{len(servers)}"
        kubeconfig.write_text(
            json.dumps(
                {
                    "apiVersion": "v1",
                    "kind": "Config",
                    "clusters": [
                        {
                            "name": "k",
                            "cluster": {"server": f"http://127.0.0.1:{server.server_port}"},
                        }
                    ],
                    "users": [{"name": "u", "user": {"token": "t"}}],
                    "contexts": [
                        {
                            "name": "k",
                            "context": {"cluster": "k", "user": "u", "namespace": "default"},
                        }
                    ],
                    "current-context": "k",
                }
            )
        )
        base = [
            str(KUBECTL),
            f"--kubeconfig={kubeconfig}",
            f"--cache-dir={tmp_path / f'cache-{len(servers)}'}",
        ]
        return fixture, base

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def kubectl(
    base: list[str], *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*base, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def test_kubectl_explain_reads_openapi_v3(serve: Any) -> None:
    fixture, base = serve()
    result = kubectl(base, "explain", "deployment.spec.replicas")
    assert result.returncode == 0, result.stderr
    assert "FIELD: replicas <integer>" in result.stdout
    assert "Number of desired pods" in result.stdout
    assert any(r.startswith("/openapi/v3/apis/apps/v1") for r in fixture.requests)
    widget = kubectl(base, "explain", "widgets.spec")
    assert widget.returncode == 0, widget.stderr
    assert "How many sprockets the widget has." in widget.stdout
    assert "size\t<integer>" in widget.stdout


def test_kubectl_explain_reads_openapi_v2_protobuf(serve: Any) -> None:
    fixture, base = serve()
    result = kubectl(base, "explain", "pods.spec.containers.ports", "--output=plaintext-openapiv2")
    assert result.returncode == 0, result.stderr
    assert "containerPort\t<integer> -required-" in result.stdout
    assert any(r.startswith("/openapi/v2") for r in fixture.requests)


CONFIGMAP = """
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings}}
{field}: {{a: "1"}}
"""


def test_kubectl_validates_strictly_with_the_v2_schema(serve: Any) -> None:
    _, base = serve(field_validation=False)
    good = kubectl(
        base,
        "apply",
        "--dry-run=client",
        "--validate=strict",
        "-f",
        "-",
        stdin=CONFIGMAP.format(field="data"),
    )
    assert good.returncode == 0, good.stderr
    assert "configmap/settings created (dry run)" in good.stdout
    bad = kubectl(
        base,
        "apply",
        "--dry-run=client",
        "--validate=strict",
        "-f",
        "-",
        stdin=CONFIGMAP.format(field="datta"),
    )
    assert bad.returncode != 0
    assert 'unknown field "datta"' in bad.stderr
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: many}\n"
    wrong_type = kubectl(
        base, "apply", "--dry-run=client", "--validate=strict", "-f", "-", stdin=widget
    )
    assert wrong_type.returncode != 0
    assert "spec.size" in wrong_type.stderr


def test_kubectl_leaves_validation_to_a_server_taking_field_validation(serve: Any) -> None:
    _, base = serve(field_validation=True)
    # The PATCH operations list fieldValidation, so kubectl sends the object
    # for the server to check instead of checking it itself.
    result = kubectl(
        base,
        "apply",
        "--dry-run=client",
        "--validate=strict",
        "-f",
        "-",
        stdin=CONFIGMAP.format(field="datta"),
    )
    assert result.returncode == 0, result.stderr
    assert "configmap/settings created (dry run)" in result.stdout


def test_kubectl_get_prints_server_side_tables(serve: Any) -> None:
    _, base = serve()
    pods = kubectl(base, "get", "pods")
    assert pods.returncode == 0, pods.stderr
    assert pods.stdout.split("\n")[:2] == [
        "NAME    READY   STATUS             RESTARTS      AGE",
        "web-1   0/1     CrashLoopBackOff   4 (90s ago)   5m",
    ]
    wide = kubectl(base, "get", "pods", "-o", "wide")
    assert wide.returncode == 0, wide.stderr
    assert "NOMINATED NODE" in wide.stdout and "10.0.0.7" in wide.stdout
    widgets = kubectl(base, "get", "widgets")
    assert widgets.returncode == 0, widgets.stderr
    assert widgets.stdout.split() == ["NAME", "SIZE", "gear", "7"]
