"""kube-proxy's routing decisions as pure functions, for every data plane:
the simulated traffic router and the real proxy of the process runtime.

- `service_backends(service, slices, port)`: the endpoints of one Service
  port from its EndpointSlices (port by number or by name, the slice port of
  the same name), each with its conditions, node and zone.
- `usable_backends(backends, node=..., local=...)`: kube-proxy's
  CategorizeEndpoints. Ready endpoints; if none is ready, the serving
  terminating ones (ProxyTerminatingEndpoints); with a `Local` traffic policy
  (internalTrafficPolicy for traffic from inside the cluster,
  externalTrafficPolicy for NodePort/LoadBalancer traffic) only the
  endpoints on the receiving node, by the same ready-then-terminating rule,
  and nothing if that node has none (the traffic is dropped, never sent
  elsewhere). An empty result is kube-proxy's REJECT: connection refused.
- `traffic_policy_local(service, external)`: which policy applies.
- `ClientIPAffinity`: `sessionAffinity: ClientIP`: a client keeps its
  endpoint while it is usable and the client was seen within the timeout
  (default 10800 s), on the caller's clock.
- `choose(backends, rng)`: kube-proxy's uniformly random choice.

Neighbours: `controllers.common.endpoints` (labels), the simulated traffic
router (`runtime.network.traffic`), the process runtime's proxy.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from controllers.common.endpoints import LABEL_SERVICE_NAME
from engine.api import Service
from engine.api.discovery import EndpointSlice

__all__ = [
    "DEFAULT_AFFINITY_TIMEOUT",
    "Backend",
    "ClientIPAffinity",
    "choose",
    "service_backends",
    "service_port",
    "traffic_policy_local",
    "usable_backends",
]

DEFAULT_AFFINITY_TIMEOUT = 10800.0


@dataclass(frozen=True, slots=True)
class Backend:
    """One endpoint of one Service port."""

    ip: str
    port: int
    ready: bool
    serving: bool
    terminating: bool
    node: str | None = None
    zone: str | None = None
    pod_uid: str | None = None
    pod_name: str | None = None


def service_port(service: Service, port: int | str | None) -> tuple[str, str] | None:
    """(name, protocol) of the Service port given by number or name (None: the
    only port); None if the Service has no such port."""
    ports = service.spec.ports
    for p in ports:
        if port is None or p.port == port or (p.name or "") == port:
            return (p.name or "", p.protocol)
    return None


def service_backends(
    service: Service, slices: Iterable[EndpointSlice], port: int | str | None = None
) -> list[Backend]:
    """The endpoints of `service`'s port `port` listed in `slices` (any slices:
    those not labelled for this Service are skipped), each address once."""
    wanted = service_port(service, port)
    if wanted is None:
        return []
    name, protocol = wanted
    out: list[Backend] = []
    seen: set[tuple[str, int]] = set()
    for slice_ in slices:
        meta = slice_.metadata
        if (
            meta.labels.get(LABEL_SERVICE_NAME) != service.metadata.name
            or meta.namespace != service.metadata.namespace
        ):
            continue
        number = next(
            (p.port for p in slice_.ports if p.name == name and p.protocol == protocol), None
        )
        if number is None:
            continue
        for endpoint in slice_.endpoints:
            c = endpoint.conditions
            ready = c.ready is not False
            serving = c.serving if c.serving is not None else ready
            ref = endpoint.target_ref
            for ip in endpoint.addresses[:1]:
                if (ip, number) in seen:
                    continue
                seen.add((ip, number))
                out.append(
                    Backend(
                        ip=ip,
                        port=number,
                        ready=ready,
                        serving=serving,
                        terminating=bool(c.terminating),
                        node=endpoint.node_name,
                        zone=endpoint.zone,
                        pod_uid=ref.uid if ref is not None else None,
                        pod_name=ref.name if ref is not None else None,
                    )
                )
    return out


def traffic_policy_local(service: Service, *, external: bool) -> bool:
    """Whether traffic of this kind may only go to endpoints on the receiving
    node: externalTrafficPolicy for NodePort/LoadBalancer (external) traffic,
    internalTrafficPolicy for ClusterIP traffic."""
    if external:
        return service.spec.external_traffic_policy == "Local"
    return service.spec.internal_traffic_policy == "Local"


def _ready_else_terminating(backends: Sequence[Backend]) -> list[Backend]:
    ready = [b for b in backends if b.ready]
    if ready:
        return ready
    return [b for b in backends if b.serving and b.terminating]


def usable_backends(
    backends: Sequence[Backend], *, node: str | None = None, local: bool = False
) -> list[Backend]:
    """The endpoints kube-proxy sends to (see the module docstring); empty: refused."""
    if local:
        return _ready_else_terminating([b for b in backends if b.node == node])
    return _ready_else_terminating(backends)


def choose(backends: Sequence[Backend], rng: random.Random) -> Backend | None:
    if not backends:
        return None
    return backends[rng.randrange(len(backends))]


@dataclass(slots=True)
class ClientIPAffinity:
    """Sticky endpoints per client address (kube-proxy's `recent` match)."""

    timeout: float = DEFAULT_AFFINITY_TIMEOUT
    _entries: dict[str, tuple[tuple[str, int], float]] = field(default_factory=dict)

    @classmethod
    def for_service(cls, service: Service) -> ClientIPAffinity | None:
        if service.spec.session_affinity != "ClientIP":
            return None
        config = service.spec.session_affinity_config
        seconds = (
            config.client_ip.timeout_seconds
            if config is not None and config.client_ip is not None
            else None
        )
        return cls(timeout=float(seconds if seconds is not None else DEFAULT_AFFINITY_TIMEOUT))

    def pick(
        self, client: str, backends: Sequence[Backend], now: float, rng: random.Random
    ) -> Backend | None:
        entry = self._entries.get(client)
        if entry is not None and now - entry[1] <= self.timeout:
            for backend in backends:
                if (backend.ip, backend.port) == entry[0]:
                    self._entries[client] = (entry[0], now)
                    return backend
        chosen = choose(backends, rng)
        if chosen is None:
            self._entries.pop(client, None)
        else:
            self._entries[client] = ((chosen.ip, chosen.port), now)
        return chosen

    def sticky(self, client: str, now: float) -> tuple[str, int] | None:
        """The endpoint a client is stuck to now, if any."""
        entry = self._entries.get(client)
        if entry is None or now - entry[1] > self.timeout:
            return None
        return entry[0]
