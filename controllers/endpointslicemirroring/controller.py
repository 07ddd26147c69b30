"""The EndpointSlice mirroring controller (kube-controller-manager's
endpointslicemirroring): for a Service without a selector whose Endpoints a
user wrote, EndpointSlices that mirror those Endpoints, so that everything
reading slices (kube-proxy, DNS, the traffic router) sees them.

- Mirrored: Endpoints named as an existing Service that has no selector, not
  labelled `endpointslice.kubernetes.io/skip-mirror: "true"` (the Endpoints
  controller's own carry it).
- Each subset becomes slices of at most 100 endpoints with the subset's
  ports; `addresses` are ready, `notReadyAddresses` not; hostname, nodeName
  and targetRef are carried over. At most 1,000 addresses per Endpoints are
  mirrored, as Kubernetes limits it.
- Slices are labelled `kubernetes.io/service-name` and
  `endpointslice.kubernetes.io/managed-by: endpointslicemirroring-controller.k8s.io`
  (the Endpoints' labels are copied too) and owned by the Endpoints, so they
  go with it. Slices no longer wanted (the Service got a selector, the
  Endpoints or Service went) are deleted. Existing slices are reused in order,
  so an unchanged Endpoints writes nothing.

Neighbours: the Endpoints controller (`LABEL_SKIP_MIRROR`),
`controllers.endpointslice` (the slices of Services with selectors).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Final

from controllers.common.endpoints import (
    LABEL_MANAGED_BY,
    LABEL_SERVICE_NAME,
    service_slices,
    slice_service,
)
from controllers.common.ownership import new_controller_ref
from engine.api import Service
from engine.api.base import ObjectMeta
from engine.api.core import EndpointAddress, Endpoints
from engine.api.discovery import Endpoint, EndpointConditions, EndpointSlice, EndpointSlicePort
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import NotFound
from engine.informer import InformerFactory
from engine.manager import Manager

__all__ = ["CONTROLLER_NAME", "EndpointSliceMirroringController", "mirrored", "setup"]

CONTROLLER_NAME: Final = "endpointslicemirroring-controller.k8s.io"
LABEL_SKIP_MIRROR: Final = "endpointslice.kubernetes.io/skip-mirror"
MAX_MIRRORED_ADDRESSES: Final = 1000
MAX_ENDPOINTS_PER_SLICE: Final = 100


def _endpoint(address: EndpointAddress, ready: bool) -> Endpoint:
    return Endpoint.model_construct(
        addresses=[address.ip],
        conditions=EndpointConditions.model_construct(ready=ready, serving=None, terminating=None),
        hostname=address.hostname,
        target_ref=address.target_ref,
        deprecated_topology={},
        node_name=address.node_name,
        zone=None,
        hints=None,
    )


def mirrored(endpoints: Endpoints) -> list[tuple[list[EndpointSlicePort], list[Endpoint]]]:
    """The (ports, endpoints) of each slice that mirrors `endpoints`."""
    out: list[tuple[list[EndpointSlicePort], list[Endpoint]]] = []
    budget = MAX_MIRRORED_ADDRESSES
    for subset in endpoints.subsets:
        ports = [
            EndpointSlicePort.model_construct(
                name=p.name or "", protocol=p.protocol, port=p.port, app_protocol=p.app_protocol
            )
            for p in subset.ports
        ]
        items = [_endpoint(a, True) for a in subset.addresses]
        items += [_endpoint(a, False) for a in subset.not_ready_addresses]
        items = items[:budget]
        budget -= len(items)
        step = MAX_ENDPOINTS_PER_SLICE
        out.extend((ports, items[start : start + step]) for start in range(0, len(items), step))
    return out


class EndpointSliceMirroringController:
    def __init__(
        self, client: Client, factory: InformerFactory, clock: Clock, *, workers: int = 5
    ) -> None:
        self.client = client
        self.services = factory.informer(Service)
        self.endpoints = factory.informer(Endpoints)
        self.slices = factory.informer(EndpointSlice)
        self.controller = Controller("endpointslicemirroring", self, clock=clock, workers=workers)
        self.controller.for_kind(self.endpoints)
        self.controller.watches(self.services, _same_name)
        self.controller.watches(self.slices, _slice_owner)

    def _owned(self, namespace: str, name: str) -> list[EndpointSlice]:
        candidates = self.slices.cache.by_index("namespace", namespace)
        owned = service_slices(candidates, namespace, name, CONTROLLER_NAME)
        return sorted(owned, key=lambda s: s.metadata.name)

    async def reconcile(self, request: Request) -> Result:
        namespace, name = request.namespace, request.name
        existing = self._owned(namespace, name)
        endpoints = self.endpoints.cache.get(name, namespace)
        service = self.services.cache.get(name, namespace)
        wanted: list[tuple[list[EndpointSlicePort], list[Endpoint]]] = []
        if (
            endpoints is not None
            and endpoints.metadata.deletion_timestamp is None
            and service is not None
            and not service.spec.selector
            and endpoints.metadata.labels.get(LABEL_SKIP_MIRROR) != "true"
        ):
            wanted = mirrored(endpoints)
        for slice_ in existing[len(wanted) :]:
            with contextlib.suppress(NotFound):
                await self.client.delete(
                    EndpointSlice,
                    slice_.metadata.name,
                    namespace=namespace,
                    uid=slice_.metadata.uid,
                )
        if not wanted or endpoints is None:
            return Result()
        labels = {
            k: v
            for k, v in endpoints.metadata.labels.items()
            if k not in (LABEL_SERVICE_NAME, LABEL_MANAGED_BY)
        }
        labels[LABEL_SERVICE_NAME] = name
        labels[LABEL_MANAGED_BY] = CONTROLLER_NAME
        owner = new_controller_ref(endpoints)
        for index, (ports, items) in enumerate(wanted):
            if index < len(existing):
                old = existing[index]
                if (
                    old.ports == ports
                    and old.endpoints == items
                    and old.metadata.labels == labels
                    and old.metadata.owner_references == [owner]
                ):
                    continue
                meta = old.metadata.model_copy(
                    update={"labels": labels, "owner_references": [owner]}
                )
                await self.client.update(
                    old.model_copy(update={"metadata": meta, "ports": ports, "endpoints": items})
                )
            else:
                await self.client.create(
                    EndpointSlice(
                        metadata=ObjectMeta(
                            generate_name=f"{name[:57]}-",
                            namespace=namespace,
                            labels=labels,
                            owner_references=[owner],
                        ),
                        address_type="IPv4",
                        ports=ports,
                        endpoints=items,
                    )
                )
        return Result()


def _same_name(service: Service) -> Iterable[Request]:
    return (Request(Endpoints, service.metadata.namespace, service.metadata.name),)


def _slice_owner(slice_: EndpointSlice) -> Iterable[Request]:
    name = slice_service(slice_, CONTROLLER_NAME)
    return () if name is None else (Request(Endpoints, slice_.metadata.namespace, name),)


def setup(manager: Manager, *, workers: int = 5) -> EndpointSliceMirroringController:
    """Create the EndpointSlice mirroring controller on `manager`'s informers and add it."""
    controller = EndpointSliceMirroringController(
        manager.client, manager.factory, manager.clock, workers=workers
    )
    manager.add(controller.controller)
    return controller
