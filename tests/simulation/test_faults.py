"""Every fault kind has the effect runtime/simulation/faults.py documents, seen
in a small simulation: through a hosted controller's informer cache and
client, the store, the nodes and the containers. Also: schedules are plain
data that round-trip, and bad faults are refused."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from engine.api import ConfigMap, Namespace, Node, ObjectMeta, Pod
from engine.errors import Conflict, InternalError, NotFound, ServerTimeout
from engine.informer import EventHandler, SharedInformer
from engine.manager import Manager
from engine.manifests import parse_object
from runtime.cluster import NodePool
from runtime.simulation import Simulation, SimulationConfig
from runtime.simulation.chaos import FaultyClient
from runtime.simulation.faults import (
    ALL_FAULT_KINDS,
    FAULT_CLASSES,
    ContainerCrash,
    ControllerCrash,
    Fault,
    FaultSchedule,
    NodeCrash,
    NodePartition,
    NodeSlowStart,
    StaleReads,
    WatchDelay,
    WatchDrop,
    WatchDuplicate,
    WatchGone,
    WatchReorder,
    WriteErrors,
    expand_fault_classes,
    fault_from_data,
)
from tests.simulation.builders import EVERY_FAULT_CLASS

NODE = "node-0"


def _config(*faults: Fault, **changes: Any) -> SimulationConfig:
    values: dict[str, Any] = {
        "node_pools": (NodePool(count=1),),
        "controllers": ("scheduler", "replicaset"),
        "fault_kinds": frozenset(f.kind for f in faults),
        "faults": faults,
    }
    values.update(changes)
    return SimulationConfig(**values)


def _pod(name: str, node: str | None = None) -> Pod:
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": "10m"}}}],
    }
    if node is not None:
        spec["nodeName"] = node
    obj = parse_object(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}
    )
    assert isinstance(obj, Pod)
    return obj


def _pod_cache(sim: Simulation) -> SharedInformer[Pod]:
    """The Pod informer of the hosted replicaset controller (its current incarnation)."""
    informer: SharedInformer[Pod] = sim.hosts["replicaset"].controller_object.pods
    return informer


def _cached(sim: Simulation, name: str) -> bool:
    return _pod_cache(sim).cache.get(name, "default") is not None


def _arrivals(sim: Simulation) -> dict[str, float]:
    """When each pod first reaches the replicaset controller's cache, from now on."""
    arrivals: dict[str, float] = {}

    def added(pod: Pod) -> None:
        arrivals.setdefault(pod.metadata.name, sim.now())

    _pod_cache(sim).add_event_handler(EventHandler(add=added))
    return arrivals


def _client(sim: Simulation) -> FaultyClient:
    client = sim.hosts["replicaset"].client
    assert client is not None
    return client


# -- watch faults ---------------------------------------------------------------------


async def test_watch_delay_holds_events_back_for_the_delay() -> None:
    fault = WatchDelay(at=0, duration=100, delay=5.0, controller="replicaset", informer="Pod")
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=10)
        await sim.client.create(_pod("late"))
        await sim.run_until(timeout=4.9)
        assert not _cached(sim, "late")
        await sim.run_until(timeout=0.2)
        assert _cached(sim, "late")


async def test_watch_delay_holds_each_event_of_a_stream_for_the_delay_not_more() -> None:
    fault = WatchDelay(at=0, duration=100, delay=5.0, controller="replicaset", informer="Pod")
    async with Simulation(_config(fault, controllers=("replicaset",))) as sim:
        await sim.run_until(at=10)
        arrivals = _arrivals(sim)
        created: dict[str, float] = {}
        for n in range(8):
            created[f"p{n}"] = sim.now()
            await sim.client.create(_pod(f"p{n}"))
            await sim.run_until(timeout=1)
        await sim.run_until(timeout=6)
        lags = [round(arrivals[name] - at, 6) for name, at in created.items()]
        assert lags == [5.0] * 8


async def test_watch_drop_loses_events_until_the_relist_when_it_ends() -> None:
    fault = WatchDrop(at=0, duration=30, probability=1.0, controller="replicaset", informer="Pod")
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        await sim.client.create(_pod("lost"))
        relists = _pod_cache(sim).statistics().relists
        await sim.run_until(at=29.5)
        assert not _cached(sim, "lost")  # the watch resumed past it: never delivered
        await sim.run_until(at=31)
        assert _cached(sim, "lost")
        assert _pod_cache(sim).statistics().relists == relists + 1
        assert sim.injector is not None and sim.injector.counts["watch_drop"] >= 1


async def test_watch_duplicate_delivers_events_twice() -> None:
    fault = WatchDuplicate(at=0, duration=100, probability=1.0, controller="replicaset")
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        seen: list[str] = []
        _pod_cache(sim).add_event_handler(
            EventHandler(
                add=lambda p: seen.append(f"add {p.metadata.name}"),
                update=lambda old, new: seen.append(f"update {new.metadata.name}"),
            )
        )
        await sim.client.create(_pod("twice"))
        await sim.run_until(timeout=0.1)
        # The informer hears of the same write twice (the second as an update).
        assert [s for s in seen if s.endswith("twice")][:2] == ["add twice", "update twice"]


async def test_watch_reorder_makes_informers_see_changes_late_and_in_another_order() -> None:
    fault = WatchReorder(at=0, duration=100, jitter=10.0, controller="replicaset", informer="Pod")
    async with Simulation(_config(fault, controllers=("replicaset",))) as sim:
        await sim.run_until(at=5)
        arrivals = _arrivals(sim)
        created: dict[str, float] = {}
        for name in ("p0", "p1", "p2", "p3", "p4"):
            await sim.client.create(_pod(name))
            created[name] = sim.now()
            await sim.run_until(timeout=3)
        await sim.run_until(timeout=11)
        assert set(arrivals) == set(created)
        lags = [arrivals[n] - created[n] for n in created]
        assert all(0 <= lag <= 10 for lag in lags) and max(lags) > 0.1, (lags, arrivals, created)
        # The events of this informer keep their order; relative to the writes
        # (what other informers see at once), they arrive in batches, late.
        assert sorted(arrivals, key=lambda n: arrivals[n]) == list(created)


async def test_watch_gone_ends_the_watch_and_with_relist_forces_a_list() -> None:
    faults = (
        WatchGone(at=10, controller="replicaset", informer="Pod"),
        WatchGone(at=20, relist=True, controller="replicaset", informer="Pod"),
    )
    async with Simulation(_config(*faults)) as sim:
        await sim.run_until(at=5)
        before = _pod_cache(sim).statistics()
        await sim.run_until(at=15)
        resumed = _pod_cache(sim).statistics()
        assert resumed.resumes == before.resumes + 1
        assert resumed.relists == before.relists  # a plain Gone resumes the watch
        await sim.run_until(at=25)
        assert _pod_cache(sim).statistics().relists == before.relists + 1


async def test_watch_gone_with_relist_recovers_events_a_drop_lost() -> None:
    faults = (
        WatchDrop(at=0, duration=1000, probability=1.0, controller="replicaset", informer="Pod"),
        WatchGone(at=20, relist=True, controller="replicaset", informer="Pod"),
    )
    async with Simulation(_config(*faults)) as sim:
        await sim.run_until(at=5)
        await sim.client.create(_pod("lost"))
        await sim.run_until(at=19)
        assert not _cached(sim, "lost")
        await sim.run_until(at=21)
        assert _cached(sim, "lost")


# -- stale reads --------------------------------------------------------------------


async def test_stale_reads_of_scope_all_serve_direct_reads_from_the_past() -> None:
    fault = StaleReads(at=0, duration=100, lag_revisions=5, scope="all", controller="replicaset")
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        await sim.client.create(_pod("fresh"))
        with pytest.raises(NotFound):
            await _client(sim).get(Pod, "fresh", namespace="default")
        listed = await _client(sim).list(Pod, namespace="default")
        assert listed.resource_version < sim.store.revision
        assert "fresh" not in [p.metadata.name for p in listed.items]
        for n in range(5):  # the store moves on: the lagging reads catch up
            meta = ObjectMeta(name=f"cm-{n}", namespace="default")
            await sim.client.create(ConfigMap(metadata=meta))
        assert (await _client(sim).get(Pod, "fresh", namespace="default")).metadata.name == "fresh"
        # Another controller reads the present.
        assert await sim.hosts["scheduler"].client.get(Pod, "fresh", namespace="default")  # type: ignore[union-attr]


async def test_stale_reads_lagging_past_the_start_serve_the_cluster_it_started_as() -> None:
    fault = StaleReads(at=0, duration=100, lag_seconds=60, lag_revisions=500, scope="all")
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=2)
        await sim.client.create(_pod("fresh"))
        client = _client(sim)
        namespaces = await client.list(Namespace)
        assert {n.metadata.name for n in namespaces.items} >= {"default", "kube-system"}
        assert (await client.get(Node, NODE)).metadata.name == NODE
        with pytest.raises(NotFound):
            await client.get(Pod, "fresh", namespace="default")


async def test_stale_reads_of_scope_cache_keep_direct_reads_current() -> None:
    fault = StaleReads(at=0, duration=100, lag_revisions=5, controller="replicaset")
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        # On a node that does not exist: no binding, no kubelet and no Events
        # follow its creation, only heartbeats, so the lag holds for a while.
        await sim.client.create(_pod("fresh", node="elsewhere"))
        assert (await _client(sim).get(Pod, "fresh", namespace="default")).metadata.name == "fresh"
        await sim.run_until(timeout=0.01)
        assert not _cached(sim, "fresh")  # its watch lags 5 revisions
        await sim.run_until(timeout=31)
        assert _cached(sim, "fresh")


async def test_stale_reads_with_reconnect_take_the_cache_back_in_time() -> None:
    fault = StaleReads(at=20, duration=100, lag_seconds=15, reconnect=True, controller="replicaset")
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=8)
        await sim.client.create(_pod("p"))
        await sim.run_until(at=19)
        before = _pod_cache(sim).last_revision
        assert _cached(sim, "p")
        await sim.run_until(at=20.5)
        # Relisted from the store as it was 15 s ago, before the pod was created:
        # resourceVersion went backwards, and the pod is gone from the cache.
        assert _pod_cache(sim).last_revision < before
        assert not _cached(sim, "p")


# -- write errors -------------------------------------------------------------------


def _cm(name: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace="default"), data={"v": "1"})


async def test_write_error_timeout_commits_the_write_but_the_client_gets_an_error() -> None:
    fault = WriteErrors(at=0, duration=100, probability=1.0, errors=("timeout",))
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        with pytest.raises(ServerTimeout):
            await _client(sim).create(_cm("committed"))
        assert sim.store.try_get(ConfigMap, "committed", "default") is not None


async def test_write_error_server_error_writes_nothing() -> None:
    fault = WriteErrors(at=0, duration=100, probability=1.0, errors=("server_error",))
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        revision = sim.store.revision
        with pytest.raises(InternalError):
            await _client(sim).create(_cm("refused"))
        assert sim.store.try_get(ConfigMap, "refused", "default") is None
        assert sim.store.revision == revision or "refused" not in "".join(sim.trace.lines)


async def test_write_error_conflict_refuses_updates_and_spares_creates() -> None:
    fault = WriteErrors(at=10, duration=100, probability=1.0, errors=("conflict",))
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        created = await _client(sim).create(_cm("cm"))
        await sim.run_until(at=15)
        with pytest.raises(Conflict):
            await _client(sim).update(created.model_copy(update={"data": {"v": "2"}}))
        assert sim.store.get(ConfigMap, "cm", "default").data == {"v": "1"}
        # A create cannot conflict: the fault has nothing else to inject.
        assert (await _client(sim).create(_cm("cm2"))).metadata.name == "cm2"


async def test_write_errors_outside_their_window_do_nothing() -> None:
    fault = WriteErrors(at=50, duration=10, probability=1.0)
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        assert (await _client(sim).create(_cm("early"))).metadata.name == "early"
        await sim.run_until(at=61)
        assert (await _client(sim).create(_cm("late"))).metadata.name == "late"


# -- controller crash ---------------------------------------------------------------


class TwoWrites:
    """Writes ConfigMaps `<incarnation>-first` and `<incarnation>-second`, in one
    go, numbering itself from memory that only a fresh process loses."""

    instances: list[TwoWrites] = []

    def __init__(self, manager: Manager) -> None:
        self.number = len(TwoWrites.instances) + 1
        TwoWrites.instances.append(self)
        self.client = manager.client
        self.clock = manager.clock
        manager.add_runnable(self.run)

    async def run(self) -> None:
        await self.clock.sleep(5)
        await self.client.create(_cm(f"{self.number}-first"))
        await self.client.create(_cm(f"{self.number}-second"))


async def test_controller_crash_between_two_writes_restarts_it_with_fresh_memory() -> None:
    TwoWrites.instances = []
    fault = ControllerCrash(at=1, controller="two", after_writes=1, restart_after=10)
    config = _config(fault, controllers=("two",), custom_controllers={"two": TwoWrites})
    async with Simulation(config) as sim:
        await sim.run_until(at=10)
        names = {c.metadata.name for c in sim.store.objects(ConfigMap)}
        assert "1-first" in names and "1-second" not in names  # crashed in between
        assert not sim.hosts["two"].running
        await sim.run_until(at=30)
        names = {c.metadata.name for c in sim.store.objects(ConfigMap)}
        assert {"2-first", "2-second"} <= names and "1-second" not in names
        host = sim.hosts["two"]
        assert host.incarnation == 2 and host.restarts == 1
        assert TwoWrites.instances[0] is not TwoWrites.instances[1]
        assert sim.injector is not None and sim.injector.counts["controller_crash"] == 1


async def test_controller_crash_at_once_stops_every_call_of_the_incarnation() -> None:
    fault = ControllerCrash(at=10, controller="replicaset", after_writes=0, restart_after=5)
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=9)
        first = sim.hosts["replicaset"].controller_object
        await sim.run_until(at=11)
        assert not sim.hosts["replicaset"].running
        await sim.run_until(at=16)
        assert sim.hosts["replicaset"].running
        assert sim.hosts["replicaset"].controller_object is not first
        assert sim.hosts["scheduler"].incarnation == 1  # the others run on


# -- node faults --------------------------------------------------------------------


async def test_node_crash_takes_the_node_down_for_its_duration() -> None:
    fault = NodeCrash(at=10, duration=20, node=NODE)
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=9)
        assert sim.node_up(NODE)
        await sim.run_until(at=11)
        assert not sim.node_up(NODE)
        assert sim.cluster.kubelet(NODE).state != "running"
        await sim.run_until(at=31)
        assert sim.node_up(NODE)


async def test_node_partition_cuts_the_kubelet_off_for_its_duration() -> None:
    fault = NodePartition(at=10, duration=20, node=NODE)
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=11)
        kubelet = sim.cluster.kubelet(NODE)
        assert kubelet.partitioned and kubelet.state == "running"
        assert not sim.node_up(NODE)
        await sim.run_until(at=31)
        assert not kubelet.partitioned and sim.node_up(NODE)


async def _start_time(*faults: Fault) -> float:
    """Virtual seconds a pod bound to the node at t=5 takes to run."""
    async with Simulation(_config(*faults)) as sim:
        await sim.run_until(at=5)
        await sim.client.create(_pod("slow", node=NODE))

        def running() -> bool:
            return sim.store.get(Pod, "slow", "default").status.phase == "Running"

        assert await sim.run_until(running, timeout=120)
        return sim.now() - 5


async def test_node_slow_start_delays_containers_by_the_latency() -> None:
    normal = await _start_time()
    slow = await _start_time(NodeSlowStart(at=0, duration=100, node=NODE, latency=30))
    assert slow >= 30 > normal


async def test_container_crash_kills_running_containers() -> None:
    fault = ContainerCrash(at=20, node=NODE, count=1)
    async with Simulation(_config(fault)) as sim:
        await sim.run_until(at=5)
        await sim.client.create(_pod("victim", node=NODE))
        await sim.run_until(at=19)
        pod = sim.store.get(Pod, "victim", "default")
        assert pod.status.phase == "Running"
        assert pod.status.container_statuses[0].restart_count == 0
        await sim.run_until(at=40)
        pod = sim.store.get(Pod, "victim", "default")
        assert pod.status.container_statuses[0].restart_count == 1
        assert sim.injector is not None and sim.injector.counts["container_crash"] == 1


# -- as data ------------------------------------------------------------------------


def test_a_schedule_round_trips_through_plain_data() -> None:
    schedule = FaultSchedule(faults=EVERY_FAULT_CLASS)
    data = schedule.to_data()
    assert all(isinstance(item, dict) and "kind" in item for item in data)
    assert FaultSchedule.from_data(data) == schedule
    assert [fault_from_data(item) for item in data] == list(EVERY_FAULT_CLASS)
    assert {f.kind for f in schedule.faults} == set(ALL_FAULT_KINDS)
    assert schedule.end == 50.0 and len(schedule) == len(ALL_FAULT_KINDS)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"kind": "watch_teleport"}, "watch_teleport"),
        ({"kind": "watch_delay", "delay": 0}, "greater than 0"),
        ({"kind": "watch_drop", "probability": 1.5}, "less than or equal to 1"),
        ({"kind": "stale_reads"}, "needs lag_revisions or lag_seconds"),
        ({"kind": "write_errors", "probability": 0.5, "errors": []}, "at least one of"),
        ({"kind": "write_errors", "probability": 0.5, "errors": ["oops"]}, "conflict"),
        ({"kind": "controller_crash"}, "controller"),
        ({"kind": "node_crash", "node": "n", "at": -1}, "greater than or equal to 0"),
        ({"kind": "node_crash", "node": "n", "nodes": 2}, "Extra inputs"),
    ],
)
def test_a_bad_fault_is_refused_naming_what_is_wrong(data: dict[str, Any], says: str) -> None:
    with pytest.raises(ValidationError, match=says):
        fault_from_data(data)


def test_fault_classes_expand_to_kinds() -> None:
    assert expand_fault_classes(["all"]) == frozenset(ALL_FAULT_KINDS)
    assert expand_fault_classes(["none", ""]) == frozenset()
    assert expand_fault_classes(["node", "watch_drop"]) == frozenset(
        (*FAULT_CLASSES["node"], "watch_drop")
    )
    with pytest.raises(ValueError, match="unknown fault class 'nodes'"):
        expand_fault_classes(["nodes"])


async def test_exemptions_spare_a_controller_an_effect() -> None:
    faults = (
        WriteErrors(at=0, duration=100, probability=1.0, errors=("timeout", "server_error")),
        WatchDrop(at=0, duration=100, probability=1.0, informer="Pod"),
    )
    spared = {"replicaset": frozenset({"write_errors:timeout", "watch_drop"})}
    async with Simulation(_config(*faults, exemptions=spared)) as sim:
        await sim.run_until(at=5)
        await sim.client.create(_pod("seen"))
        await sim.run_until(timeout=0.1)
        assert _cached(sim, "seen")  # spared the drop
        for _ in range(5):  # spared the timeouts: only server errors are left
            with pytest.raises(InternalError):
                await _client(sim).create(_cm("never"))
        # The scheduler is not spared: its Pod informer lost the event.
        assert sim.injector is not None and sim.injector.counts["watch_drop"] >= 1
