"""The ServiceAccount admission plugin: a pod runs as a ServiceAccount of its
namespace.

* A pod that names none gets `spec.serviceAccountName` (and the deprecated
  `spec.serviceAccount`) `default`.
* A pod naming a ServiceAccount that does not exist is refused with
  Kubernetes' message: `pods "x" is forbidden: error looking up service
  account ns/sa: serviceaccount "sa" not found`.
* A pod without `imagePullSecrets` gets its ServiceAccount's.
* Mirror pods (annotation `kubernetes.io/config.mirror`) are left alone, and
  may not name a ServiceAccount, as in Kubernetes.
* The API access volume: unless `automountServiceAccountToken` is false on
  the pod (or, when the pod leaves it unset, on the ServiceAccount), every
  init and app container without a mount at
  `/var/run/secrets/kubernetes.io/serviceaccount` gets a read-only one of the
  projected volume `kube-api-access-<5 random characters>` (from the store's
  seeded RNG, as generateName), which holds a bound ServiceAccount `token`
  (expirationSeconds 3607), `ca.crt` from the `kube-root-ca.crt` ConfigMap
  (the root-ca-cert-publisher controller makes it in every namespace) and
  the `namespace` (downward API), with defaultMode 0644: Kubernetes'
  TokenVolumeSource. A pod that already has a `kube-api-access-` volume
  keeps it. The token is mounted only when the ServiceAccount exists: a pod
  admitted in the moment before its namespace's `default` ServiceAccount is
  made (see the decision below), and pods of a bare store without the
  serviceaccount controller, get none.

Decision (a deviation, in the README): Kubernetes draws the volume's suffix
for every pod. Here pods that share one spec object (the pods a controller
makes from one template, which share their spec to keep memory and
validation per pod down, `engine.strategies.with_spec_update`) share one
mounted spec, so one volume name: drawn from the store's RNG the first time
(`Store.admission_memo`), which keeps pod creation as cheap as before. Pods
made separately get names of their own. The name is local to the pod, so
nothing else differs.

Decision (a deviation, written down in the README): the `default`
ServiceAccount is made by the serviceaccount controller when a namespace
appears, so for a moment after a namespace is created it does not exist. In
Kubernetes a pod created in that moment is refused (clients retry); here a
pod using `default` is admitted while its namespace has no `default`
ServiceAccount yet, so a manifest with a Namespace and a Pod applies in one
go, bare stores without the controller keep working, and simulations stay
free of that race. A pod naming any other missing ServiceAccount is refused.

Not done: admission of pod updates (ephemeral containers).

Neighbours: `engine.admission` (the chain), `controllers.serviceaccount`
(makes the `default` ServiceAccounts).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Final

from engine import strategies
from engine.admission import AdmissionRequest, builtin_model, served_model
from engine.api import core
from engine.api.base import Resource
from engine.errors import Forbidden
from engine.registry import Registry

if TYPE_CHECKING:
    from engine.store import Store

__all__ = [
    "DEFAULT_SERVICE_ACCOUNT",
    "MIRROR_ANNOTATION",
    "ROOT_CA_CONFIGMAP",
    "TOKEN_MOUNT_PATH",
    "TOKEN_VOLUME_PREFIX",
    "admit",
    "service_account_model",
    "token_volume_source",
]

DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"
TOKEN_VOLUME_PREFIX: Final = "kube-api-access-"
TOKEN_MOUNT_PATH: Final = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP: Final = "kube-root-ca.crt"
TOKEN_EXPIRATION_SECONDS: Final = 3607
"""serviceaccount.WarnOnlyBoundTokenExpirationSeconds: an hour and 7 s, the
kubelet refreshing the token well before."""


def service_account_model(registry: Registry) -> type[Resource]:
    """The ServiceAccount kind (schema-backed: it has no hand-written model)."""
    return builtin_model(registry, "v1", "ServiceAccount")


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    if not isinstance(obj, core.Pod):
        return obj
    pod = obj
    spec = pod.spec
    if MIRROR_ANNOTATION in pod.metadata.annotations:
        if spec.service_account_name:
            raise Forbidden(
                request.forbidden_prefix() + "a mirror pod may not reference service accounts"
            )
        return pod
    name = spec.service_account_name or spec.service_account or DEFAULT_SERVICE_ACCOUNT
    store = request.store
    model = served_model(store.registry, "v1", "ServiceAccount")
    if model is None:
        return pod
    account = store.peek(model, name, request.namespace)
    if account is None and name != DEFAULT_SERVICE_ACCOUNT:
        raise Forbidden(
            request.forbidden_prefix()
            + f"error looking up service account {request.namespace}/{name}: "
            f'serviceaccount "{name}" not found'
        )
    update: dict[str, Any] = {}
    if spec.service_account_name != name:
        update["service_account_name"] = name
    if spec.service_account != name:
        update["service_account"] = name
    pull_secrets = getattr(account, "image_pull_secrets", None) if account is not None else None
    if pull_secrets and not spec.image_pull_secrets:
        # Rare (a list is not a key of the shared-spec cache): copy directly.
        refs = [core.LocalObjectReference(name=s.get("name", "")) for s in pull_secrets]
        pod = strategies.with_spec_update(pod, update)
        pod = pod.model_copy(
            update={"spec": pod.spec.model_copy(update={"image_pull_secrets": refs})}
        )
    else:
        pod = strategies.with_spec_update(pod, update)
    if account is not None and _should_automount(account, pod):
        pod = _mounted(store, pod)
    return pod


_MEMO_MAX: Final = 8192


def _mounted(store: Store, pod: core.Pod) -> core.Pod:
    """`pod` with the API access volume; pods sharing one spec object (made
    from one template) share the mounted spec too, named once: see the module
    docstring's decision."""
    spec = pod.spec
    memo = store.admission_memo
    key = ("kube-api-access", id(spec))
    known = memo.get(key)
    if known is None or known[0] is not spec:
        if len(memo) >= _MEMO_MAX:
            memo.clear()
        known = (spec, _mount_token(spec, store.random_name_suffix))
        memo[key] = known
    mounted: core.PodSpec = known[1]
    return pod if mounted is spec else pod.model_copy(update={"spec": mounted})


def _should_automount(account: Any, pod: core.Pod) -> bool:
    """Kubernetes' shouldAutomount: the pod's setting, else the ServiceAccount's, else yes."""
    if pod.spec.automount_service_account_token is not None:
        return pod.spec.automount_service_account_token
    from_account = getattr(account, "automount_service_account_token", None)
    return from_account is not False


@cache
def token_volume_source() -> core.ProjectedVolumeSource:
    """Kubernetes' TokenVolumeSource (shared: models are never mutated)."""
    return core.ProjectedVolumeSource.model_validate(
        {
            "defaultMode": 0o644,
            "sources": [
                {
                    "serviceAccountToken": {
                        "path": "token",
                        "expirationSeconds": TOKEN_EXPIRATION_SECONDS,
                    }
                },
                {
                    "configMap": {
                        "name": ROOT_CA_CONFIGMAP,
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
        }
    )


def _with_mount(
    containers: list[core.Container], mount: core.VolumeMount
) -> tuple[list[core.Container], bool]:
    """The containers, each with `mount` unless it mounts something at the
    token path already; and whether any got it."""
    out: list[core.Container] = []
    added = False
    for container in containers:
        if any(m.mount_path == TOKEN_MOUNT_PATH for m in container.volume_mounts):
            out.append(container)
            continue
        mounts = [*container.volume_mounts, mount]
        out.append(container.model_copy(update={"volume_mounts": mounts}))
        added = True
    return out, added


def _mount_token(spec: core.PodSpec, suffix: Callable[[], str]) -> core.PodSpec:
    """Kubernetes' mountServiceAccountToken (`spec` itself when nothing changes)."""
    existing = next((v.name for v in spec.volumes if v.name.startswith(TOKEN_VOLUME_PREFIX)), None)
    name = existing or TOKEN_VOLUME_PREFIX + suffix()
    mount = core.VolumeMount(name=name, mount_path=TOKEN_MOUNT_PATH, read_only=True)
    init, init_added = _with_mount(spec.init_containers, mount)
    containers, added = _with_mount(spec.containers, mount)
    if not (init_added or added):
        return spec
    update: dict[str, Any] = {"containers": containers}
    if init_added:
        update["init_containers"] = init
    if existing is None:
        volume = core.Volume(name=name, projected=token_volume_source())
        update["volumes"] = [*spec.volumes, volume]
    return spec.model_copy(update=update)
