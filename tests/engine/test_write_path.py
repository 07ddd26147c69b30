"""The fast write path: updates check only what they change, and trusted
writers (binding, the kubelet's status) share every unchanged part."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from engine.api.apps import Deployment
from engine.api.core import HostIP, Pod, PodCondition
from engine.clock import VirtualClock
from engine.errors import Invalid
from engine.sharing import compact, shared, shared_list
from engine.store import Store

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web", "labels": {"app": "web"}},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}


@pytest.fixture
def store() -> Store:
    return Store(clock=VirtualClock(), rng=random.Random(1))


def stored_pod(store: Store, name: str = "a") -> Pod:
    return store.create(
        Pod.model_validate(
            {
                "metadata": {"name": name, "labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }
        )
    )


def relabeled(pod: Pod, labels: dict[str, str], annotations: dict[str, str] | None = None) -> Pod:
    meta = pod.metadata.model_copy(
        update={"labels": labels, "annotations": annotations or pod.metadata.annotations}
    )
    return pod.model_copy(update={"metadata": meta})


@pytest.mark.parametrize(
    ("labels", "annotations", "path"),
    [
        ({"app": "web", "bad key!": "x"}, None, "metadata.labels"),
        ({"app": "not a valid value"}, None, "metadata.labels"),
        ({"app": "web"}, {"bad key!": "x"}, "metadata.annotations"),
        ({"app": "web"}, {"big": "x" * (256 * 1024)}, "metadata.annotations"),
    ],
)
def test_an_update_checks_the_labels_and_annotations_it_changes(
    store: Store, labels: dict[str, str], annotations: dict[str, str] | None, path: str
) -> None:
    pod = stored_pod(store)
    revision = store.revision
    with pytest.raises(Invalid, match=path.replace(".", r"\.")):
        store.update(relabeled(pod, labels, annotations))
    assert store.revision == revision
    assert store.get(Pod, "a") is pod


def test_an_update_keeping_the_labels_still_checks_a_new_spec(store: Store) -> None:
    deployment = store.create(Deployment.model_validate(DEPLOYMENT))
    bad = deployment.model_copy(
        update={"spec": deployment.spec.model_copy(update={"min_ready_seconds": -1})}
    )
    with pytest.raises(Invalid, match=r"spec\.minReadySeconds"):
        store.update(bad)
    assert store.get(Deployment, "web") is deployment


def test_an_update_with_valid_new_labels_is_stored(store: Store) -> None:
    pod = stored_pod(store)
    updated = store.update(relabeled(pod, {"app": "web", "tier": "front"}, {"note": "x"}))
    assert updated.metadata.labels == {"app": "web", "tier": "front"}
    assert updated.spec is pod.spec  # nothing but the metadata is new


def test_binding_shares_the_spec_parts_and_the_condition(store: Store) -> None:
    first, second = stored_pod(store, "a"), stored_pod(store, "b")
    bound_first = store.bind("a", "default", "node-1")
    bound_second = store.bind("b", "default", "node-2")
    assert isinstance(bound_first, Pod) and isinstance(bound_second, Pod)
    assert bound_first.spec.node_name == "node-1"
    assert bound_first.spec.containers is first.spec.containers
    assert bound_first.spec.tolerations is first.spec.tolerations
    # bound at the same instant: one PodScheduled condition for both
    assert bound_first.status.conditions[0] is bound_second.status.conditions[0]
    assert second.spec.node_name is None


def test_shared_values_are_one_instance_per_value() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    ready = shared(PodCondition, type="Ready", status="True", last_transition_time=at)
    assert ready is shared(PodCondition, type="Ready", status="True", last_transition_time=at)
    assert ready is not shared(PodCondition, type="Ready", status="False", last_transition_time=at)
    assert shared_list([ready]) is shared_list([ready])
    assert shared_list([]) is shared_list([])
    # validated the first time, as a constructor would
    with pytest.raises(ValidationError):
        shared(HostIP, ip=None)
    assert (
        compact(HostIP(ip="10.0.0.1")).model_fields_set
        is compact(HostIP(ip="10.0.0.2")).model_fields_set
    )


def test_shared_refuses_values_it_cannot_key() -> None:
    with pytest.raises(TypeError, match="no shared value"):
        shared(PodCondition, type="Ready", status="True", last_probe_time={"not": "shared"})
