"""Node lifecycle controller: heartbeats, Unknown, taints and their rate limits."""

from __future__ import annotations

from controllers.nodelifecycle import NodeLifecycleConfig
from controllers.nodelifecycle.health import zone_state
from engine.clock import VirtualClock
from tests.controllers.nodelifecycle.fakes import World, world

UNREACHABLE_NS = ("node.kubernetes.io/unreachable", "NoSchedule")
UNREACHABLE_NE = ("node.kubernetes.io/unreachable", "NoExecute")
NOT_READY_NS = ("node.kubernetes.io/not-ready", "NoSchedule")
NOT_READY_NE = ("node.kubernetes.io/not-ready", "NoExecute")


def ready(w: World, name: str) -> str:
    condition = w.node(name).status.condition("Ready")
    assert condition is not None
    return condition.status


async def test_renewed_lease_keeps_a_node_ready_without_status_posts(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        await clock.advance(600)
        assert ready(w, "n1") == "True"
        assert w.taints("n1") == set()


async def test_silent_node_becomes_unknown_after_the_grace_period(clock: VirtualClock) -> None:
    async with world(clock) as w:
        for name in ("n1", "n2", "n3"):
            w.add_node(name)
        w.add_pod("p", "n1")
        await clock.advance(30)  # last renewal at 30
        w.stop("n1")
        await clock.advance(49)  # 79: within 50 s of the last renewal
        assert ready(w, "n1") == "True"
        await clock.advance(7)  # a monitor pass (every 5 s) after 80 sees it
        condition = w.node("n1").status.condition("Ready")
        assert condition is not None and condition.status == "Unknown"
        assert condition.reason == "NodeStatusUnknown"
        assert condition.message == "Kubelet stopped posting node status."
        assert all(
            c.status == "Unknown"
            for c in w.node("n1").status.conditions
            if c.type in ("MemoryPressure", "DiskPressure", "PIDPressure")
        )
        assert w.taints("n1") == {UNREACHABLE_NS, UNREACHABLE_NE}
        pod = w.pod("p")
        assert pod is not None and not pod.is_ready
        assert ready(w, "n2") == "True" and w.taints("n2") == set()


async def test_not_ready_node_gets_not_ready_taints(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_node("n2")
        await clock.advance(1)
        w.post_ready("n1", "False")
        await clock.advance(6)
        assert w.taints("n1") == {NOT_READY_NS, NOT_READY_NE}


async def test_taints_go_when_the_node_comes_back(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_node("n2")
        w.stop("n1")
        await clock.advance(70)
        assert UNREACHABLE_NE in w.taints("n1")
        w.resume("n1")
        await clock.advance(6)
        assert ready(w, "n1") == "True"
        assert w.taints("n1") == set()


async def test_no_execute_tainting_is_rate_limited_per_zone(clock: VirtualClock) -> None:
    async with world(clock) as w:
        for i in range(10):
            w.add_node(f"n{i}")
        w.add_node("other", zone="z2")
        await clock.advance(1)
        for i in range(3):
            w.post_ready(f"n{i}", "False")
        tainted_at: dict[str, float] = {}
        for _ in range(400):
            await clock.advance(0.1)
            for i in range(3):
                name = f"n{i}"
                if name not in tainted_at and NOT_READY_NE in w.taints(name):
                    tainted_at[name] = clock.monotonic()
            if len(tainted_at) == 3:
                break
        times = sorted(tainted_at.values())
        # NoSchedule at once; NoExecute at 0.1 nodes/s: the first at once, then every 10 s.
        assert [round(t - times[0]) for t in times] == [0, 10, 20]
        assert all(NOT_READY_NS in w.taints(f"n{i}") for i in range(3))


async def test_partially_disrupted_small_zone_stops_no_execute_tainting(
    clock: VirtualClock,
) -> None:
    async with world(clock) as w:
        for i in range(5):
            w.add_node(f"n{i}")
        w.add_node("elsewhere", zone="z2")
        await clock.advance(1)
        for i in range(3):  # 3 of 5 (60 % >= 55 %, more than 2) in a zone of <= 50 nodes
            w.stop(f"n{i}")
        await clock.advance(120)
        for i in range(3):
            assert w.taints(f"n{i}") == {UNREACHABLE_NS}
        stats = w.controllers.lifecycle.statistics()
        assert stats.zones[""] == "PartialDisruption"


async def test_all_nodes_down_pauses_no_execute_tainting(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_node("n2")
        await clock.advance(1)
        w.stop("n1")
        w.stop("n2")
        await clock.advance(120)
        assert w.taints("n1") == {UNREACHABLE_NS}
        assert w.controllers.lifecycle.statistics().master_disruption


async def test_node_that_never_posted_gets_the_startup_grace_period(clock: VirtualClock) -> None:
    config = NodeLifecycleConfig()
    async with world(clock, config) as w:
        w.add_node("ok")
        w.add_node("silent")
        node = w.node("silent")
        w.stop("silent")
        w.store.update_status(
            node.model_copy(update={"status": node.status.model_copy(update={"conditions": []})})
        )
        await clock.advance(55)
        assert w.node("silent").status.condition("Ready") is None
        await clock.advance(10)
        condition = w.node("silent").status.condition("Ready")
        assert condition is not None and condition.reason == "NodeStatusNeverUpdated"


def test_zone_states() -> None:
    assert zone_state(0, 3, 0.55) == "FullDisruption"
    assert zone_state(2, 3, 0.55) == "PartialDisruption"
    assert zone_state(8, 2, 0.55) == "Normal"  # never partial with 2 or fewer down
    assert zone_state(10, 3, 0.55) == "Normal"
