"""Simulation oracles for Services: a desired-state check (registered in
`liveness.DESIRED`) and an opt-in safety invariant (in `invariants.SAFETY`).

Desired state (after faults stop):

* `endpointslices`: every Service with a selector (not ExternalName) has
  EndpointSlices, managed by the EndpointSlice controller, that list as
  ready exactly its ready pods (selected, not finished, with an IP, not
  being deleted, Ready, serving one of its ports, or every such pod with
  `publishNotReadyAddresses`), each pod once, and nothing but its selected
  pods. Skipped when the simulation does not run the EndpointSlice
  controller.

Safety (opt-in per Service):

* `service-availability`: a Service annotated
  `sim.kubeloop.io/availability: "true"` never leaves a request failing
  while cluster time passes: from the moment it first has a usable endpoint,
  kube-proxy's usable endpoints (ready, else serving terminating) are never
  empty, and every one of them answers (`runtime.network.traffic.answers`).
  A bad state that is repaired at the same instant it appears (no time
  passes, so no request could have seen it) is not a violation; one still
  there when the clock moves on is. This is what a Deployment with
  `maxUnavailable: 0` and a readiness probe promises while it rolls; faults
  (a crashed node) can break it, so it is for runs that expect it.

Neighbours: `runtime.simulation.liveness`, `runtime.simulation.invariants`,
`controllers.common.endpoints`, `controllers.common.routing`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from controllers.common.endpoints import (
    find_port,
    selects,
    service_slices,
    should_be_in_endpoints,
)
from controllers.common.pods import is_pod_ready
from controllers.common.routing import service_backends, usable_backends
from controllers.endpointslice import CONTROLLER_NAME
from engine.api import Pod, Service
from engine.api.discovery import EndpointSlice
from engine.store import Store, WriteRecord
from runtime.network.traffic import answers
from runtime.runtimes.behavior import ANNOTATION_PREFIX
from runtime.simulation.view import ClusterView

__all__ = ["AVAILABILITY_ANNOTATION", "ServiceAvailability", "endpointslices"]

AVAILABILITY_ANNOTATION = f"{ANNOTATION_PREFIX}availability"


def _diff(obj: Any, what: str, have: Any, want: Any) -> Any:
    from runtime.simulation.liveness import Difference

    meta = obj.metadata
    return Difference(obj.kind, meta.namespace, meta.name, what, have, want)


def _managed(store: Store, service: Service) -> list[EndpointSlice]:
    meta = service.metadata
    return service_slices(store.objects(EndpointSlice), meta.namespace, meta.name, CONTROLLER_NAME)


def _serves(service: Service, pod: Pod) -> bool:
    if not service.spec.ports:
        return True
    return any(find_port(pod, p.target_port, p.protocol) is not None for p in service.spec.ports)


def endpointslices(ctx: Any) -> Iterator[Any]:
    running = getattr(ctx, "controllers", None)
    if running is not None and "endpointslice" not in running:
        return
    store = ctx.store
    pods = list(store.objects(Pod))
    for service in ctx.objects(Service):
        if (
            service.metadata.deletion_timestamp is not None
            or not service.spec.selector
            or service.spec.type == "ExternalName"
        ):
            continue
        publish = bool(service.spec.publish_not_ready_addresses)
        selected = {p.metadata.uid: p for p in pods if selects(service, p)}
        want = sorted(
            p.metadata.name
            for p in selected.values()
            if should_be_in_endpoints(p, include_terminating=False)
            and (publish or is_pod_ready(p))
            and _serves(service, p)
        )
        listed: list[str] = []
        strangers: list[str] = []
        for slice_ in _managed(store, service):
            for endpoint in slice_.endpoints:
                ref = endpoint.target_ref
                uid = ref.uid if ref is not None else None
                if uid not in selected:
                    strangers.append(ref.name if ref is not None and ref.name else "?")
                elif endpoint.conditions.ready:
                    listed.append(selected[uid].metadata.name)
        if sorted(listed) != want:
            yield _diff(service, "ready endpoints", sorted(listed), want)
        if strangers:
            yield _diff(service, "endpoints of pods it does not select", sorted(strangers), [])


class ServiceAvailability:
    """See the module docstring (`service-availability`)."""

    name = "service-availability"

    def __init__(self) -> None:
        self._serving: set[tuple[str, str]] = set()  # had a usable endpoint once
        self._failing: dict[tuple[str, str], tuple[datetime, str]] = {}

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        store = view.store
        now = store.clock.now()
        for key, (since, why) in list(self._failing.items()):
            if now > since:
                del self._failing[key]
                return f"Service {key[0]}/{key[1]}: requests failed from t={since}: {why}"
        if record.kind not in ("Pod", "EndpointSlice", "Service"):
            return None
        for service in store.objects(Service):
            if service.metadata.annotations.get(AVAILABILITY_ANNOTATION) != "true":
                continue
            if record.namespace != service.metadata.namespace:
                continue
            key = (service.metadata.namespace, service.metadata.name)
            problem = self._failure(store, service, now)
            if problem is None:
                self._serving.add(key)
                self._failing.pop(key, None)
            elif key in self._serving and key not in self._failing:
                self._failing[key] = (now, problem)
        return None

    @staticmethod
    def _failure(store: Store, service: Service, now: datetime) -> str | None:
        backends = usable_backends(service_backends(service, _managed(store, service)))
        if not backends:
            return "no usable endpoint"
        for backend in backends:
            pod = store.try_get(Pod, backend.pod_name or "", service.metadata.namespace)
            if pod is None or pod.metadata.uid != backend.pod_uid or not answers(pod, now):
                return f"endpoint {backend.ip} ({backend.pod_name}) does not answer"
        return None
