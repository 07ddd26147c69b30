"""The EndpointSlice controller (kube-controller-manager's endpointslice
controller): keeps, for every Service with a selector, EndpointSlices that
list exactly its endpoints (see `controllers.endpointslice.reconciler`).

Level-triggered on the Service: a change of a Service, of a pod it selects
(before or after the change: a relabelled pod leaves one Service for
another), of one of its managed slices, or of a Node (zones) enqueues it; a
reconcile reads the caches and writes the plan. Pod updates that change
nothing an endpoint shows (IP, readiness, deletion, phase, labels, node,
hostname) are ignored. ExternalName Services and Services without a selector
get no slices from here (the mirroring controller and users make those).
Only slices labelled `endpointslice.kubernetes.io/managed-by:
endpointslice-controller.k8s.io` are its own; slices of a deleted Service go
with it through their owner reference (garbage collector).

The informer cache may not show the slices this controller just wrote (a
slice created a moment ago is not listed yet): a tracker remembers, per
Service, the resourceVersion it wrote for each slice (or that it deleted it),
and a reconcile that finds the cache behind does nothing: the slice event
that brings the cache up to date enqueues the Service again (Kubernetes'
endpointSliceTracker). This keeps a stale cache from creating duplicates.

`max_endpoints_per_slice` (default 100, kube-controller-manager's
--max-endpoints-per-slice) and `batch_period` (delay pod updates so a burst
costs one write; --endpointslice-updates-batch-period, default 0) are
configurable; `writes` counts slice writes (benchmarks).

Neighbours: `controllers.endpointslice.reconciler` (the plan),
`controllers.common.endpoints`, the garbage collector (removes slices of
deleted Services), kube-proxy and the traffic router (readers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any

from controllers.common.endpoints import selects, service_slices, slice_service
from controllers.common.network import NetworkSettings
from controllers.endpointslice.reconciler import (
    CONTROLLER_NAME,
    DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    EndpointCache,
    Plan,
    plan,
)
from engine.api import Node, Pod, Service
from engine.api.discovery import EndpointSlice
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import AlreadyExists, ApiError, Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import (
    DeletedFinalStateUnknown,
    EventHandler,
    InformerFactory,
    SharedInformer,
)
from engine.manager import Manager

__all__ = [
    "EndpointSliceController",
    "pod_endpoint_changed",
    "services_selecting",
    "setup",
]

LABEL_ZONE = "topology.kubernetes.io/zone"
_RETRY_MISSING_NODE = 1.0


def pod_endpoint_changed(old: Pod, new: Pod) -> bool:
    """Whether an update of a pod can change any endpoint made from it."""
    if old is new:
        return False
    o, n = old.status, new.status
    if (
        o.pod_ip != n.pod_ip
        or o.phase != n.phase
        or old.metadata.deletion_timestamp != new.metadata.deletion_timestamp
        or old.metadata.labels != new.metadata.labels
        or old.spec.node_name != new.spec.node_name
        or old.spec.hostname != new.spec.hostname
        or old.spec.subdomain != new.spec.subdomain
    ):
        return True
    return _ready(old) != _ready(new)


def _ready(pod: Pod) -> bool | None:
    for condition in pod.status.conditions:
        if condition.type == "Ready":
            return condition.status == "True"
    return None


def services_selecting(services: SharedInformer[Service], pod: Pod) -> Iterable[Request]:
    namespace = pod.metadata.namespace
    for service in services.cache.by_index("namespace", namespace):
        if selects(service, pod):
            yield Request(Service, namespace, service.metadata.name)


class _PodEndpointChanged:
    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return pod_endpoint_changed(old, new)

    def delete(self, obj: Any) -> bool:
        return True


class _NodeZoneChanged:
    def create(self, obj: Any) -> bool:
        return True

    def update(self, old: Any, new: Any) -> bool:
        return bool(old.metadata.labels.get(LABEL_ZONE) != new.metadata.labels.get(LABEL_ZONE))

    def delete(self, obj: Any) -> bool:
        return True


class _Tracker:
    """The slices written per Service: name -> resourceVersion written, or None
    when deleted. Entries go once the cache has caught up with them."""

    def __init__(self) -> None:
        self.written: dict[tuple[str, str], dict[str, int | None]] = {}

    def stale(self, key: tuple[str, str], cached: dict[str, EndpointSlice]) -> bool:
        expected = self.written.get(key)
        if not expected:
            return False
        for name, version in list(expected.items()):
            have = cached.get(name)
            if version is None:
                if have is None:
                    del expected[name]
                    continue
                return True
            if have is None or int(have.metadata.resource_version or 0) < version:
                return True
            del expected[name]
        return False

    def wrote(self, key: tuple[str, str], name: str, version: int | None) -> None:
        self.written.setdefault(key, {})[name] = version

    def forget(self, key: tuple[str, str]) -> None:
        self.written.pop(key, None)

    def deleted(self, key: tuple[str, str], name: str) -> None:
        """A slice is gone (whoever deleted it): nothing more to wait for."""
        expected = self.written.get(key)
        if expected is not None:
            expected.pop(name, None)


class EndpointSliceController:
    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        *,
        workers: int = 5,
        max_endpoints_per_slice: int = DEFAULT_MAX_ENDPOINTS_PER_SLICE,
        batch_period: float = 0.0,
    ) -> None:
        if max_endpoints_per_slice < 1:
            raise ValueError("max_endpoints_per_slice must be at least 1")
        self.client = client
        self.clock = clock
        self.max_endpoints = max_endpoints_per_slice
        self.services = factory.informer(Service)
        self.pods = factory.informer(Pod)
        self.slices = factory.informer(EndpointSlice)
        self.nodes = factory.informer(Node)
        self.tracker = _Tracker()
        self._endpoints: dict[tuple[str, str], EndpointCache] = {}
        self.writes = 0
        self.recorder = EventRecorder(client, clock, "endpoint-slice-controller")
        self.controller = Controller("endpointslice", self, clock=clock, workers=workers)
        services = self.services
        self.controller.for_kind(services)
        self.controller.watches(
            self.pods,
            lambda pod: services_selecting(services, pod),
            _PodEndpointChanged(),
            update_delay=batch_period,
        )
        self.controller.watches(self.slices, _slice_service)
        self.slices.add_event_handler(EventHandler(delete=self._slice_deleted))
        self.controller.watches(self.nodes, self._all_services, _NodeZoneChanged())

    def _slice_deleted(self, obj: Any) -> None:
        slice_ = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        name = slice_service(slice_, CONTROLLER_NAME)
        if name is not None:
            self.tracker.deleted((slice_.metadata.namespace, name), slice_.metadata.name)

    def _all_services(self, node: Node) -> Iterable[Request]:
        return [Request.for_object(s) for s in self.services.cache.list()]

    def _zones(self) -> dict[str, str | None]:
        return {n.metadata.name: n.metadata.labels.get(LABEL_ZONE) for n in self.nodes.cache.list()}

    def owned_slices(self, namespace: str, name: str) -> list[EndpointSlice]:
        candidates = self.slices.cache.by_index("namespace", namespace)
        return service_slices(candidates, namespace, name, CONTROLLER_NAME)

    async def reconcile(self, request: Request) -> Result:
        key = (request.namespace, request.name)
        service = self.services.cache.get(request.name, request.namespace)
        if service is None or service.metadata.deletion_timestamp is not None:
            self.tracker.forget(key)
            self._endpoints.pop(key, None)
            return Result()  # the garbage collector removes its slices
        if service.spec.type == "ExternalName" or not service.spec.selector:
            return Result()
        existing = self.owned_slices(request.namespace, request.name)
        if self.tracker.stale(key, {s.metadata.name: s for s in existing}):
            return Result()  # the event of our own last write will bring us back
        pods = [
            p
            for p in self.pods.cache.by_index("namespace", request.namespace)
            if selects(service, p)
        ]
        todo = plan(
            service,
            pods,
            self._zones(),
            existing,
            max_endpoints=self.max_endpoints,
            cache=self._endpoints.setdefault(key, {}),
        )
        try:
            await self._write(key, todo)
        except ApiError as error:
            self.recorder.record(
                service,
                "Warning",
                "FailedToUpdateEndpointSlices",
                f"Error updating Endpoint Slices for Service "
                f"{request.namespace}/{request.name}: {error}",
            )
            raise
        if todo.missing_nodes:
            return Result(requeue_after=_RETRY_MISSING_NODE)
        return Result()

    async def _write(self, key: tuple[str, str], todo: Plan) -> None:
        namespace = key[0]
        for slice_ in todo.delete:
            with contextlib.suppress(NotFound):
                await self.client.delete(
                    EndpointSlice,
                    slice_.metadata.name,
                    namespace=namespace,
                    uid=slice_.metadata.uid,
                )
            self.writes += 1
            self.tracker.wrote(key, slice_.metadata.name, None)
        for slice_ in todo.update:
            stored = await self.client.update(slice_)
            self.writes += 1
            self.tracker.wrote(key, stored.metadata.name, int(stored.metadata.resource_version))
        for slice_ in todo.create:
            try:
                stored = await self.client.create(slice_)
            except AlreadyExists:
                raise Conflict("generated EndpointSlice name taken; retrying") from None
            self.writes += 1
            self.tracker.wrote(key, stored.metadata.name, int(stored.metadata.resource_version))


def _slice_service(slice_: EndpointSlice) -> Iterable[Request]:
    name = slice_service(slice_, CONTROLLER_NAME)
    return () if name is None else (Request(Service, slice_.metadata.namespace, name),)


def setup(
    manager: Manager,
    *,
    workers: int = 5,
    network: NetworkSettings | None = None,
) -> EndpointSliceController:
    """Create the EndpointSlice controller on `manager`'s informers and add it
    (`network`: max endpoints per slice and the updates batch period)."""
    settings = network or NetworkSettings()
    controller = EndpointSliceController(
        manager.client,
        manager.factory,
        manager.clock,
        workers=workers,
        max_endpoints_per_slice=settings.max_endpoints_per_slice,
        batch_period=settings.endpoint_updates_batch_period,
    )
    manager.add(controller.controller)
    manager.add_runnable(controller.recorder.run)
    return controller
