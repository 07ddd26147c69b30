"""The Handle: what a plugin may use besides the pod in front of it.

Every plugin factory receives one: the cache (columnar node table, pods per
node, per-node counters), the nominator, listers over informer caches
(namespaces, PodDisruptionBudgets, and the Services, ReplicaSets and
StatefulSets that default spread constraints derive from), the client, the
clock, the seeded RNG, a way to run background work (`spawn`), and the pods
waiting at Permit.

Listers default to "nothing there", so plugins run in tests without informers.

Neighbours: `controllers.scheduler.scheduler` builds the real one;
`controllers.scheduler.plugins` use it; tests build one with `Handle.for_tests`.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from controllers.scheduler.cache.cache import SchedulerCache
from controllers.scheduler.cache.snapshot import NodeTable
from controllers.scheduler.nominator import Nominator
from controllers.scheduler.status import Status
from engine.api import StorageClass
from engine.api.apps import ReplicaSet, StatefulSet
from engine.api.core import PersistentVolume, PersistentVolumeClaim, Service
from engine.api.policy import PodDisruptionBudget
from engine.client import Client
from engine.clock import Clock, RealClock

__all__ = ["Handle", "Listers", "WaitingPod", "WaitingPods"]

PodKey = tuple[str, str]


def _nothing(_namespace: str) -> list[Any]:
    return []


@dataclass(slots=True)
class Listers:
    """Read access to informer caches, by namespace."""

    namespace_labels: Callable[[str], Mapping[str, str] | None] = lambda _ns: None
    pdbs: Callable[[str], list[PodDisruptionBudget]] = _nothing
    services: Callable[[str], list[Service]] = _nothing
    replica_sets: Callable[[str], list[ReplicaSet]] = _nothing
    stateful_sets: Callable[[str], list[StatefulSet]] = _nothing
    workloads_version: Callable[[], int] = lambda: 0
    """Changes whenever a Service, ReplicaSet or StatefulSet is added or deleted,
    or its selector changes (memo key)."""
    claim: Callable[[str, str], PersistentVolumeClaim | None] = lambda _ns, _name: None
    """A PersistentVolumeClaim by (namespace, name)."""
    volume: Callable[[str], PersistentVolume | None] = lambda _name: None
    volumes: Callable[[], list[PersistentVolume]] = list
    storage_class: Callable[[str], StorageClass | None] = lambda _name: None
    csi_node: Callable[[str], Any] = lambda _name: None
    """A node's CSINode (schema-backed: `spec` is a mapping), or None."""


class WaitingPod:
    """A pod held at Permit until every waiting plugin allows it (or one rejects)."""

    def __init__(self, key: PodKey, plugins: set[str]) -> None:
        self.key = key
        self.pending = set(plugins)
        self.future: asyncio.Future[Status | None] = asyncio.get_running_loop().create_future()

    def allow(self, plugin: str) -> None:
        self.pending.discard(plugin)
        if not self.pending and not self.future.done():
            self.future.set_result(None)

    def reject(self, plugin: str, message: str) -> None:
        if not self.future.done():
            self.future.set_result(Status.unschedulable(message, plugin=plugin))


class WaitingPods:
    def __init__(self) -> None:
        self._pods: dict[PodKey, WaitingPod] = {}

    def add(self, pod: WaitingPod) -> None:
        self._pods[pod.key] = pod

    def remove(self, key: PodKey) -> None:
        self._pods.pop(key, None)

    def get(self, key: PodKey) -> WaitingPod | None:
        return self._pods.get(key)

    def __iter__(self) -> Any:
        return iter(list(self._pods.values()))


@dataclass
class Handle:
    cache: SchedulerCache
    nominator: Nominator = field(default_factory=Nominator)
    listers: Listers = field(default_factory=Listers)
    client: Client | None = None
    clock: Clock = field(default_factory=RealClock)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    spawn: Callable[[Coroutine[Any, Any, Any]], None] | None = None
    waiting_pods: WaitingPods = field(default_factory=WaitingPods)
    recorder: Any = None
    """An EventRecorder (`record(obj, type, reason, message)`), or None."""
    frameworks: dict[str, Any] = field(default_factory=dict)
    """scheduler name -> Framework, filled once the profiles are built (for
    plugins that run other plugins, like preemption)."""

    @property
    def table(self) -> NodeTable:
        return self.cache.table

    @classmethod
    def for_tests(cls, cache: SchedulerCache | None = None, **kwargs: Any) -> Handle:
        return cls(cache=cache or SchedulerCache(), **kwargs)
