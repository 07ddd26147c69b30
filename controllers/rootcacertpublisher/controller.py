"""The root CA certificate publisher: kube-controller-manager's
`root-ca-cert-publisher`, which keeps a `kube-root-ca.crt` ConfigMap in every
namespace, so the projected API access volume ServiceAccount admission gives
pods (`kube-api-access-*`, whose `ca.crt` comes from it) can be mounted.

Every namespace that is not terminating gets the ConfigMap with
`data: {ca.crt: <root CA>}` and the `kubernetes.io/description` annotation
Kubernetes writes; a copy that was changed is put back and a deleted one made
again. Level-triggered: a reconcile reads the namespace and the ConfigMap
from the caches.

Decision: the root CA is the PEM given to `setup` (`root_ca`); a kubeloop
cluster's in-process API has no TLS, so by default `ca.crt` is empty. What
matters to pods is that the ConfigMap exists: the kubelet (like Kubernetes')
waits for it before starting a pod that mounts the API access volume.

Neighbours: `engine.admission.serviceaccount` (mounts the volume),
`runtime.kubelet.volumes` (waits for the ConfigMap), `engine.controller`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from engine.admission.serviceaccount import ROOT_CA_CONFIGMAP
from engine.api import core
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import AlreadyExists, Forbidden, NotFound
from engine.informer import InformerFactory
from engine.logging import get_logger
from engine.manager import Manager

__all__ = ["RootCACertPublisher", "setup"]

log = get_logger("rootcacertpublisher")

DESCRIPTION_ANNOTATION: Final = "kubernetes.io/description"
DESCRIPTION: Final = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters."
)


def _namespace_of(config_map: core.ConfigMap) -> Iterable[Request]:
    if config_map.metadata.name == ROOT_CA_CONFIGMAP:
        yield Request(core.Namespace, "", config_map.metadata.namespace)


class RootCACertPublisher:
    """Keeps `kube-root-ca.crt` in every active namespace."""

    def __init__(
        self, client: Client, factory: InformerFactory, *, clock: Clock, root_ca: str = ""
    ) -> None:
        self.client = client
        self.root_ca = root_ca
        self.namespaces = factory.informer(core.Namespace)
        self.config_maps = factory.informer(core.ConfigMap)
        self.controller = Controller("root-ca-cert-publisher", self, clock=clock)
        self.controller.for_kind(self.namespaces)
        self.controller.watches(self.config_maps, _namespace_of)

    def register(self, manager: Manager) -> None:
        manager.add(self.controller)

    def _wanted(self, namespace: str) -> core.ConfigMap:
        return core.ConfigMap.model_validate(
            {
                "metadata": {
                    "name": ROOT_CA_CONFIGMAP,
                    "namespace": namespace,
                    "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
                },
                "data": {"ca.crt": self.root_ca},
            }
        )

    async def reconcile(self, request: Request) -> Result:
        namespace = self.namespaces.cache.get(request.name)
        if namespace is None or namespace.metadata.deletion_timestamp is not None:
            return Result()
        current = self.config_maps.cache.get(ROOT_CA_CONFIGMAP, request.name)
        try:
            if current is None:
                await self.client.create(self._wanted(request.name))
                log.info("root CA published", namespace=request.name)
                return Result()
            annotations = current.metadata.annotations
            if (
                current.data == {"ca.crt": self.root_ca}
                and annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION
            ):
                return Result()
            meta = current.metadata.model_copy(
                update={"annotations": {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}}
            )
            await self.client.update(
                current.model_copy(update={"metadata": meta, "data": {"ca.crt": self.root_ca}})
            )
        except AlreadyExists:
            pass  # the cache has not seen it yet: its event brings us back
        except (NotFound, Forbidden):
            pass  # the namespace is gone or terminating
        return Result()


def setup(manager: Manager, *, root_ca: str = "", **_: Any) -> RootCACertPublisher:
    """Build the root CA publisher on `manager` (publishing `root_ca`) and add it."""
    controller = RootCACertPublisher(
        manager.client, manager.factory, clock=manager.clock, root_ca=root_ca
    )
    controller.register(manager)
    return controller
