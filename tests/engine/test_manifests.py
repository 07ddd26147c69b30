"""Manifest loading: every example in examples/ loads, every file in
examples/bad/ fails with the error its first line announces (naming the field
path), objects round-trip through to_dict and YAML, and the text formats
(multi-document YAML, JSON, Lists) behave as kubectl users expect."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api import ConfigMap, Deployment, Namespace, Pod, ReplicaSet, Service
from engine.errors import BadRequest, Invalid, ManifestErrors
from engine.manifests import (
    dump_manifest,
    dump_manifests,
    load_manifest_files,
    load_manifests,
    parse_object,
)
from engine.registry import Registry, register_unstructured

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GOOD = sorted(p for p in EXAMPLES.iterdir() if p.suffix in (".yaml", ".yml", ".json"))
BAD = sorted((EXAMPLES / "bad").iterdir())
ERRORS = {"BadRequest": BadRequest, "Invalid": Invalid}


def test_there_are_examples() -> None:
    assert len(GOOD) >= 12 and len(BAD) >= 10


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_every_example_loads(path: Path) -> None:
    objects = load_manifest_files([path])
    assert objects
    for obj in objects:
        assert obj.metadata.name


@pytest.mark.parametrize("path", BAD, ids=lambda p: p.name)
def test_every_bad_example_fails_naming_the_problem(path: Path) -> None:
    # The first line of each bad file reads "# expect: <error> <text in the message>".
    header = path.read_text().splitlines()[0]
    error_name, expected = header.removeprefix("# expect: ").split(" ", 1)
    with pytest.raises(ERRORS[error_name]) as info:
        load_manifest_files([path])
    message = str(info.value)
    assert expected in message
    assert str(path) in message  # the source is named


@pytest.mark.parametrize("path", GOOD, ids=lambda p: p.name)
def test_examples_round_trip(path: Path) -> None:
    for obj in load_manifest_files([path]):
        assert parse_object(obj.to_dict()) == obj
        assert load_manifests(dump_manifest(obj)) == [obj]


def test_nginx_deployment_from_the_docs() -> None:
    (deployment,) = load_manifest_files([EXAMPLES / "nginx-deployment.yaml"])
    assert isinstance(deployment, Deployment)
    assert deployment.spec.replicas == 3
    container = deployment.spec.template.spec.containers[0]
    assert (container.image, container.ports[0].container_port) == ("nginx:1.14.2", 80)


def test_multi_document_file_keeps_order() -> None:
    objects = load_manifest_files([EXAMPLES / "guestbook-app.yaml"])
    assert [type(o) for o in objects] == [Namespace, ConfigMap, Deployment, Service]
    assert all(o.metadata.namespace == "guestbook" for o in objects[1:])


def test_a_directory_loads_its_manifests_in_name_order() -> None:
    objects = load_manifest_files([EXAMPLES])
    expected = [o for path in GOOD for o in load_manifest_files([path])]
    assert objects == expected


def test_empty_documents_are_skipped() -> None:
    text = "---\n---\n# only a comment\n---\napiVersion: v1\nkind: Namespace\n"
    text += "metadata:\n  name: a\n---\n"
    assert [o.metadata.name for o in load_manifests(text)] == ["a"]
    assert load_manifests("") == []


def test_lists_expand_to_their_items() -> None:
    objects = load_manifest_files([EXAMPLES / "list.yaml"])
    assert [type(o) for o in objects] == [Namespace, ReplicaSet]


def test_typed_lists_may_omit_the_kind_of_their_items() -> None:
    text = """
apiVersion: v1
kind: PodList
items:
- metadata: {name: a}
  spec: {containers: [{name: c, image: nginx}]}
- metadata: {name: b}
  spec: {containers: [{name: c, image: nginx}]}
"""
    pods = load_manifests(text)
    assert [type(p) for p in pods] == [Pod, Pod]


def test_json_manifests_load() -> None:
    text = (
        '{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}}'
    )
    (config,) = load_manifests(text)
    assert isinstance(config, ConfigMap) and config.data == {"k": "v"}


def test_invalid_json_is_a_bad_request_with_a_line() -> None:
    with pytest.raises(BadRequest, match=r"cfg\.json document 1: invalid YAML at line 2"):
        load_manifests('{"apiVersion": "v1",\n  "kind" "ConfigMap"}', source="cfg.json")


def test_errors_name_the_source_and_document() -> None:
    text = (
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: ok}\n---\n"
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n"
    )
    with pytest.raises(Invalid) as info:
        load_manifests(text, source="app.yaml")
    assert str(info.value).startswith('Pod "p" (app.yaml document 2) is invalid:')
    assert [(e.path, e.message) for e in info.value.errors] == [
        ("spec.containers[0].image", "Required value")
    ]


def test_unknown_kind_names_kind_and_api_version() -> None:
    with pytest.raises(BadRequest) as info:
        load_manifests("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n")
    assert '"Widget"' in str(info.value) and '"example.com/v1"' in str(info.value)


def test_missing_api_version_and_kind_are_named() -> None:
    with pytest.raises(BadRequest, match='missing "apiVersion" and "kind"'):
        load_manifests("metadata: {name: x}\n")


def test_a_document_must_be_an_object() -> None:
    with pytest.raises(BadRequest, match="must be an object, not array"):
        load_manifests("- a\n- b\n")


def test_every_bad_field_is_reported_at_once() -> None:
    text = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: many
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: web
        image: nginx
        ports: [{containerPort: http}]
        resources: {limits: {memory: 1.5.5}}
        command: echo
      nodeName: 7
"""
    with pytest.raises(Invalid) as info:
        load_manifests(text)
    assert {(e.path, e.message) for e in info.value.errors} == {
        ("spec.replicas", 'expected integer, got string "many"'),
        (
            "spec.template.spec.containers[0].ports[0].containerPort",
            'expected integer, got string "http"',
        ),
        (
            "spec.template.spec.containers[0].resources.limits[memory]",
            'invalid quantity "1.5.5": quantities must match the regular expression '
            "'^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
        ),
        ("spec.template.spec.containers[0].command", 'expected array, got string "echo"'),
        ("spec.template.spec.nodeName", "expected string, got number 7"),
    }


def test_int_or_string_errors_are_merged() -> None:
    with pytest.raises(Invalid) as info:
        load_manifests(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
            "spec: {ports: [{port: 80, targetPort: {a: 1}}]}\n"
        )
    assert [(e.path, e.message) for e in info.value.errors] == [
        ("spec.ports[0].targetPort", "expected integer or string, got object")
    ]


def test_unquoted_dates_stay_strings() -> None:
    # Kubernetes reads YAML through JSON, so a date-looking label value is a string.
    (config,) = load_manifests(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {released: 2024-01-31}\n"
    )
    assert config.metadata.labels == {"released": "2024-01-31"}


def test_timestamps_parse_into_datetimes() -> None:
    (lease,) = load_manifest_files([EXAMPLES / "lease.json"])
    renew = lease.spec.renew_time  # type: ignore[attr-defined]
    assert renew is not None and (renew.year, renew.tzinfo is not None) == (2024, True)


def test_dump_manifest_is_a_clean_kubernetes_manifest() -> None:
    (deployment,) = load_manifest_files([EXAMPLES / "nginx-deployment.yaml"])
    text = dump_manifest(deployment)
    assert text.startswith("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: nginx")
    assert "uid:" not in text and "resourceVersion" not in text and "status:" not in text
    assert "maxSurge: 25%" in text
    both = dump_manifests([deployment, deployment])
    assert load_manifests(both) == [deployment, deployment]


def test_custom_kinds_load_through_their_registry() -> None:
    registry = Registry()
    widget = register_unstructured("example.com/v1", "Widget", registry=registry)
    (obj,) = load_manifests(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n",
        registry=registry,
    )
    assert isinstance(obj, widget)
    assert obj.spec == {"size": 3}


def test_every_bad_document_of_a_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n"
        "apiVersion: batch/v1beta1\nkind: CronJob\nmetadata: {name: old}\n---\n"
        "- not a manifest\n---\n"
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: sa}\nsecretz: []\n"
    )
    with pytest.raises(ManifestErrors) as caught:
        load_manifest_files([path])
    messages = [error.message for error in caught.value.errors]
    assert len(messages) == 3
    assert f"{path} document 2" in messages[0] and "removed in Kubernetes 1.25" in messages[0]
    assert f"{path} document 3: a manifest must be an object" in messages[1]
    assert f"{path} document 4" in messages[2] and "secretz: unknown field" in messages[2]


def test_a_backslash_quote_in_a_double_quoted_string_loads_as_kubectl_reads_it() -> None:
    text = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata:\n  msg: "it\\\'s"\n'
    (config,) = load_manifests(text)
    assert config.data == {"msg": "it's"}  # type: ignore[attr-defined]
