"""ServiceAccount admission: pods default to the `default` ServiceAccount, a
pod naming a missing one is refused with Kubernetes' message, and a pod
without image pull secrets takes its ServiceAccount's."""

from __future__ import annotations

import pytest

from engine.api import core
from engine.api.base import ObjectMeta, Resource
from engine.clock import VirtualClock
from engine.errors import Forbidden
from engine.registry import REGISTRY
from engine.store import Store


def pod(name: str, namespace: str = "default", **spec: object) -> core.Pod:
    return core.Pod.model_validate(
        {
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "nginx"}], **spec},
        }
    )


def account(name: str, namespace: str = "default", **fields: object) -> Resource:
    model = REGISTRY.lookup("v1", "ServiceAccount").model
    return model.model_validate({"metadata": {"name": name, "namespace": namespace}, **fields})


def test_pods_default_to_the_default_service_account(store: Store) -> None:
    created = store.create(pod("web"))
    assert created.spec.service_account_name == "default"
    assert created.spec.service_account == "default"


def test_pods_of_one_spec_keep_sharing_their_admitted_spec(store: Store) -> None:
    template = pod("a")
    first = store.create(template)
    second = store.create(template.model_copy(update={"metadata": ObjectMeta(name="b")}))
    assert first.spec is second.spec


def test_a_missing_service_account_is_refused(store: Store) -> None:
    with pytest.raises(Forbidden) as refused:
        store.create(pod("web", serviceAccountName="builder"))
    assert str(refused.value) == (
        'pods "web" is forbidden: error looking up service account default/builder: '
        'serviceaccount "builder" not found'
    )
    assert store.try_get(core.Pod, "web", "default") is None


def test_an_existing_service_account_is_kept(store: Store) -> None:
    store.create(account("builder"))
    created = store.create(pod("web", serviceAccountName="builder"))
    assert created.spec.service_account_name == "builder"


def test_the_deprecated_field_names_the_account(store: Store) -> None:
    store.create(account("builder"))
    created = store.create(pod("web", serviceAccount="builder"))
    assert created.spec.service_account_name == "builder"


def test_generated_names_appear_in_the_message(store: Store) -> None:
    generated = pod("", serviceAccountName="ghost").model_copy(
        update={"metadata": ObjectMeta(generate_name="web-")}
    )
    with pytest.raises(Forbidden, match=r'pods "web-\w{5}" is forbidden: error looking up'):
        store.create(generated)


def test_image_pull_secrets_come_from_the_service_account(store: Store) -> None:
    store.create(account("puller", imagePullSecrets=[{"name": "registry"}]))
    created = store.create(pod("web", serviceAccountName="puller"))
    assert [s.name for s in created.spec.image_pull_secrets] == ["registry"]
    own = store.create(pod("own", serviceAccountName="puller", imagePullSecrets=[{"name": "x"}]))
    assert [s.name for s in own.spec.image_pull_secrets] == ["x"]


def test_mirror_pods_may_not_name_a_service_account(store: Store) -> None:
    mirror = pod("static", serviceAccountName="default").model_copy(
        update={
            "metadata": ObjectMeta(
                name="static", annotations={"kubernetes.io/config.mirror": "hash"}
            )
        }
    )
    with pytest.raises(Forbidden, match="a mirror pod may not reference service accounts"):
        store.create(mirror)
    plain = mirror.model_copy(
        update={"spec": mirror.spec.model_copy(update={"service_account_name": None})}
    )
    assert store.create(plain).spec.service_account_name is None


def test_admission_can_be_turned_off() -> None:
    store = Store(clock=VirtualClock(), admission=False)
    created = store.create(pod("web", serviceAccountName="ghost"))
    assert created.spec.service_account_name == "ghost"
