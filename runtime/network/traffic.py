"""Simulated traffic: requests routed through kube-proxy's and the Ingress'
decisions to simulated pods, which answer by their state.

`TrafficRouter.route(target, count)` sends `count` requests at the current
instant, vectorised with numpy (a batch is a handful of array operations,
not a Python loop per request):

1. The target is a Service port (`service`, `port`) or an Ingress (`ingress`,
   `host`, `path`): the Ingress rules pick the backend Service and port
   (`controllers.common.ingressmatch`); no match and no default backend is a
   404, a backend Service that is missing or has no usable endpoint a 503.
2. The Service's EndpointSlices give its endpoints; kube-proxy's rules
   (`controllers.common.routing`) pick the usable ones: ready, else serving
   terminating, and with a `Local` traffic policy only those on the node the
   request arrives at. Requests arrive at nodes uniformly (clients spread
   over the cluster; Ingress and NodePort traffic likewise). None usable:
   refused (an error).
3. Each request picks a usable endpoint uniformly at random (seeded numpy
   RNG); with `sessionAffinity: ClientIP` each of `clients` client addresses
   sticks to its endpoint while it stays usable, within the timeout.
4. The pod answers by its state in the API: it must still exist (the same
   uid), be Running with its containers running, and be Ready, or be
   terminating and still inside its grace period (its containers still
   run). Otherwise the request fails. A success takes the latency its
   first container's simulated behaviour declares (`latency`, e.g. the
   annotation `sim.kubeloop.io/latency: normal(20ms,5ms)`; a duration or
   `uniform`/`exponential`/`normal` distribution; default
   `normal(2ms,500us)`; see `runtime.runtimes.behavior`).

`TrafficStats` accumulates a target's requests, errors (by reason) and a
latency histogram (log buckets 1 % wide from 1 µs: percentiles are within
1 %, memory is fixed however long the run). `RequestRates` keeps per-pod
request counts for a sliding window (default 15 s, metrics-server's
resolution) and answers `pod uid -> requests per second`, a plain mapping
the simulated CPU model can read.

Neighbours: `controllers.common.routing`, `controllers.common.ingressmatch`,
`runtime.cluster.cluster` (`Cluster.traffic`), `runtime.scenario` (the
`traffic` step), `runtime.runtimes.behavior` (duration syntax).
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np

from controllers.common.endpoints import service_slices
from controllers.common.ingressmatch import match
from controllers.common.pods import is_pod_ready
from controllers.common.routing import (
    Backend,
    ClientIPAffinity,
    service_backends,
    traffic_policy_local,
    usable_backends,
)
from engine.api import Node, Pod, Service
from engine.api.discovery import EndpointSlice
from engine.api.networking import Ingress
from engine.store import Store
from runtime.runtimes.behavior import (
    BehaviorError,
    Distribution,
    SimulationPolicy,
    resolve_behavior,
)

__all__ = [
    "RequestRates",
    "Target",
    "TrafficRouter",
    "TrafficStats",
    "answers",
]


# Latency histogram: bucket i holds [1µs * 1.01^i, 1µs * 1.01^(i+1)).
_BASE_MS = 1e-3
_GROWTH = math.log(1.01)
_BUCKETS = int(math.log(1e7 / _BASE_MS) / _GROWTH) + 1  # up to 10,000 s
_KINDS = {"constant": 0, "uniform": 1, "exponential": 2, "normal": 3}


@dataclass(frozen=True, slots=True)
class Target:
    """What requests go to: a Service port, or an Ingress with host and path."""

    namespace: str
    service: str | None = None
    ingress: str | None = None
    port: int | str | None = None
    host: str | None = None
    path: str = "/"
    external: bool = False
    """Traffic from outside (NodePort/LoadBalancer): externalTrafficPolicy applies."""

    def __post_init__(self) -> None:
        if (self.service is None) == (self.ingress is None):
            raise ValueError("a traffic target names exactly one of service or ingress")

    @property
    def name(self) -> str:
        kind, name = ("service", self.service) if self.service else ("ingress", self.ingress)
        return f"{kind}/{self.namespace}/{name}"


@dataclass(slots=True)
class TrafficStats:
    requests: int = 0
    errors: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(_BUCKETS, dtype=np.int64))

    def fail(self, reason: str, count: int) -> None:
        if count:
            self.requests += count
            self.errors += count
            self.reasons[reason] = self.reasons.get(reason, 0) + count

    def succeed(self, latencies_ms: np.ndarray) -> None:
        self.requests += int(latencies_ms.size)
        if latencies_ms.size:
            scaled = np.maximum(latencies_ms, _BASE_MS)
            np.log(scaled, out=scaled)
            scaled -= math.log(_BASE_MS)
            scaled *= 1 / _GROWTH
            buckets = np.minimum(scaled.astype(np.int64), _BUCKETS - 1)
            self.histogram += np.bincount(buckets, minlength=_BUCKETS)

    def percentile(self, q: float) -> float:
        """The q-th percentile of successful requests' latency in ms (0 for none)."""
        total = int(self.histogram.sum())
        if total == 0:
            return 0.0
        rank = max(1, math.ceil(q / 100 * total))
        index = int(np.searchsorted(np.cumsum(self.histogram), rank))
        return _BASE_MS * math.exp((index + 0.5) * _GROWTH)  # the bucket's middle

    def to_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "errors": self.errors,
            "p50_ms": round(self.percentile(50), 3),
            "p99_ms": round(self.percentile(99), 3),
        }


class RequestRates(Mapping[str, float]):
    """Requests per second per pod uid over the last `window` seconds."""

    def __init__(self, now: Any, window: float = 15.0) -> None:
        self._now = now  # () -> cluster seconds
        self.window = window
        self._batches: deque[tuple[float, dict[str, int]]] = deque()

    def record(self, at: float, counts: dict[str, int]) -> None:
        if counts:
            self._batches.append((at, counts))
        self._trim(at)

    def _trim(self, now: float) -> None:
        while self._batches and self._batches[0][0] <= now - self.window:
            self._batches.popleft()

    def snapshot(self) -> dict[str, float]:
        now = float(self._now())
        self._trim(now)
        totals: dict[str, int] = {}
        for _, counts in self._batches:
            for uid, n in counts.items():
                totals[uid] = totals.get(uid, 0) + n
        return {uid: n / self.window for uid, n in totals.items()}

    def __getitem__(self, uid: str) -> float:
        return self.snapshot().get(uid, 0.0)

    def __iter__(self) -> Any:
        return iter(self.snapshot())

    def __len__(self) -> int:
        return len(self.snapshot())

    def __call__(self) -> dict[str, float]:
        return self.snapshot()


class TrafficRouter:
    """Routes simulated requests against the state of one store (see the module docstring)."""

    def __init__(
        self,
        store: Store,
        *,
        seed: int = 0,
        clients: int = 100,
        policy: SimulationPolicy | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or SimulationPolicy()
        self.np_rng = np.random.default_rng(seed)
        self.rng = random.Random(seed)
        self.clients = clients
        self.stats: dict[str, TrafficStats] = {}
        self.rates = RequestRates(store.clock.monotonic)
        self._affinity: dict[tuple[str, str], ClientIPAffinity] = {}
        self._latency: dict[str, Distribution] = {}

    # -- resolution ---------------------------------------------------------------------

    def _slices(self, namespace: str, service: str) -> list[EndpointSlice]:
        return service_slices(self.store.objects(EndpointSlice), namespace, service)

    def resolve(self, target: Target) -> tuple[Service | None, int | str | None, str | None]:
        """The backend Service and port of a target, or the HTTP-like reason it has none."""
        if target.service is not None:
            service = self.store.try_get(Service, target.service, target.namespace)
            return service, target.port, None if service is not None else "no such service"
        ingress = self.store.try_get(Ingress, target.ingress or "", target.namespace)
        if ingress is None:
            return None, None, "404"
        backend = match(ingress, target.host, target.path)
        if backend is None or backend.service is None:
            return None, None, "404"
        port = backend.service.port
        number: int | str | None = None
        if port is not None:
            number = port.number if port.number is not None else port.name
        service = self.store.try_get(Service, backend.service.name, target.namespace)
        return service, number, None if service is not None else "503"

    # -- routing ------------------------------------------------------------------------

    def route(self, target: Target, count: int) -> TrafficStats:
        """Send `count` requests now; returns (and accumulates) the target's stats."""
        stats = self.stats.setdefault(target.name, TrafficStats())
        if count <= 0:
            return stats
        service, port, failure = self.resolve(target)
        refused = "503" if target.ingress is not None else "refused"
        if service is None:
            stats.fail(failure or refused, count)
            return stats
        backends = service_backends(
            service, self._slices(service.metadata.namespace, service.metadata.name), port
        )
        local = traffic_policy_local(service, external=target.external)
        if local:
            nodes: list[str | None] = [n.metadata.name for n in self.store.objects(Node)] or [None]
            arrivals = self.np_rng.multinomial(count, [1 / len(nodes)] * len(nodes))
            groups = [
                (usable_backends(backends, node=node, local=True), int(n))
                for node, n in zip(nodes, arrivals, strict=True)
                if n
            ]
        else:
            groups = [(usable_backends(backends), count)]
        affinity = self._affinity_for(service)
        counts: dict[str, int] = {}
        for usable, n in groups:
            if not usable:
                stats.fail(refused, n)
                continue
            if affinity is not None:
                picks = self._sticky_picks(affinity, usable, n)
            else:
                picks = self.np_rng.integers(0, len(usable), size=n)
            self._answer(stats, usable, picks, counts, service.metadata.namespace)
        self.rates.record(self.store.clock.monotonic(), counts)
        return stats

    def _affinity_for(self, service: Service) -> ClientIPAffinity | None:
        key = (service.metadata.namespace, service.metadata.name)
        wanted = ClientIPAffinity.for_service(service)
        if wanted is None:
            self._affinity.pop(key, None)
            return None
        current = self._affinity.get(key)
        if current is None or current.timeout != wanted.timeout:
            self._affinity[key] = current = wanted
        return current

    def _sticky_picks(
        self, affinity: ClientIPAffinity, usable: list[Backend], n: int
    ) -> np.ndarray:
        clients = self.np_rng.integers(0, self.clients, size=n)
        now = self.store.clock.monotonic()
        index = {(b.ip, b.port): i for i, b in enumerate(usable)}
        chosen = np.empty(self.clients, dtype=np.int64)
        for client in range(self.clients):
            backend = affinity.pick(f"client-{client}", usable, now, self.rng)
            assert backend is not None  # usable is not empty
            chosen[client] = index[(backend.ip, backend.port)]
        return chosen[clients]

    def _answer(
        self,
        stats: TrafficStats,
        usable: list[Backend],
        picks: np.ndarray,
        counts: dict[str, int],
        namespace: str,
    ) -> None:
        per_backend = np.bincount(picks, minlength=len(usable))
        now = self.store.clock.now()
        ok = np.zeros(len(usable), dtype=bool)
        params = np.zeros((len(usable), 3))
        for i, backend in enumerate(usable):
            if not per_backend[i]:
                continue
            pod = self._pod(backend, namespace)
            if pod is not None and answers(pod, now):
                dist = self._distribution(pod)
                if isinstance(dist, str):
                    stats.fail(dist, int(per_backend[i]))
                    per_backend[i] = 0
                else:
                    ok[i] = True
                    params[i] = (_KINDS[dist.kind], dist.a * 1000, dist.b * 1000)
            if backend.pod_uid:
                counts[backend.pod_uid] = counts.get(backend.pod_uid, 0) + int(per_backend[i])
        failed = int(per_backend[~ok].sum())
        stats.fail("pod not serving", failed)
        good = picks[ok[picks]]
        if good.size:
            stats.succeed(self._sample(params, good))

    def _sample(self, params: np.ndarray, picks: np.ndarray) -> np.ndarray:
        """A latency in ms for each request, from the distribution of the
        backend it picked (`params` per backend: kind, a, b in ms)."""
        kinds = params[:, 0]
        a: np.ndarray = params[:, 1][picks]
        result: np.ndarray
        if picks.size and np.all(kinds == kinds[picks[0]]):  # one kind for all: no masks
            kind = int(kinds[0])
            if kind == 0:
                return a
            b: np.ndarray = params[:, 2][picks]
            if kind == 3:
                result = self.np_rng.standard_normal(picks.size)
                result *= b
                result += a
                np.maximum(result, 0.0, out=result)
            elif kind == 1:
                result = a + (b - a) * self.np_rng.random(picks.size)
            else:
                result = -a * np.log1p(-self.np_rng.random(picks.size))
            return result
        kind_of = kinds[picks]
        b = params[:, 2][picks]
        u = self.np_rng.random(picks.size)
        out = a.copy()  # constant
        uniform = kind_of == 1
        out[uniform] = a[uniform] + (b[uniform] - a[uniform]) * u[uniform]
        exponential = kind_of == 2
        out[exponential] = -a[exponential] * np.log1p(-u[exponential])
        normal = kind_of == 3
        if normal.any():
            z = self.np_rng.standard_normal(int(normal.sum()))
            out[normal] = np.maximum(0.0, a[normal] + b[normal] * z)
        return out

    def _pod(self, backend: Backend, namespace: str) -> Pod | None:
        if backend.pod_name is None:
            return None
        pod = self.store.try_get(Pod, backend.pod_name, namespace)
        if pod is None or pod.metadata.uid != backend.pod_uid:
            return None  # gone, or a new pod of the same name
        return pod

    def _distribution(self, pod: Pod) -> Distribution | str:
        """The pod's latency, or why its behaviour does not parse (its requests
        fail with that reason; such a pod does not start anyway)."""
        uid = pod.metadata.uid
        dist = self._latency.get(uid)
        if dist is None:
            container = pod.spec.containers[0]
            try:
                behavior = resolve_behavior(
                    self.policy, container.image or "", container.name, pod.metadata.annotations
                )
            except BehaviorError as error:
                return f"pod {pod.metadata.name}: {error}"
            dist = self._latency[uid] = behavior.latency
        return dist


def answers(pod: Pod, now: datetime) -> bool:
    """Whether the pod's application answers now (see the module docstring)."""
    status = pod.status
    if status.phase != "Running":
        return False
    if not status.container_statuses or any(
        c.state.running is None for c in status.container_statuses
    ):
        return False
    deadline = pod.metadata.deletion_timestamp
    if deadline is not None:
        return now < deadline
    return is_pod_ready(pod)
