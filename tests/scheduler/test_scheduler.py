"""The scheduler end to end on virtual time: binding, diagnostics (condition,
message, event), retries on cluster events without a tight loop, profiles,
custom plugins, determinism, statistics and per-plugin records."""

from __future__ import annotations

import random
from typing import Any

from controllers.scheduler.adapters import PerNodeFilter, PerNodeScore
from controllers.scheduler.algorithm import num_feasible_nodes_to_find
from controllers.scheduler.config import DEFAULT_PLUGINS, PluginSpec, Profile, SchedulerConfig
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.plugins.registry import default_registry
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Status
from engine.api import Event, Node, Pod
from engine.clock import VirtualClock
from tests.helpers import run_virtual
from tests.scheduler.builders import node, pod, running


def _events(store: Any, reason: str) -> list[Event]:
    return [e for e in store.list(Event).items if e.reason == reason]


async def test_pods_are_bound_and_spread_by_least_allocated(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a"), node("b"), node("c")]) as c:
        for i in range(6):
            await c.client.create(pod(f"p{i}", cpu="1"))
        await c.settle()
        placements = c.placements()
        assert all(placements.values())
        per_node = {n: list(placements.values()).count(n) for n in ("a", "b", "c")}
        assert per_node == {"a": 2, "b": 2, "c": 2}
        bound = c.store.get(Pod, "p0")
        condition = bound.status.condition("PodScheduled")
        assert condition is not None and condition.status == "True"
        assert len(_events(c.store, "Scheduled")) == 6
        stats = c.scheduler.statistics()
        assert (stats.scheduled, stats.attempts, stats.active, stats.assumed) == (6, 6, 0, 0)


async def test_unschedulable_pod_gets_condition_message_and_event(clock: VirtualClock) -> None:
    nodes = [
        node("a", cpu="1"),
        node("b", cpu="1"),
        node("gpu", cpu="8", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
    ]
    async with running(clock, nodes=nodes) as c:
        await c.client.create(pod("big", cpu="2"))
        await c.settle()
        p = c.store.get(Pod, "big")
        assert p.spec.node_name is None
        condition = p.status.condition("PodScheduled")
        assert condition is not None
        assert (condition.status, condition.reason) == ("False", "Unschedulable")
        assert condition.message == (
            "0/3 nodes are available: 1 node(s) had untolerated taint(s), "
            "2 Insufficient cpu. preemption: 0/3 nodes are available: "
            "3 Preemption is not helpful for scheduling.."
        )
        events = _events(c.store, "FailedScheduling")
        assert len(events) == 1 and events[0].type == "Warning"
        assert events[0].message == condition.message
        assert c.scheduler.statistics().unschedulable == 1


async def test_retried_when_a_fitting_node_arrives_not_in_a_tight_loop(
    clock: VirtualClock,
) -> None:
    async with running(clock, nodes=[node("small", cpu="1")]) as c:
        await c.client.create(pod("big", cpu="3"))
        await c.settle()
        assert c.scheduler.statistics().attempts == 1
        # Unrelated churn for a minute: pods come and go on the small node.
        for i in range(30):
            await c.client.create(pod(f"filler{i}", cpu="10m"))
            await c.clock.advance(1)
            await c.client.delete(Pod, f"filler{i}", grace_period_seconds=0)
            await c.clock.advance(1)
        # Pods leaving a 1-cpu node cannot make room for 3 cpu: no retry.
        assert c.scheduler.statistics().attempts - 30 == 1
        assert c.node_of("big") is None
        await c.client.create(node("large", cpu="8"))
        await c.clock.advance(11)
        assert c.node_of("big") == "large"


async def test_a_retry_per_helpful_event_not_a_tight_loop(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a", cpu="2")]) as c:
        await c.client.create(pod("hog", cpu="1500m"))
        await c.settle()
        await c.client.create(pod("waiting", cpu="1"))
        await c.settle(5)
        assert c.scheduler.statistics().attempts == 2  # hog, then waiting once
        # A pod leaving a node that could host it is worth one retry each.
        for i in range(3):
            await c.client.create(pod(f"brief{i}", cpu="10m"))
            await c.settle(1)
            await c.client.delete(Pod, f"brief{i}", grace_period_seconds=0)
            await c.settle(5)
        attempts = c.scheduler.statistics().attempts
        assert attempts == 2 + 3 + 3  # three briefs, one retry per deletion
        await c.client.delete(Pod, "hog", grace_period_seconds=0)
        await c.settle(1)
        assert c.node_of("waiting") == "a"


async def test_node_label_churn_does_not_retry_a_pod_blocked_on_cpu(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("small", cpu="1")]) as c:
        await c.client.create(pod("big", cpu="3"))
        await c.settle()
        for i in range(20):
            current = c.store.get(Node, "small")
            labels = {**current.metadata.labels, "tick": str(i)}
            await c.client.update(
                current.model_copy(
                    update={"metadata": current.metadata.model_copy(update={"labels": labels})}
                )
            )
            await c.clock.advance(3)
        assert c.scheduler.statistics().attempts == 1


async def test_pods_for_other_schedulers_are_left_alone(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a")]) as c:
        await c.client.create(pod("mine"))
        await c.client.create(pod("theirs", schedulerName="other-scheduler"))
        await c.settle()
        assert c.node_of("mine") == "a"
        assert c.node_of("theirs") is None
        assert c.store.get(Pod, "theirs").status.conditions == []


async def test_profiles_by_scheduler_name(clock: VirtualClock) -> None:
    packing = Profile(
        scheduler_name="bin-packer",
        plugin_args={"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}},
        disabled=frozenset({"NodeResourcesBalancedAllocation"}),
    )
    config = SchedulerConfig(profiles=(Profile(), packing))
    async with running(clock, nodes=[node("a"), node("b")], config=config) as c:
        await c.client.create(pod("seed", cpu="1", node_name="a"))
        await c.settle()
        for i in range(3):
            await c.client.create(pod(f"packed{i}", cpu="500m", schedulerName="bin-packer"))
            await c.settle()
        assert {c.node_of(f"packed{i}") for i in range(3)} == {"a"}
        await c.client.create(pod("spread", cpu="500m"))
        await c.settle()
        assert c.node_of("spread") == "b"


async def test_custom_plugins_per_node_filter_and_score(clock: VirtualClock) -> None:
    def even_only(p: PodInfo, n: Node) -> Status | None:
        return None if int(n.metadata.name[-1]) % 2 == 0 else Status.unschedulable("odd node")

    def prefer_high(p: PodInfo, n: Node) -> int:
        return int(n.metadata.name[-1]) * 10

    registry = {
        **default_registry(),
        "EvenOnly": lambda _args, h: PerNodeFilter("EvenOnly", even_only, h),
        "PreferHigh": lambda _args, h: PerNodeScore("PreferHigh", prefer_high, h),
    }
    profile = Profile(
        plugins=(*DEFAULT_PLUGINS, PluginSpec("EvenOnly"), PluginSpec("PreferHigh", weight=10))
    )
    nodes = [node(f"n{i}") for i in range(1, 6)]
    async with running(
        clock, nodes=nodes, config=SchedulerConfig(profiles=(profile,)), registry=registry
    ) as c:
        await c.client.create(pod("p"))
        await c.settle()
        assert c.node_of("p") == "n4"


async def test_scheduling_gates(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a")]) as c:
        created = await c.client.create(pod("g", schedulingGates=[{"name": "example.com/quota"}]))
        await c.settle(5)
        assert c.node_of("g") is None
        assert c.scheduler.statistics().gated == 1
        assert c.scheduler.statistics().attempts == 0
        current = c.store.get(Pod, "g")
        condition = current.status.condition("PodScheduled")
        assert condition is not None
        assert (condition.status, condition.reason, condition.message) == (
            "False",
            "SchedulingGated",
            "Scheduling is blocked due to non-empty scheduling gates",
        )
        # Not retried while gated: a flush of the unschedulable pool, cluster
        # events and unrelated updates leave it alone.
        await c.client.create(node("b"))
        labelled = current.model_copy(
            update={"metadata": current.metadata.model_copy(update={"labels": {"x": "y"}})}
        )
        await c.client.update(labelled)
        await c.settle(400)
        assert c.scheduler.statistics().attempts == 0
        assert not _events(c.store, "FailedScheduling")
        current = c.store.get(Pod, "g")
        await c.client.update(
            current.model_copy(
                update={"spec": current.spec.model_copy(update={"scheduling_gates": []})}
            )
        )
        await c.settle()
        assert c.node_of("g") in {"a", "b"}
        assert created.metadata.uid == c.store.get(Pod, "g").metadata.uid


class _FlakyBinder:
    """Fails the first bind of every pod, then lets DefaultBinder do it."""

    name = "FlakyBinder"

    def __init__(self, handle: Handle) -> None:
        self.failed: set[str] = set()

    async def bind(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        if pod.name in self.failed:
            return Status.skip()
        self.failed.add(pod.name)
        return Status.error("injected bind failure")


async def test_a_failed_bind_forgets_the_assumption_and_requeues(clock: VirtualClock) -> None:
    registry = {**default_registry(), "FlakyBinder": lambda _a, h: _FlakyBinder(h)}
    plugins = tuple(p for p in DEFAULT_PLUGINS if p.name != "DefaultBinder")
    profile = Profile(plugins=(*plugins, PluginSpec("FlakyBinder"), PluginSpec("DefaultBinder")))
    config = SchedulerConfig(profiles=(profile,))
    async with running(clock, nodes=[node("a", cpu="1")], config=config, registry=registry) as c:
        await c.client.create(pod("p", cpu="800m"))
        await c.clock.advance(0.1)
        stats = c.scheduler.statistics()
        assert stats.bind_failures == 1 and stats.assumed == 0
        # The assumption was forgotten: the node's cpu is free again.
        assert c.scheduler.cache.table.requested[0, 0] == 0
        await c.clock.advance(2)
        assert c.node_of("p") == "a"
        assert c.scheduler.statistics().scheduled == 1


def _placements(seed: int) -> dict[str, str | None]:
    async def scenario(clock: VirtualClock) -> dict[str, str | None]:
        nodes = [node(f"n{i}", cpu=str(2 + i % 3), labels={"zone": f"z{i % 3}"}) for i in range(12)]
        async with running(clock, nodes=nodes, seed=seed) as c:
            rng = random.Random(99)
            for i in range(40):
                labels = {"app": rng.choice(["web", "db", "cache"])}
                spec: dict[str, Any] = {}
                if i % 4 == 0:
                    spec["topologySpreadConstraints"] = [
                        {
                            "maxSkew": 1,
                            "topologyKey": "zone",
                            "whenUnsatisfiable": "ScheduleAnyway",
                            "labelSelector": {"matchLabels": labels},
                        }
                    ]
                await c.client.create(
                    pod(f"p{i}", cpu=rng.choice(["100m", "250m", "500m"]), labels=labels, **spec)
                )
                if i % 7 == 0:
                    await c.clock.advance(0.1)
            await c.settle(2)
            return c.placements()

    return run_virtual(scenario)


def test_same_seed_same_placements() -> None:
    first = _placements(5)
    assert first == _placements(5)
    assert all(first.values())


async def test_statistics_and_per_plugin_records(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a", cpu="1"), node("b")]) as c:
        c.scheduler.record(("default", "p"))
        await c.client.create(pod("p", cpu="2"))
        await c.settle()
        record = c.scheduler.records[("default", "p")]
        assert record.selected_node == "b"
        assert record.filter["NodeResourcesFit"] == {"a": "Insufficient cpu", "b": "passed"}
        assert set(record.score) >= {"NodeResourcesFit", "NodeResourcesBalancedAllocation"}
        assert record.final_score["b"] > record.final_score.get("a", -1)
        stats = c.scheduler.statistics()
        assert stats.scheduled == 1 and stats.cycle_p99_ms >= stats.cycle_p50_ms >= 0


def test_percentage_of_nodes_to_score_defaults() -> None:
    assert num_feasible_nodes_to_find(0, 50) == 50
    assert num_feasible_nodes_to_find(0, 500) == 230  # 50 - 500/125 = 46 %
    assert num_feasible_nodes_to_find(0, 5000) == 500  # 10 %
    assert num_feasible_nodes_to_find(0, 20_000) == 1000  # floor of 5 %
    assert num_feasible_nodes_to_find(10, 500) == 100  # at least 100
    assert num_feasible_nodes_to_find(100, 5000) == 5000


async def test_percentage_of_nodes_to_score_limits_scored_nodes(clock: VirtualClock) -> None:
    nodes = [node(f"n{i:03d}") for i in range(200)]
    config = SchedulerConfig(percentage_of_nodes_to_score=50)
    async with running(clock, nodes=nodes, config=config) as c:
        c.scheduler.record(("default", "p"))
        await c.client.create(pod("p"))
        await c.settle()
        # recording filters every node, but only 100 of 200 feasible ones are scored
        assert len(c.scheduler.records[("default", "p")].final_score) == 100


async def test_default_spreading_applies_to_pods_selected_by_a_service(
    clock: VirtualClock,
) -> None:
    from engine.api import Service
    from engine.manifests import parse_object

    nodes = [node("big", cpu="64"), node("small1"), node("small2")]
    async with running(clock, nodes=nodes) as c:
        for i in range(3):
            await c.client.create(pod(f"lonely{i}", labels={"app": "lonely"}))
            await c.settle(0.1)
        # LeastAllocated alone keeps choosing the big node.
        assert {c.node_of(f"lonely{i}") for i in range(3)} == {"big"}
        service = parse_object(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            }
        )
        assert isinstance(service, Service)
        await c.client.create(service)
        await c.settle(0.1)
        for i in range(3):
            await c.client.create(pod(f"web{i}", labels={"app": "web"}))
            await c.settle(0.1)
        # The system default constraints (hostname maxSkew 3, zone maxSkew 5,
        # ScheduleAnyway) over the Service's selector spread them out.
        assert len({c.node_of(f"web{i}") for i in range(3)}) >= 2


async def test_default_spreading_follows_a_service_selector_change(clock: VirtualClock) -> None:
    from engine.api import Service
    from engine.manifests import parse_object

    nodes = [node("big", cpu="64"), node("small1"), node("small2")]
    async with running(clock, nodes=nodes) as c:
        service = parse_object(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            }
        )
        assert isinstance(service, Service)
        stored = await c.client.create(service)
        await c.settle(0.1)
        for i in range(3):
            await c.client.create(pod(f"web{i}", labels={"app": "web"}))
            await c.settle(0.1)
        assert len({c.node_of(f"web{i}") for i in range(3)}) >= 2
        # A status write keeps the defaults; a new selector that no longer
        # covers the pods drops them, and LeastAllocated alone picks the big node.
        await c.client.update_status(
            stored.model_copy(
                update={"status": stored.status.model_copy(update={"conditions": []})}
            )
        )
        current = await c.client.get(Service, "web", namespace="default")
        spec = current.spec.model_copy(update={"selector": {"app": "other"}})
        await c.client.update(current.model_copy(update={"spec": spec}))
        await c.settle(0.1)
        for i in range(3):
            await c.client.create(pod(f"more{i}", labels={"app": "web"}))
            await c.settle(0.1)
        assert {c.node_of(f"more{i}") for i in range(3)} == {"big"}


class _Gatekeeper:
    """Permit: holds every pod until allowed; Reserve: counts reservations."""

    name = "Gatekeeper"

    def __init__(self, handle: Handle) -> None:
        self.handle = handle
        self.reserved: list[str] = []
        self.unreserved: list[str] = []

    def reserve(self, state: CycleState, pod: PodInfo, node: str) -> Status | None:
        self.reserved.append(pod.name)
        return None

    def unreserve(self, state: CycleState, pod: PodInfo, node: str) -> None:
        self.unreserved.append(pod.name)

    def permit(self, state: CycleState, pod: PodInfo, node: str) -> tuple[Status | None, float]:
        return Status.wait("waiting for the gatekeeper"), 30.0


async def test_permit_wait_allow_and_timeout(clock: VirtualClock) -> None:
    keeper: list[_Gatekeeper] = []

    def make(_args: Any, handle: Handle) -> _Gatekeeper:
        keeper.append(_Gatekeeper(handle))
        return keeper[0]

    registry = {**default_registry(), "Gatekeeper": make}
    profile = Profile(plugins=(*DEFAULT_PLUGINS, PluginSpec("Gatekeeper")))
    config = SchedulerConfig(profiles=(profile,))
    async with running(clock, nodes=[node("a")], config=config, registry=registry) as c:
        await c.client.create(pod("held"))
        await c.client.create(pod("forgotten"))
        await c.settle(1)
        assert c.node_of("held") is None
        # Assumed meanwhile: the node's resources are counted.
        assert c.scheduler.statistics().assumed == 2
        waiting = c.scheduler.handle.waiting_pods.get(("default", "held"))
        assert waiting is not None
        waiting.allow("Gatekeeper")
        await c.settle(1)
        assert c.node_of("held") == "a"
        await c.settle(30)  # "forgotten" times out at Permit: unreserved, unschedulable
        assert "forgotten" in keeper[0].unreserved
        assert c.node_of("forgotten") is None
        stats = c.scheduler.statistics()
        assert (stats.assumed, stats.unschedulable) == (0, 1)
        condition = c.store.get(Pod, "forgotten").status.condition("PodScheduled")
        assert condition is not None and condition.message is not None
        assert "timeout after waiting 30s at permit" in condition.message
        # The Gatekeeper registers no events, so any event may let it in again.
        await c.client.create(node("b"))
        await c.settle(0.1)
        assert c.scheduler.statistics().assumed == 1


async def test_a_pod_recreated_under_its_name_is_scheduled_after_missed_events(
    clock: VirtualClock,
) -> None:
    """A StatefulSet re-creates a pod under the same name. When the informer
    missed the old pod's deletion and the new one's creation (a relist), it
    reports an update from the old (bound) pod to the new (unbound) one: the
    scheduler must forget the old pod and schedule the new one."""
    from controllers.scheduler.handlers import EventHandlers

    async with running(clock, nodes=[node("a")]) as c:
        await c.client.create(pod("web-0", cpu="1"))
        await c.settle()
        old = c.store.get(Pod, "web-0")
        assert old.spec.node_name == "a"
        await c.client.delete(Pod, "web-0", grace_period_seconds=0)
        new = await c.client.create(pod("web-0", cpu="1"))
        await c.settle()
        # Replay what a relist across both events would have reported.
        placed = c.store.get(Pod, "web-0")
        handlers = EventHandlers(c.scheduler)
        handlers.pod_deleted(placed)  # back to: the cache holds the old pod only
        handlers.pod_added(old)
        handlers.pod_updated(old, new)
        key = ("default", "web-0")
        assert key not in c.scheduler.cache.pods  # the old pod no longer holds node a
        assert key in c.scheduler.queue


async def test_an_idle_scheduler_does_not_tick(clock: VirtualClock) -> None:
    # Housekeeping has nothing to do with no assumed and no unschedulable
    # pod: a virtual hour of idleness must not cost 3,600 wake-ups.
    async with running(clock, nodes=[node("a")]) as c:
        ticks = 0
        cleanup = c.scheduler.cache.cleanup_expired

        def counted(now: float) -> list[Any]:
            nonlocal ticks
            ticks += 1
            return cleanup(now)

        c.scheduler.cache.cleanup_expired = counted  # type: ignore[method-assign]
        await c.clock.advance(3600)
        assert ticks == 0
        await c.client.create(pod("p"))
        await c.settle()
        await c.clock.advance(3600)
        assert c.node_of("p") == "a"
        assert ticks <= 2  # until the bound pod's assumption was confirmed


async def test_a_pod_unschedulable_for_five_minutes_is_retried(clock: VirtualClock) -> None:
    # Kubernetes' flushUnschedulablePodsLeftover: every 30 s, pods that have
    # waited longer than 5 minutes go back to the queue, without any event.
    async with running(clock, nodes=[node("small", cpu="1")]) as c:
        await c.client.create(pod("big", cpu="3"))
        await c.settle()
        assert c.scheduler.statistics().attempts == 1
        await c.clock.advance(299)
        assert c.scheduler.statistics().attempts == 1
        await c.clock.advance(31)
        assert c.scheduler.statistics().attempts == 2
