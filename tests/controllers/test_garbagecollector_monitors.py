"""The collector's monitors: an update whose object has another uid (what a
relist shows for an object deleted and created again under its name while
events were lost) removes the old object from the graph, so its dependents
are looked at again."""

from __future__ import annotations

from controllers.garbagecollector.graph import DependencyGraph, Node
from controllers.garbagecollector.monitors import Monitors
from engine.api import core
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.informer import InformerFactory
from engine.registry import REGISTRY
from engine.store import Store
from tests.controllers.gc_support import configmap, owner_ref, running_cluster


async def test_an_update_to_another_uid_removes_the_old_owner(clock: VirtualClock) -> None:
    checked: list[str] = []
    graph = DependencyGraph(
        REGISTRY,
        attempt_to_delete=lambda node: checked.append(node.identity.name),
        attempt_to_orphan=lambda node: None,
    )
    store = Store(clock=clock)
    monitors = Monitors(
        InformerFactory(LocalClient(store), clock=clock), graph, REGISTRY, clock=clock
    )
    old_owner = store.create(configmap("owner"))
    dependent = store.create(configmap("dependent", owner_ref(old_owner)))
    graph.observe(old_owner)
    graph.observe(dependent)
    store.delete(core.ConfigMap, "owner", "default")
    new_owner = store.create(configmap("owner"))
    checked.clear()

    monitors._updated(old_owner, new_owner)

    assert old_owner.metadata.uid not in graph
    assert new_owner.metadata.uid in graph
    assert "dependent" in checked  # its owner is gone: it is checked for collection
    node: Node | None = graph.get(dependent.metadata.uid)
    assert node is not None


async def test_events_are_not_monitored(clock: VirtualClock) -> None:
    # Kubernetes' DefaultIgnoredResources: Events never own or are owned for
    # collection, and watching them would put every Event through the graph.
    async with running_cluster(clock) as c:
        assert core.Event not in c.gc.monitors.informers
        assert core.Pod in c.gc.monitors.informers
