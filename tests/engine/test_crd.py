"""CustomResourceDefinitions: a CRD shaped like an operator's (the kubebuilder
CronJob tutorial's) serves its kind; custom objects validate, default and
prune with the version's schema; deleting the CRD removes them."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.crd import APIWarning, CustomResource
from engine.errors import BadRequest, Invalid, KindNotServed
from engine.informer import EventHandler, InformerFactory
from engine.manifests import load_manifests, parse_object
from engine.registry import REGISTRY
from engine.store import Store
from engine.watch import DELETED
from tests.helpers import run_virtual

CRD_FILE = Path(__file__).parent / "manifests" / "crd-cronjob.yaml"
API = "batch.tutorial.kubebuilder.io/v1"

CRONJOB = f"""
apiVersion: {API}
kind: CronJob
metadata: {{name: nightly, namespace: default}}
spec:
  schedule: "0 3 * * *"
  jobTemplate: {{spec: {{template: {{spec: {{restartPolicy: Never}}}}}}}}
  ports: [{{name: http, port: 8080}}, {{name: admin, port: admin}}]
"""


def _store_with_crd() -> tuple[Store, Any]:
    store = Store()
    (crd,) = load_manifests(CRD_FILE.read_text(), source=str(CRD_FILE))
    return store, store.create(crd)


def _conditions(crd: Any) -> dict[str, str]:
    return {c["type"]: c["status"] for c in crd.status["conditions"]}


def test_creating_a_crd_serves_its_kind_with_names_and_printer_columns() -> None:
    _, crd = _store_with_crd()
    assert _conditions(crd) == {"NamesAccepted": "True", "Established": "True"}
    assert crd.status["acceptedNames"]["shortNames"] == ["cj"]
    assert crd.status["storedVersions"] == ["v1"]
    info = REGISTRY.lookup(API, "CronJob")
    model = info.model
    assert issubclass(model, CustomResource)
    assert (info.plural, info.namespaced, info.has_status_subresource) == ("cronjobs", True, True)
    assert model.singular == "cronjob" and model.categories == ("all",)
    assert model.version_info is not None
    assert [c["name"] for c in model.version_info.printer_columns] == [
        "Schedule",
        "Last Schedule",
        "Replicas",
    ]
    assert model.version_info.scale == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".spec.selector",
    }


def test_custom_objects_are_defaulted_and_stored() -> None:
    store, _ = _store_with_crd()
    (obj,) = load_manifests(CRONJOB)
    spec: Any = store.create(obj).spec  # type: ignore[attr-defined]
    assert spec["concurrencyPolicy"] == "Allow"
    assert spec["replicas"] == 1 and spec["successfulJobsHistoryLimit"] == 3
    assert "failedJobsHistoryLimit" not in spec  # no default in the schema
    model = REGISTRY.lookup(API, "CronJob").model
    got: Any = store.get(model, "nightly", "default")
    assert got.spec["schedule"] == "0 3 * * *"


def test_a_bad_custom_object_is_rejected_with_every_field_path() -> None:
    _store_with_crd()
    bad = CRONJOB.replace('"0 3 * * *"', '""') + (
        "  concurrencyPolicy: Sometimes\n  replicas: 101\n  typo: 1\n  tags: [a, a]\n"
        "  startingDeadlineSeconds: -1\n"
    )
    with pytest.raises(Invalid) as caught:
        load_manifests(bad.replace("name: admin,", "name: Admin,"))
    message = str(caught.value)
    for expected in (
        "spec.typo: unknown field",
        "spec.schedule: should be at least 1 chars long",
        'spec.concurrencyPolicy: Unsupported value: "Sometimes"',
        "spec.replicas: should be less than or equal to 100",
        'spec.tags[1]: Duplicate value: "a"',
        "spec.startingDeadlineSeconds: should be greater than or equal to 0",
        "spec.ports[1].name: should match",
    ):
        assert expected in message


def test_required_types_list_maps_int_or_string_and_embedded_resources() -> None:
    _store_with_crd()
    doc = load_manifests(CRONJOB)[0].to_dict()
    doc["spec"]["ports"].append({"name": "http", "port": 1.5})
    doc["spec"]["owner"] = {"metadata": {"name": "x"}}
    del doc["spec"]["jobTemplate"]
    with pytest.raises(Invalid) as caught:
        parse_object(doc)
    message = str(caught.value)
    assert "spec.jobTemplate: field required" in message
    assert 'spec.ports[2]: Duplicate value: {name="http"}' in message
    assert "spec.ports[2].port: expected integer or string" in message
    assert "spec.owner.apiVersion: must not be empty" in message


def test_without_strict_field_validation_unknown_fields_are_pruned() -> None:
    _store_with_crd()
    doc = load_manifests(CRONJOB)[0].to_dict()
    doc["spec"]["typo"] = 1
    doc["spec"]["jobTemplate"]["kept"] = True  # preserve-unknown-fields subtree
    doc["extra"] = {"a": 1}
    obj: Any = parse_object(doc, strict=False)
    assert "typo" not in obj.spec and obj.spec["jobTemplate"]["kept"] is True
    assert "extra" not in obj.to_dict()


def test_a_deprecated_version_warns_and_is_stored_in_the_storage_version() -> None:
    _store_with_crd()
    text = CRONJOB.replace(API, "batch.tutorial.kubebuilder.io/v1beta1")
    with pytest.warns(APIWarning, match="v1beta1 CronJob is deprecated; use v1"):
        (obj,) = load_manifests(text)
    assert obj.api_version == API
    assert type(obj) is REGISTRY.lookup(API, "CronJob").model


def test_names_taken_by_another_kind_leave_names_not_accepted() -> None:
    store, _ = _store_with_crd()
    text = CRD_FILE.read_text().replace(
        "name: cronjobs.batch.tutorial.kubebuilder.io", "name: crons.batch.tutorial.kubebuilder.io"
    )
    text = text.replace("plural: cronjobs", "plural: crons").replace(
        "singular: cronjob", "singular: cron"
    )
    (other,) = load_manifests(text)
    stored: Any = store.create(other)
    assert _conditions(stored) == {"NamesAccepted": "False", "Established": "False"}
    assert "already in use" in stored.status["conditions"][0]["message"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"x-kubernetes-validations": [{"rule": "isSorted(self.tags)"}]}, "not supported"),
        ({"x-kubernetes-validations": [{"rule": "self.replicas >="}]}, "compilation failed"),
        ({"properties": {"spec": {"properties": {"a": {}}}}}, "type: must not be empty"),
    ],
)
def test_unservable_definitions_are_rejected(change: dict[str, Any], expected: str) -> None:
    store = Store()
    (crd,) = load_manifests(CRD_FILE.read_text())
    spec = dict(crd.spec)  # type: ignore[attr-defined]
    version = dict(spec["versions"][0])
    version["schema"] = {"openAPIV3Schema": {"type": "object", **change}}
    spec["versions"] = [version]
    with pytest.raises(Invalid, match=expected):
        store.create(crd.model_copy(update={"spec": spec}))


async def test_deleting_the_crd_removes_its_objects_and_ends_watches() -> None:
    store, crd = _store_with_crd()
    model = REGISTRY.lookup(API, "CronJob").model
    store.create(load_manifests(CRONJOB)[0])
    watcher = store.watch(model)
    store.delete(type(crd), crd.metadata.name)
    events = [event async for event in watcher]
    assert [(e.type, e.object and e.object.metadata.name) for e in events] == [(DELETED, "nightly")]
    with pytest.raises(BadRequest, match="CustomResourceDefinition of CronJob first"):
        load_manifests(CRONJOB)
    with pytest.raises(KindNotServed):
        store.list(model)


def test_an_informer_on_a_custom_kind_ends_when_its_crd_is_deleted() -> None:
    async def body(clock: VirtualClock) -> tuple[list[str], list[str]]:
        store = Store(clock=clock)
        (crd,) = load_manifests(CRD_FILE.read_text())
        crd = store.create(crd)
        model = REGISTRY.lookup(API, "CronJob").model
        store.create(load_manifests(CRONJOB)[0])
        informer = InformerFactory(LocalClient(store), clock=clock, resync_period=30).informer(
            model
        )
        added: list[str] = []
        deleted: list[str] = []
        informer.add_event_handler(
            EventHandler(
                add=lambda o: added.append(o.metadata.name),
                delete=lambda o: deleted.append(o.key[1]),
            )
        )
        task = asyncio.create_task(informer.run())
        await informer.wait_for_sync()
        store.delete(type(crd), crd.metadata.name)
        await asyncio.wait_for(task, timeout=60)  # virtual seconds: run() returns by itself
        return added, deleted

    assert run_virtual(body) == (["nightly"], ["nightly"])


def test_cel_rules_hold_with_their_messages_and_transition_rules_see_old_self() -> None:
    store, _ = _store_with_crd()
    doc = load_manifests(CRONJOB)[0].to_dict()
    doc["spec"].update(failedJobsHistoryLimit=5, startingDeadlineSeconds=7200)
    with pytest.raises(Invalid) as caught:
        parse_object(doc)
    message = str(caught.value)
    assert "spec: failedJobsHistoryLimit may not exceed successfulJobsHistoryLimit" in message
    assert "spec.startingDeadlineSeconds: startingDeadlineSeconds 7200 is over an hour" in message
    model = REGISTRY.lookup(API, "CronJob").model
    store.create(load_manifests(CRONJOB)[0])  # no oldSelf on create: the rule does not apply
    with pytest.raises(Invalid, match=r"spec\.schedule: schedule is immutable"):
        store.patch(model, "nightly", "default", {"spec": {"schedule": "0 4 * * *"}})
    patched: Any = store.patch(model, "nightly", "default", {"spec": {"suspend": True}})
    assert patched.spec["suspend"] is True


def test_the_scale_subresource_reads_and_writes_the_crd_paths() -> None:
    store, _ = _store_with_crd()
    model = REGISTRY.lookup(API, "CronJob").model
    store.create(load_manifests(CRONJOB.replace("spec:\n", "spec:\n  selector: app=x\n", 1))[0])
    scale = store.get_scale(model, "nightly", "default")
    assert (scale.replicas, scale.status_replicas, scale.selector) == (1, 0, "app=x")
    scaled: Any = store.scale(model, "nightly", "default", replicas=4)
    assert scaled.spec["replicas"] == 4 and scaled.metadata.generation == 2
    with pytest.raises(Invalid, match="less than or equal to 100"):
        store.scale(model, "nightly", "default", replicas=101)


def test_empty_objects_inside_a_custom_object_are_kept() -> None:
    store, _ = _store_with_crd()
    text = CRONJOB.replace(
        "jobTemplate: {spec: {template: {spec: {restartPolicy: Never}}}}", "jobTemplate: {}"
    )
    (obj,) = load_manifests(text)
    stored: Any = store.create(obj)
    assert stored.to_dict()["spec"]["jobTemplate"] == {}
    model = REGISTRY.lookup(API, "CronJob").model
    patched: Any = store.patch(model, "nightly", "default", {"metadata": {"labels": {"a": "b"}}})
    assert patched.spec["jobTemplate"] == {}


def test_a_schema_without_apiversion_kind_and_metadata_still_takes_them() -> None:
    """Kubernetes always allows a custom object's envelope at the schema's root,
    whether or not the schema lists apiVersion, kind and metadata."""
    store = Store()
    (crd,) = load_manifests(
        """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: gadgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: gadgets, kind: Gadget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
"""
    )
    store.create(crd)
    (obj,) = load_manifests(
        "{apiVersion: example.com/v1, kind: Gadget, metadata: {name: g}, spec: {size: 1}}"
    )
    assert store.create(obj).metadata.name == "g"
