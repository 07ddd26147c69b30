"""The load-balancer controller: gives every Service of type LoadBalancer an
address from a pool and writes it to `status.loadBalancer.ingress`, as
MetalLB (layer 2) or a cloud controller would.

- Services with a `loadBalancerClass` belong to another implementation and
  are left alone (the class `kubeloop` is this one's).
- `spec.loadBalancerIP` (deprecated in Kubernetes but honoured by MetalLB)
  asks for an address; it must be in the pool and free, else the Service gets
  a warning Event (`AllocationFailed`) and no address.
- Otherwise the lowest free address of the pool; an exhausted pool is an
  `AllocationFailed` Event and a retry.
- A Service that stops being a LoadBalancer has its status cleared; a deleted
  one's address is free again. Addresses in use are read from the Services'
  statuses (level-triggered, nothing held in memory across restarts), plus
  the ones just written that the cache does not show yet.
- The status is `ingress: [{ip, ipMode: VIP}]`, as MetalLB writes it.

Neighbours: `controllers.common.network` (the pool), kube-proxy (serves the
address), the Service allocator in the store (node ports).
"""

from __future__ import annotations

import contextlib

from controllers.common.network import NetworkSettings, parse_pool
from engine.api import Service
from engine.api.core import LoadBalancerIngress, LoadBalancerStatus
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import NotFound
from engine.events import EventRecorder
from engine.informer import InformerFactory
from engine.manager import Manager

__all__ = ["CLASS_NAME", "LoadBalancerController", "setup"]

CLASS_NAME = "kubeloop"
_RETRY = 30.0


def _ours(service: Service) -> bool:
    return service.spec.type == "LoadBalancer" and service.spec.load_balancer_class in (
        None,
        CLASS_NAME,
    )


def _address(service: Service) -> str | None:
    ingress = service.status.load_balancer.ingress
    return ingress[0].ip if ingress else None


class LoadBalancerController:
    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        settings: NetworkSettings | None = None,
    ) -> None:
        self.client = client
        self.pool = parse_pool((settings or NetworkSettings()).load_balancer_pool)
        self._in_pool = set(self.pool)
        self.services = factory.informer(Service)
        self.recorder = EventRecorder(client, clock, "loadbalancer-controller")
        self._written: dict[tuple[str, str], str | None] = {}
        self.controller = Controller("loadbalancer", self, clock=clock, workers=1)
        self.controller.for_kind(self.services)

    def _used(self, skip: tuple[str, str]) -> set[str]:
        used: set[str] = set()
        for service in self.services.cache.list():
            key = (service.metadata.namespace, service.metadata.name)
            if key == skip:
                continue
            ip = self._written.get(key, _address(service)) if _ours(service) else None
            if ip:
                used.add(ip)
        return used

    async def reconcile(self, request: Request) -> Result:
        key = (request.namespace, request.name)
        service = self.services.cache.get(request.name, request.namespace)
        if service is None:
            self._written.pop(key, None)
            return Result()
        current = _address(service)
        if key in self._written:
            if self._written[key] != current:
                return Result()  # our last write is not in the cache yet; its event follows
            del self._written[key]
        if not _ours(service):
            if service.spec.type != "LoadBalancer" and service.status.load_balancer.ingress:
                await self._write(service, None)
            return Result()
        used = self._used(key)
        wanted = service.spec.load_balancer_ip or None
        keeps = current is not None and current in self._in_pool and current not in used
        if keeps and wanted in (None, current):
            return Result()
        if wanted is not None:
            if wanted not in self._in_pool or wanted in used:
                why = "not in the pool" if wanted not in self._in_pool else "already in use"
                self.recorder.record(
                    service,
                    "Warning",
                    "AllocationFailed",
                    f'Failed to allocate IP for "{request.namespace}/{request.name}": '
                    f"{wanted} is {why}",
                )
                return Result()
            address = wanted
        else:
            free = next((ip for ip in self.pool if ip not in used), None)
            if free is None:
                self.recorder.record(
                    service,
                    "Warning",
                    "AllocationFailed",
                    f'Failed to allocate IP for "{request.namespace}/{request.name}": '
                    "no available IPs",
                )
                return Result(requeue_after=_RETRY)
            address = free
        await self._write(service, address)
        return Result()

    async def _write(self, service: Service, address: str | None) -> None:
        ingress = [LoadBalancerIngress(ip=address, ip_mode="VIP")] if address else []
        status = service.status.model_copy(
            update={"load_balancer": LoadBalancerStatus(ingress=ingress)}
        )
        self._written[(service.metadata.namespace, service.metadata.name)] = address
        with contextlib.suppress(NotFound):
            await self.client.update_status(service.model_copy(update={"status": status}))


def setup(manager: Manager, *, network: NetworkSettings | None = None) -> LoadBalancerController:
    """Create the load-balancer controller on `manager`'s informers and add it."""
    controller = LoadBalancerController(manager.client, manager.factory, manager.clock, network)
    manager.add(controller.controller)
    manager.add_runnable(controller.recorder.run)
    return controller
