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


TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"


def _token_volumes(p: core.Pod) -> list[core.Volume]:
    return [v for v in p.spec.volumes if v.name.startswith("kube-api-access-")]


def test_pods_mount_the_api_access_volume_of_their_service_account(store: Store) -> None:
    store.create(account("default"))
    created = store.create(
        pod(
            "web",
            initContainers=[{"name": "init", "image": "busybox"}],
            containers=[
                {"name": "c", "image": "nginx"},
                {
                    "name": "own",
                    "image": "nginx",
                    "volumeMounts": [{"name": "mine", "mountPath": TOKEN_PATH}],
                },
            ],
            volumes=[{"name": "mine", "emptyDir": {}}],
        )
    )
    [volume] = _token_volumes(created)
    suffix = volume.name.removeprefix("kube-api-access-")
    assert len(suffix) == 5 and set(suffix) <= set("bcdfghjklmnpqrstvwxz2456789")
    assert volume.to_dict() == {
        "name": volume.name,
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            }
                        ]
                    }
                },
            ],
        },
    }
    mount = core.VolumeMount(name=volume.name, mount_path=TOKEN_PATH, read_only=True)
    assert created.spec.init_containers[0].volume_mounts == [mount]
    assert created.spec.containers[0].volume_mounts == [mount]
    # A container with its own mount at the path keeps it.
    assert [m.name for m in created.spec.containers[1].volume_mounts] == ["mine"]
    # Another pod gets another name (from the store's seeded RNG).
    other = store.create(pod("api"))
    assert _token_volumes(other)[0].name != volume.name


def test_automount_false_on_the_pod_or_the_account_mounts_nothing(store: Store) -> None:
    store.create(account("default"))
    store.create(account("quiet", automountServiceAccountToken=False))
    assert _token_volumes(store.create(pod("a", automountServiceAccountToken=False))) == []
    assert _token_volumes(store.create(pod("b", serviceAccountName="quiet"))) == []
    # The pod's own setting wins over the account's.
    loud = store.create(pod("c", serviceAccountName="quiet", automountServiceAccountToken=True))
    assert len(_token_volumes(loud)) == 1


def test_an_existing_api_access_volume_is_reused_and_without_the_account_none_is_made(
    store: Store,
) -> None:
    assert _token_volumes(store.create(pod("early"))) == []  # no default ServiceAccount yet
    store.create(account("default"))
    given = store.create(
        pod(
            "given",
            volumes=[{"name": "kube-api-access-abcde", "emptyDir": {}}],
        )
    )
    assert [v.name for v in _token_volumes(given)] == ["kube-api-access-abcde"]
    assert given.spec.containers[0].volume_mounts[0].name == "kube-api-access-abcde"


def test_mirror_pods_get_no_api_access_volume(store: Store) -> None:
    store.create(account("default"))
    mirror = pod("static").model_copy(
        update={
            "metadata": ObjectMeta(name="static", annotations={"kubernetes.io/config.mirror": "x"})
        }
    )
    assert _token_volumes(store.create(mirror)) == []


def test_pods_of_one_template_share_their_mounted_spec(store: Store) -> None:
    store.create(account("default"))
    template = pod("a")
    first = store.create(template)
    second = store.create(template.model_copy(update={"metadata": ObjectMeta(name="b")}))
    assert first.spec is second.spec  # one volume name, drawn once
    assert len(_token_volumes(first)) == 1
