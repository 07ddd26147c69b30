"""`MetricsServer`: metrics-server in the process. Every metric resolution
(15 s on the injected clock) it scrapes every running kubelet's stats
(`Kubelet.pod_stats`: real processes for the process runtime, the usage
model for the simulated one) and serves the last round as metrics.k8s.io
PodMetrics and NodeMetrics, read only, through the store
(`Store.add_aggregated`), so `client.list(PodMetrics, ...)` and the HPA read
them like any kind.

A round keeps plain tuples per pod; the PodMetrics objects are built on
first read and kept until the next round (they are shared and immutable).
A pod's PodMetrics carries its labels (list by label selector works) and its
containers' cpu (millicores) and memory (working set bytes); a node's
NodeMetrics the sums. Kubelets that are stopped, crashed or partitioned are
not scraped (their pods have no metrics, as when metrics-server cannot reach
a node).

Neighbours: `runtime.kubelet.kubelet` (scraped), `engine.aggregated`,
`engine.api.metrics` (the kinds), `runtime.metrics.custom` (the custom and
external metrics beside it).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Final, NamedTuple

from engine.api.base import ObjectMeta, Resource
from engine.api.metrics import ContainerMetrics, NodeMetrics, PodMetrics
from engine.clock import Clock
from engine.quantity import Quantity, QuantityFormat
from engine.selectors import Selector
from runtime.kubelet.kubelet import Kubelet

__all__ = ["METRIC_RESOLUTION", "MetricsServer", "PodSample"]

METRIC_RESOLUTION: Final = 15.0


class PodSample(NamedTuple):
    """One pod's usage in one round: (container, cpu millicores, memory bytes)."""

    namespace: str
    name: str
    node: str
    labels: dict[str, str]
    containers: tuple[tuple[str, float, int], ...]

    @property
    def cpu_millicores(self) -> float:
        return sum(c[1] for c in self.containers)

    @property
    def memory_bytes(self) -> int:
        return sum(c[2] for c in self.containers)


# PodSample(...) without the named tuple's Python-level __new__ (one per pod a round).
_new_sample = functools.partial(tuple.__new__, PodSample)


def _cpu(millicores: float) -> Quantity:
    return Quantity.from_milli(int(millicores + 0.5))


def _memory(num_bytes: int) -> Quantity:
    return Quantity.from_int(num_bytes, QuantityFormat.BINARY_SI)


def _window(seconds: float) -> str:
    return f"{seconds:g}s"


class MetricsServer:
    """Scrapes kubelets every `resolution` seconds (see the module docstring)."""

    def __init__(
        self,
        kubelets: Callable[[], Iterable[Kubelet]],
        clock: Clock,
        *,
        resolution: float = METRIC_RESOLUTION,
    ) -> None:
        if resolution <= 0:
            raise ValueError(f"metric resolution must be > 0 seconds, got {resolution}")
        self.kubelets = kubelets
        self.clock = clock
        self.resolution = resolution
        self.timestamp: datetime | None = None
        self.pods: dict[tuple[str, str], PodSample] = {}
        self._by_namespace: dict[str, list[tuple[str, str]]] = {}
        self.nodes: dict[str, tuple[float, int]] = {}
        self.rounds = 0
        self._pod_objects: dict[tuple[str, str], PodMetrics] = {}
        self._node_objects: dict[str, NodeMetrics] = {}
        # Answers of this round by (kind, namespace, selector); a new round clears them.
        self._lists: dict[tuple[type[Resource], str | None, Selector | None], list[Resource]] = {}
        self._sorted: set[str | None] = set()

    # -- scraping ---------------------------------------------------------------------

    async def scrape(self) -> None:
        """One round over every reachable kubelet."""
        pods: dict[tuple[str, str], PodSample] = {}
        by_namespace: dict[str, list[tuple[str, str]]] = {}
        nodes: dict[str, tuple[float, int]] = {}
        for kubelet in self.kubelets():
            if kubelet.state != "running" or kubelet.partitioned:
                continue
            node = kubelet.node_name
            node_cpu = 0.0
            node_memory = 0
            for pod, stats in await kubelet.pod_stats():
                meta = pod.metadata
                namespace = meta.namespace
                key = (namespace, meta.name)
                # (name, cpu millicores, memory bytes) of each container
                if len(stats) == 1:
                    one = stats[0]
                    containers: tuple[tuple[str, float, int], ...] = ((one[1], one[3], one[4]),)
                else:
                    containers = tuple([(s[1], s[3], s[4]) for s in stats])
                pods[key] = _new_sample((namespace, meta.name, node, meta.labels, containers))
                keys = by_namespace.get(namespace)
                if keys is None:
                    by_namespace[namespace] = [key]
                else:
                    keys.append(key)
                for s in stats:
                    node_cpu += s[3]
                    node_memory += s[4]
            nodes[node] = (node_cpu, node_memory)
        self._publish(pods, by_namespace, nodes)

    def record_round(
        self, samples: Iterable[PodSample], nodes: Mapping[str, tuple[float, int]]
    ) -> None:
        """Serve `samples` (and per node (cpu millicores, memory bytes)) as this
        round's metrics, taken now: what `scrape` does with what it collected,
        open to a caller that measures usage its own way."""
        pods: dict[tuple[str, str], PodSample] = {}
        by_namespace: dict[str, list[tuple[str, str]]] = {}
        for sample in samples:
            key = (sample.namespace, sample.name)
            pods[key] = sample
            by_namespace.setdefault(sample.namespace, []).append(key)
        self._publish(pods, by_namespace, dict(nodes))

    def _publish(
        self,
        pods: dict[tuple[str, str], PodSample],
        by_namespace: dict[str, list[tuple[str, str]]],
        nodes: dict[str, tuple[float, int]],
    ) -> None:
        # Served sorted, as the store lists: each namespace is sorted when first
        # listed in a round (most rounds list a few namespaces, or none).
        self.pods = pods
        self._by_namespace = by_namespace
        self._sorted = set()
        self.nodes = nodes
        self.timestamp = self.clock.now()
        self.rounds += 1
        self._pod_objects = {}
        self._node_objects = {}
        self._lists = {}

    async def run(self) -> None:
        """Scrape now and then every `resolution` seconds, until cancelled."""
        while True:
            await self.scrape()
            await self.clock.sleep(self.resolution)

    # -- serving (engine.aggregated.AggregatedAPI) -------------------------------------

    def served_kinds(self) -> Sequence[type[Resource]]:
        return (PodMetrics, NodeMetrics)

    def _pod_metrics(self, key: tuple[str, str]) -> PodMetrics | None:
        obj = self._pod_objects.get(key)
        if obj is None:
            sample = self.pods.get(key)
            if sample is None:
                return None
            obj = PodMetrics(
                metadata=ObjectMeta(
                    name=sample.name,
                    namespace=sample.namespace,
                    labels=dict(sample.labels),
                    creation_timestamp=self.timestamp,
                ),
                timestamp=self.timestamp,
                window=_window(self.resolution),
                containers=[
                    ContainerMetrics(name=name, usage={"cpu": _cpu(cpu), "memory": _memory(mem)})
                    for name, cpu, mem in sample.containers
                ],
            )
            self._pod_objects[key] = obj
        return obj

    def _node_metrics(self, name: str) -> NodeMetrics | None:
        obj = self._node_objects.get(name)
        if obj is None:
            usage = self.nodes.get(name)
            if usage is None:
                return None
            obj = NodeMetrics(
                metadata=ObjectMeta(name=name, creation_timestamp=self.timestamp),
                timestamp=self.timestamp,
                window=_window(self.resolution),
                usage={"cpu": _cpu(usage[0]), "memory": _memory(usage[1])},
            )
            self._node_objects[name] = obj
        return obj

    def _pod_keys(self, namespace: str | None) -> list[tuple[str, str]]:
        if namespace is None:
            if None not in self._sorted:
                self.pods = dict(sorted(self.pods.items()))
                self._sorted.add(None)
            return list(self.pods)
        keys = self._by_namespace.get(namespace, [])
        if namespace not in self._sorted:
            keys.sort()
            self._sorted.add(namespace)
        return keys

    def get_object(self, kind: type[Resource], name: str, namespace: str) -> Resource | None:
        if kind is PodMetrics:
            return self._pod_metrics((namespace, name))
        if kind is NodeMetrics:
            return self._node_metrics(name)
        return None

    def list_objects(
        self, kind: type[Resource], namespace: str | None, selector: Selector | None
    ) -> list[Resource]:
        key = (kind, namespace, selector)
        cached = self._lists.get(key)
        if cached is not None:
            return cached  # the same round, the same question (every HPA sync asks)
        found: list[Resource] = []
        if kind is PodMetrics:
            keys = self._pod_keys(namespace)
            pods = self.pods
            for pod_key in keys:
                if selector is None or selector.matches(pods[pod_key].labels):
                    obj = self._pod_metrics(pod_key)
                    if obj is not None:
                        found.append(obj)
        elif kind is NodeMetrics:
            for name in sorted(self.nodes):
                node = self._node_metrics(name)
                if node is not None and (
                    selector is None or selector.matches(node.metadata.labels)
                ):
                    found.append(node)
        if len(self._lists) >= 100_000:
            self._lists.clear()
        self._lists[key] = found
        return found
