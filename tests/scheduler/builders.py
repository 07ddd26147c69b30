"""Test support for the scheduler: node and pod builders, a plugin harness
over a bare cache (no informers), and a running store + manager + scheduler
on the virtual clock."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from controllers.scheduler.cache.cache import SchedulerCache
from controllers.scheduler.config import PluginFactory, Profile, SchedulerConfig
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.framework import Framework
from controllers.scheduler.handle import Handle, Listers
from controllers.scheduler.plugins.registry import default_registry
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.scheduler import Scheduler
from controllers.scheduler.window import Window
from engine.api import Node, Pod
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "32Gi",
    pods: str = "110",
    labels: Mapping[str, str] | None = None,
    taints: list[dict[str, Any]] | None = None,
    unschedulable: bool = False,
    images: list[dict[str, Any]] | None = None,
    extra: Mapping[str, str] | None = None,
) -> Node:
    capacity = {"cpu": cpu, "memory": memory, "pods": pods, **(extra or {})}
    spec: dict[str, Any] = {"taints": taints or []}
    if unschedulable:
        spec["unschedulable"] = True
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": name,
                "labels": {"kubernetes.io/hostname": name, **(labels or {})},
            },
            "spec": spec,
            "status": {
                "capacity": capacity,
                "allocatable": capacity,
                "images": images or [],
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    )
    assert isinstance(obj, Node)
    return obj


def pod(
    name: str,
    *,
    cpu: str | None = "100m",
    memory: str | None = "128Mi",
    namespace: str = "default",
    labels: Mapping[str, str] | None = None,
    node_name: str | None = None,
    image: str = "registry.k8s.io/pause:3.10",
    host_port: int | None = None,
    extra_requests: Mapping[str, str] | None = None,
    **spec: Any,
) -> Pod:
    requests: dict[str, str] = {}
    if cpu is not None:
        requests["cpu"] = cpu
    if memory is not None:
        requests["memory"] = memory
    requests.update(extra_requests or {})
    container: dict[str, Any] = {
        "name": "main",
        "image": image,
        "resources": {"requests": requests},
    }
    if host_port is not None:
        container["ports"] = [{"containerPort": 8080, "hostPort": host_port}]
    body: dict[str, Any] = {"containers": [container], **spec}
    if node_name is not None:
        body["nodeName"] = node_name
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(labels or {})},
            "spec": body,
        }
    )
    assert isinstance(obj, Pod)
    return obj


@dataclass
class Harness:
    """A cache and a framework with the default plugins, without informers:
    plugins are called directly."""

    cache: SchedulerCache
    handle: Handle
    framework: Framework
    store: Store

    def add_nodes(self, *nodes: Node) -> None:
        for n in nodes:
            self.cache.add_node(n)

    def add_pods(self, *pods: Pod) -> None:
        """Assigned pods (spec.nodeName set), stored first so they carry uids."""
        for p in pods:
            assert p.spec.node_name, "harness pods must be assigned"
            stored = self.store.create(p)
            self.cache.add_pod(stored)

    def info(self, p: Pod) -> PodInfo:
        return PodInfo.of(p)

    def slot(self, name: str) -> int:
        return self.cache.table.slot_of[name]

    def filter(self, plugin: str, p: Pod | PodInfo) -> dict[str, str]:
        """node -> "ok" or the reasons `plugin` gives, over every node."""
        info = p if isinstance(p, PodInfo) else self.info(p)
        plug = self.framework.plugins[plugin]
        state = CycleState()
        table = self.cache.table
        pre = getattr(plug, "pre_filter", None)
        if pre is not None:
            result = pre(state, info)
            if result is not None and getattr(result, "is_skip", False):
                return {n: "ok" for n in sorted(table.slot_of)}
        window = Window.range(0, table.size)
        mask = plug.filter(state, info, window)
        out = {}
        for slot in range(table.size):
            name = table.names[slot]
            if not table.valid[slot]:
                continue
            if mask is None or mask[slot]:
                out[name] = "ok"
            else:
                codes, statuses = plug.explain(state, info, Window.of([slot]).slots)
                status = statuses[int(codes[0])]
                out[name] = f"{status.code.name}: {status.message()}"
        return out

    def scores(
        self, plugin: str, p: Pod | PodInfo, nodes: list[str] | None = None
    ) -> tuple[dict[str, int], dict[str, int]]:
        """(raw, normalised) scores of `plugin` on `nodes` (default: all)."""
        info = p if isinstance(p, PodInfo) else self.info(p)
        plug = self.framework.plugins[plugin]
        table = self.cache.table
        names = nodes or sorted(table.slot_of, key=lambda n: table.slot_of[n])
        slots = Window.of([table.slot_of[n] for n in names]).slots
        state = CycleState()
        pre_filter = getattr(plug, "pre_filter", None)
        if pre_filter is not None:
            pre_filter(state, info)
        pre = getattr(plug, "pre_score", None)
        if pre is not None:
            status = pre(state, info, slots)
            if status is not None and status.is_skip:
                return dict.fromkeys(names, 0), dict.fromkeys(names, 0)
        raw = plug.score(state, info, slots)
        if isinstance(raw, int):
            return dict.fromkeys(names, raw), dict.fromkeys(names, raw)
        normalize = getattr(plug, "normalize_score", None)
        normalized = normalize(state, info, raw) if normalize is not None else raw
        return (
            dict(zip(names, (int(x) for x in raw), strict=True)),
            dict(zip(names, (int(x) for x in normalized), strict=True)),
        )


def harness(
    profile: Profile | None = None,
    *,
    listers: Listers | None = None,
    registry: Mapping[str, PluginFactory] | None = None,
) -> Harness:
    cache = SchedulerCache()
    handle = Handle.for_tests(cache, listers=listers or Listers(), rng=random.Random(0))
    framework = Framework(profile or Profile(), registry or default_registry(), handle)
    handle.frameworks[framework.scheduler_name] = framework
    return Harness(cache, handle, framework, Store())


@dataclass
class Running:
    store: Store
    client: LocalClient
    manager: Manager
    scheduler: Scheduler
    clock: VirtualClock

    async def settle(self, seconds: float = 0.5) -> None:
        await self.clock.advance(seconds)

    def node_of(self, name: str, namespace: str = "default") -> str | None:
        return self.store.get(Pod, name, namespace).spec.node_name

    def placements(self) -> dict[str, str | None]:
        return {
            f"{p.metadata.namespace}/{p.metadata.name}": p.spec.node_name
            for p in self.store.list(Pod).items
        }


@asynccontextmanager
async def running(
    clock: VirtualClock,
    *,
    nodes: list[Node] | None = None,
    config: SchedulerConfig | None = None,
    registry: Mapping[str, PluginFactory] | None = None,
    seed: int = 0,
    setup: Callable[[Store], None] | None = None,
) -> AsyncIterator[Running]:
    store = Store(clock=clock, rng=random.Random(seed))
    if setup is not None:
        setup(store)
    for n in nodes or []:
        store.create(n)
    client = LocalClient(store)
    manager = Manager(client, clock=clock, rng=random.Random(seed + 1))
    scheduler = Scheduler(
        client,
        manager.factory,
        clock=clock,
        rng=random.Random(seed + 2),
        config=config,
        registry=registry,
    )
    manager.add_runnable(scheduler.run)
    async with manager:
        yield Running(store, client, manager, scheduler, clock)
