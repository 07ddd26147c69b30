"""The legacy Endpoints controller (kube-controller-manager's endpoint
controller): one `Endpoints` object per Service with a selector, named as the
Service, listing its pods' addresses by port set.

- A selected pod is listed if it is not finished, has an IP and is not being
  deleted (unless the Service publishes not-ready addresses); ready pods (or
  every pod with `publishNotReadyAddresses`) go to `addresses`, the others to
  `notReadyAddresses`. A named `targetPort` resolves per pod, so pods serving
  different numbers land in different subsets (Kubernetes' RepackSubsets);
  addresses are sorted by IP.
- At most 1,000 addresses are kept, ready ones first; a truncated object
  carries `endpoints.kubernetes.io/over-capacity: truncated` (removed again
  when it fits), as Kubernetes does since 1.22.
- The Service's labels are copied, with `service.kubernetes.io/headless` for a
  headless Service, and `endpointslice.kubernetes.io/skip-mirror: "true"` so
  the mirroring controller leaves these alone.
- The Endpoints of a deleted Service are deleted; Services without a selector
  (users write their Endpoints) and ExternalName Services are left alone.

Neighbours: `controllers.common.endpoints` (pod facts), the mirroring
controller (skips these by label).
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterable
from typing import Final

from controllers.common.endpoints import (
    find_port,
    selects,
    should_be_in_endpoints,
    should_set_hostname,
)
from controllers.common.pods import is_pod_ready
from engine.api import Pod, Service
from engine.api.base import ObjectMeta
from engine.api.core import (
    EndpointAddress,
    EndpointPort,
    Endpoints,
    EndpointSubset,
    ObjectReference,
)
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import AlreadyExists, ApiError, Forbidden, NotFound
from engine.events import EventRecorder
from engine.informer import InformerFactory
from engine.manager import Manager

__all__ = [
    "LABEL_SKIP_MIRROR",
    "MAX_CAPACITY",
    "OVER_CAPACITY_ANNOTATION",
    "EndpointsController",
    "desired_subsets",
    "setup",
]

MAX_CAPACITY: Final = 1000
OVER_CAPACITY_ANNOTATION: Final = "endpoints.kubernetes.io/over-capacity"
LABEL_SKIP_MIRROR: Final = "endpointslice.kubernetes.io/skip-mirror"
LABEL_HEADLESS: Final = "service.kubernetes.io/headless"

_PortSet = tuple[tuple[str, int, str, str], ...]


def _address(pod: Pod, service: Service) -> EndpointAddress:
    meta = pod.metadata
    return EndpointAddress.model_construct(
        ip=pod.status.pod_ip or pod.status.pod_ips[0].ip,
        hostname=pod.spec.hostname if should_set_hostname(pod, service) else None,
        node_name=pod.spec.node_name or None,
        target_ref=ObjectReference.model_construct(
            kind="Pod", namespace=meta.namespace, name=meta.name, uid=meta.uid
        ),
    )


def desired_subsets(service: Service, pods: Iterable[Pod]) -> tuple[list[EndpointSubset], bool]:
    """The subsets of the Service's Endpoints, and whether they were truncated."""
    tolerate = bool(service.spec.publish_not_ready_addresses)
    groups: dict[_PortSet, tuple[list[EndpointAddress], list[EndpointAddress]]] = {}
    for pod in pods:
        if not should_be_in_endpoints(pod, include_terminating=tolerate):
            continue
        ports: list[tuple[str, int, str, str]] = []
        for port in service.spec.ports:
            number = find_port(pod, port.target_port, port.protocol)
            if number is not None:
                ports.append((port.name or "", number, port.protocol, port.app_protocol or ""))
        if service.spec.ports and not ports:
            continue
        key = tuple(sorted(ports))
        ready, not_ready = groups.setdefault(key, ([], []))
        (ready if tolerate or is_pod_ready(pod) else not_ready).append(_address(pod, service))
    budget = MAX_CAPACITY
    truncated = False
    subsets = []
    ordered = sorted(groups.items())
    # Ready addresses take the capacity first, then not-ready ones.
    kept_ready = []
    for _, (ready, _nr) in ordered:
        ready.sort(key=_ip_order)
        take = ready[:budget]
        truncated = truncated or len(take) < len(ready)
        budget -= len(take)
        kept_ready.append(take)
    for (key, (_, not_ready)), ready in zip(ordered, kept_ready, strict=True):
        not_ready.sort(key=_ip_order)
        take = not_ready[:budget]
        truncated = truncated or len(take) < len(not_ready)
        budget -= len(take)
        if not ready and not take:
            continue
        subsets.append(
            EndpointSubset.model_construct(
                addresses=ready,
                not_ready_addresses=take,
                ports=[
                    EndpointPort.model_construct(
                        name=name or None, port=number, protocol=protocol, app_protocol=app or None
                    )
                    for name, number, protocol, app in key
                ],
            )
        )
    return subsets, truncated


def _ip_order(address: EndpointAddress) -> tuple[int, str]:
    try:
        return (int(ipaddress.ip_address(address.ip)), address.ip)
    except ValueError:
        return (0, address.ip)


class EndpointsController:
    def __init__(
        self, client: Client, factory: InformerFactory, clock: Clock, *, workers: int = 5
    ) -> None:
        self.client = client
        self.services = factory.informer(Service)
        self.pods = factory.informer(Pod)
        self.endpoints = factory.informer(Endpoints)
        self.recorder = EventRecorder(client, clock, "endpoint-controller")
        self.controller = Controller("endpoints", self, clock=clock, workers=workers)
        services = self.services
        self.controller.for_kind(services)
        self.controller.watches(self.pods, self._services_of)
        self.controller.watches(
            self.endpoints,
            lambda e: (Request(Service, e.metadata.namespace, e.metadata.name),),
        )

    def _services_of(self, pod: Pod) -> Iterable[Request]:
        namespace = pod.metadata.namespace
        return [
            Request(Service, namespace, s.metadata.name)
            for s in self.services.cache.by_index("namespace", namespace)
            if selects(s, pod)
        ]

    async def reconcile(self, request: Request) -> Result:
        service = self.services.cache.get(request.name, request.namespace)
        current = self.endpoints.cache.get(request.name, request.namespace)
        if service is None:
            if current is not None and current.metadata.labels.get(LABEL_SKIP_MIRROR) == "true":
                with contextlib.suppress(NotFound):
                    await self.client.delete(Endpoints, request.name, namespace=request.namespace)
            return Result()
        if not service.spec.selector or service.spec.type == "ExternalName":
            return Result()
        pods = [
            p
            for p in self.pods.cache.by_index("namespace", request.namespace)
            if selects(service, p)
        ]
        subsets, truncated = desired_subsets(service, pods)
        labels = dict(service.metadata.labels)
        labels[LABEL_SKIP_MIRROR] = "true"
        if service.spec.cluster_ip == "None":
            labels[LABEL_HEADLESS] = ""
        else:
            labels.pop(LABEL_HEADLESS, None)
        annotations = dict(current.metadata.annotations) if current is not None else {}
        if truncated:
            annotations[OVER_CAPACITY_ANNOTATION] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY_ANNOTATION, None)
        where = f"{request.namespace}/{request.name}"
        if current is None:
            draft = Endpoints(
                metadata=ObjectMeta(
                    name=request.name,
                    namespace=request.namespace,
                    labels=labels,
                    annotations=annotations,
                ),
                subsets=subsets,
            )
            try:
                await self.client.create(draft)
            except AlreadyExists:
                pass  # the cache is behind: its event follows
            except Forbidden as error:
                if "being terminated" not in str(error):
                    self._failed(draft, "FailedToCreateEndpoint", where, error)
                    raise
            except ApiError as error:
                self._failed(draft, "FailedToCreateEndpoint", where, error)
                raise
            return Result()
        meta = current.metadata
        if current.subsets == subsets and meta.labels == labels and meta.annotations == annotations:
            return Result()
        updated = current.model_copy(
            update={
                "metadata": meta.model_copy(update={"labels": labels, "annotations": annotations}),
                "subsets": subsets,
            }
        )
        try:
            await self.client.update(updated)
        except ApiError as error:
            self._failed(updated, "FailedToUpdateEndpoint", where, error)
            raise
        return Result()

    def _failed(self, endpoints: Endpoints, reason: str, where: str, error: ApiError) -> None:
        creating = reason == "FailedToCreateEndpoint"
        verb = "create endpoint for service" if creating else "update endpoint"
        self.recorder.record(endpoints, "Warning", reason, f"Failed to {verb} {where}: {error}")


def setup(manager: Manager, *, workers: int = 5) -> EndpointsController:
    """Create the Endpoints controller on `manager`'s informers and add it."""
    controller = EndpointsController(
        manager.client, manager.factory, manager.clock, workers=workers
    )
    manager.add(controller.controller)
    manager.add_runnable(controller.recorder.run)
    return controller
