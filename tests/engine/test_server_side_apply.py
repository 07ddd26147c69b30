"""Server-side apply: field managers own what they apply, conflicts with
Kubernetes' message, force, shared ownership, list-maps owned per key, and
updates recorded as Update managers."""

from __future__ import annotations

import random
from typing import Any

import pytest

from engine.api.apps import Deployment
from engine.clock import VirtualClock
from engine.managedfields import decode
from engine.ownership import ApplyConflict
from engine.store import Store


def store() -> Store:
    return Store(clock=VirtualClock(), rng=random.Random(1))


def deployment(
    *,
    replicas: int | None = 2,
    containers: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": containers or [{"name": "c", "image": "nginx"}]},
        },
    }
    if replicas is not None:
        spec["replicas"] = replicas
    meta: dict[str, Any] = {"name": "web", "namespace": "default"}
    if labels:
        meta["labels"] = labels
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def apply(s: Store, config: dict[str, Any], manager: str, *, force: bool = False) -> Deployment:
    obj = s.apply(config, manager, force=force)
    assert isinstance(obj, Deployment)
    return obj


def owned(obj: Any, manager: str) -> set[tuple[str, ...]]:
    return {
        path
        for entry in obj.metadata.managed_fields
        if entry.manager == manager
        for path in decode(entry.fields_v1)
    }


CONTAINERS = ("f:spec", "f:template", "f:spec", "f:containers")


def test_apply_creates_the_object_with_the_appliers_managed_fields() -> None:
    s = store()
    obj = apply(s, deployment(), "alice")
    assert isinstance(obj, Deployment)
    [entry] = obj.metadata.managed_fields
    assert (entry.manager, entry.operation, entry.api_version) == ("alice", "Apply", "apps/v1")
    assert entry.fields_type == "FieldsV1" and entry.time is not None
    assert entry.fields_v1 is not None
    assert entry.fields_v1["f:spec"]["f:replicas"] == {}
    element = entry.fields_v1["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"c"}']
    assert element == {".": {}, "f:name": {}, "f:image": {}}
    # Defaults the server filled in are nobody's.
    assert ("f:spec", "f:strategy", "f:type") not in owned(obj, "alice")


def test_re_applying_without_a_field_removes_it() -> None:
    s = store()
    s.apply(deployment(labels={"a": "1", "b": "2"}), "alice")
    obj = apply(s, deployment(labels={"a": "1"}, replicas=None), "alice")
    assert obj.metadata.labels == {"a": "1"}
    assert obj.spec.replicas == 1  # removed, then defaulted by the server
    assert ("f:spec", "f:replicas") not in owned(obj, "alice")


def test_two_managers_conflict_with_kubernetes_message_and_force_takes_over() -> None:
    s = store()
    s.apply(deployment(replicas=2), "alice")
    with pytest.raises(ApplyConflict) as caught:
        s.apply(deployment(replicas=3), "bob")
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "alice" using apps/v1: .spec.replicas'
    )
    assert caught.value.code == 409
    assert caught.value.conflicts == [("alice", ".spec.replicas")]
    assert s.get(Deployment, "web", "default").spec.replicas == 2  # nothing written
    obj = apply(s, deployment(replicas=3), "bob", force=True)
    assert obj.spec.replicas == 3
    assert ("f:spec", "f:replicas") in owned(obj, "bob")
    assert ("f:spec", "f:replicas") not in owned(obj, "alice")
    # alice no longer owns replicas: dropping it from her manifest keeps bob's value.
    obj = apply(s, deployment(replicas=None), "alice")
    assert obj.spec.replicas == 3


def test_applying_the_same_value_shares_the_field() -> None:
    s = store()
    s.apply(deployment(replicas=2), "alice")
    obj = apply(s, deployment(replicas=2), "bob")
    assert ("f:spec", "f:replicas") in owned(obj, "alice") & owned(obj, "bob")
    # One sharer letting go leaves the field to the other.
    obj = apply(s, deployment(replicas=None), "alice")
    assert obj.spec.replicas == 2


def test_list_map_entries_are_owned_per_key() -> None:
    s = store()
    web = {"name": "web", "image": "nginx"}
    side = {"name": "side", "image": "envoy"}
    s.apply(deployment(containers=[web]), "alice")
    bob = deployment(containers=[side])
    del bob["spec"]["replicas"]
    obj = apply(s, bob, "bob")
    assert [c.name for c in obj.spec.template.spec.containers] == ["web", "side"]
    assert (*CONTAINERS, 'k:{"name":"side"}', ".") in owned(obj, "bob")
    assert (*CONTAINERS, 'k:{"name":"web"}', ".") in owned(obj, "alice")
    # Bob changing alice's container's image conflicts, naming the element.
    with pytest.raises(ApplyConflict, match=r'containers\[name="web"\]\.image'):
        s.apply(deployment(containers=[side, {"name": "web", "image": "x"}]), "bob")
    # Bob dropping his container removes it; alice's stays.
    obj = apply(s, {**bob, "spec": {**bob["spec"], "template": {"spec": {}}}}, "bob")
    assert [c.name for c in obj.spec.template.spec.containers] == ["web"]


def test_an_update_manager_owns_what_it_changed_and_conflicts_with_an_applier() -> None:
    s = store()
    applied = apply(s, deployment(replicas=2), "alice")
    edited = applied.model_copy(update={"spec": applied.spec.model_copy(update={"replicas": 5})})
    obj = s.update(edited, field_manager="kubectl-edit")
    [edit] = [e for e in obj.metadata.managed_fields if e.manager == "kubectl-edit"]
    assert edit.operation == "Update"
    assert owned(obj, "kubectl-edit") == {("f:spec", "f:replicas")}
    assert ("f:spec", "f:replicas") not in owned(obj, "alice")
    with pytest.raises(ApplyConflict, match='conflict with "kubectl-edit" using apps/v1'):
        s.apply(deployment(replicas=2), "alice")


def test_an_object_never_applied_belongs_to_before_first_apply() -> None:
    s = store()
    s.create(Deployment.model_validate(deployment(replicas=4)))
    with pytest.raises(ApplyConflict, match='"before-first-apply"'):
        s.apply(deployment(replicas=2), "alice")
    obj = apply(s, deployment(replicas=4), "alice")  # the same value: shared
    assert ("f:spec", "f:replicas") in owned(obj, "alice") & owned(obj, "before-first-apply")


def test_updates_of_objects_never_applied_record_nothing() -> None:
    s = store()
    obj = s.create(Deployment.model_validate(deployment()))
    changed = obj.model_copy(update={"spec": obj.spec.model_copy(update={"replicas": 7})})
    assert s.update(changed).metadata.managed_fields == []


def test_a_crd_schemas_list_map_keys_decide_ownership_per_element() -> None:
    from tests.engine.test_crd import API, _store_with_crd

    s, _ = _store_with_crd()
    meta = {"name": "nightly", "namespace": "default"}
    alice = {
        "apiVersion": API,
        "kind": "CronJob",
        "metadata": meta,
        "spec": {
            "schedule": "0 3 * * *",
            "jobTemplate": {"spec": {"template": {"spec": {"restartPolicy": "Never"}}}},
            "ports": [{"name": "http", "port": 8080}],
        },
    }
    s.apply(alice, "alice")
    bob = {"apiVersion": API, "kind": "CronJob", "metadata": meta}
    obj: Any = s.apply({**bob, "spec": {"ports": [{"name": "admin", "port": 9090}]}}, "bob")
    assert [p["name"] for p in obj.spec["ports"]] == ["http", "admin"]
    assert ("f:spec", "f:ports", 'k:{"name":"admin"}', ".") in owned(obj, "bob")
    assert ("f:spec", "f:ports", 'k:{"name":"http"}', "f:port") in owned(obj, "alice")
    with pytest.raises(ApplyConflict, match=r'\.spec\.ports\[name="http"\]\.port'):
        s.apply({**bob, "spec": {"ports": [{"name": "http", "port": 1}]}}, "bob")
