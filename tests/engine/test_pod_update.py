"""A pod's spec is fixed once created, as Kubernetes' ValidatePodUpdate keeps
it: images, a shorter activeDeadlineSeconds, added tolerations and removed
scheduling gates may change; anything else is refused with Kubernetes'
message (found applying two docs examples that share a pod name)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from engine.api.core import Pod
from engine.clock import VirtualClock
from engine.errors import Invalid
from engine.store import Store

FORBIDDEN = (
    'Pod "app" is invalid: spec: Forbidden: pod updates may not change fields other than '
    "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
    "`spec.tolerations` (only additions to existing tolerations),"
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"
)


def make(store: Store, **spec: Any) -> Pod:
    return store.create(
        Pod.model_validate(
            {
                "metadata": {"name": "app"},
                "spec": {"containers": [{"name": "app", "image": "nginx:1"}], **spec},
            }
        )
    )


def changed(pod: Pod, **spec: Any) -> Pod:
    return pod.model_copy(update={"spec": pod.spec.model_copy(update=spec)})


@pytest.fixture
def store() -> Store:
    return Store(clock=VirtualClock(), rng=random.Random(1))


def test_images_deadlines_tolerations_and_gates_may_change(store: Store) -> None:
    pod = make(
        store,
        activeDeadlineSeconds=100,
        tolerations=[{"key": "a", "operator": "Exists"}],
        schedulingGates=[{"name": "wait"}],
    )
    container = pod.spec.containers[0].model_copy(update={"image": "nginx:2"})
    pod = store.update(changed(pod, containers=[container]))
    assert pod.spec.containers[0].image == "nginx:2"
    pod = store.update(changed(pod, active_deadline_seconds=50))
    more = [*pod.spec.tolerations, pod.spec.tolerations[0].model_copy(update={"key": "b"})]
    pod = store.update(changed(pod, tolerations=more))
    pod = store.update(changed(pod, node_selector={"disk": "ssd"}))  # still gated
    pod = store.update(changed(pod, scheduling_gates=[]))
    assert pod.spec.active_deadline_seconds == 50 and pod.spec.scheduling_gates == []
    assert {"a", "b"} <= {t.key for t in pod.spec.tolerations}


def test_other_spec_changes_are_refused_with_kubernetes_message(store: Store) -> None:
    pod = make(store)
    with pytest.raises(Invalid) as refused:
        store.update(changed(pod, hostname="other"))
    assert str(refused.value) == FORBIDDEN
    resources = pod.spec.containers[0].model_copy(
        update={"resources": pod.spec.containers[0].resources.model_copy(update={"limits": {}})}
    )
    extra = resources.model_copy(update={"name": "sidecar"})
    with pytest.raises(Invalid):
        store.update(changed(pod, containers=[resources, extra]))
    with pytest.raises(Invalid):  # a toleration taken away
        store.update(changed(pod, tolerations=pod.spec.tolerations[1:]))
    with pytest.raises(Invalid):  # a node selector added to a pod that is not gated
        store.update(changed(pod, node_selector={"disk": "ssd"}))


def test_a_deadline_only_shrinks_and_is_never_unset(store: Store) -> None:
    pod = make(store, activeDeadlineSeconds=100)
    with pytest.raises(Invalid, match="must be less than or equal to previous value"):
        store.update(changed(pod, active_deadline_seconds=200))
    with pytest.raises(Invalid, match="must not update from a positive integer to nil value"):
        store.update(changed(pod, active_deadline_seconds=None))
