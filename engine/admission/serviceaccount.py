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

Decision (a deviation, written down in the README): the `default`
ServiceAccount is made by the serviceaccount controller when a namespace
appears, so for a moment after a namespace is created it does not exist. In
Kubernetes a pod created in that moment is refused (clients retry); here a
pod using `default` is admitted while its namespace has no `default`
ServiceAccount yet, so a manifest with a Namespace and a Pod applies in one
go, bare stores without the controller keep working, and simulations stay
free of that race. A pod naming any other missing ServiceAccount is refused.

Not done: the projected `kube-api-access-*` token volume (kubeloop has no
tokens to mount), and admission of pod updates (ephemeral containers).

Neighbours: `engine.admission` (the chain), `controllers.serviceaccount`
(makes the `default` ServiceAccounts).
"""

from __future__ import annotations

from typing import Any

from engine import strategies
from engine.admission import AdmissionRequest, builtin_model, served_model
from engine.api import core
from engine.api.base import Resource
from engine.errors import Forbidden
from engine.registry import Registry

__all__ = ["DEFAULT_SERVICE_ACCOUNT", "MIRROR_ANNOTATION", "admit", "service_account_model"]

DEFAULT_SERVICE_ACCOUNT = "default"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


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
        return pod.model_copy(
            update={"spec": pod.spec.model_copy(update={"image_pull_secrets": refs})}
        )
    return strategies.with_spec_update(pod, update)
