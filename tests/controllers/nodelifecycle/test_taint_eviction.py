"""Taint-based eviction and orphaned pods."""

from __future__ import annotations

from typing import Any

from controllers.nodelifecycle import (
    NodeLifecycleConfig,
    matching_tolerations,
    min_toleration_seconds,
)
from engine.api import core
from engine.clock import VirtualClock
from tests.controllers.nodelifecycle.fakes import World, world


def taint(w: World, node: str, *taints: core.Taint) -> None:
    current = w.node(node)
    w.store.update(
        current.model_copy(
            update={"spec": current.spec.model_copy(update={"taints": list(taints)})}
        )
    )


def terminating(w: World, name: str) -> bool:
    pod = w.pod(name)
    return pod is None or pod.metadata.deletion_timestamp is not None


DEDICATED = core.Taint(key="dedicated", value="db", effect="NoExecute")


def tolerate(seconds: int | None = None) -> dict[str, Any]:
    toleration: dict[str, Any] = {
        "key": "dedicated",
        "operator": "Equal",
        "value": "db",
        "effect": "NoExecute",
    }
    if seconds is not None:
        toleration["tolerationSeconds"] = seconds
    return {"tolerations": [toleration]}


async def test_pod_without_matching_toleration_is_evicted_at_once(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_pod("plain", "n1")
        await clock.advance(1)
        taint(w, "n1", DEDICATED)
        await clock.advance(0.5)
        assert terminating(w, "plain")
        pod = w.pod("plain")
        assert pod is not None
        condition = pod.status.condition("DisruptionTarget")
        assert condition is not None and condition.reason == "DeletionByTaintManager"


async def test_pod_is_evicted_when_its_toleration_seconds_run_out(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_pod("sixty", "n1", **tolerate(60))
        w.add_pod("forever", "n1", **tolerate())
        await clock.advance(1)
        taint(w, "n1", DEDICATED)
        await clock.advance(59.5)
        assert not terminating(w, "sixty")
        await clock.advance(1)
        assert terminating(w, "sixty")
        await clock.advance(3600)
        assert not terminating(w, "forever")


async def test_removed_taint_cancels_the_eviction(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_pod("sixty", "n1", **tolerate(60))
        await clock.advance(1)
        taint(w, "n1", DEDICATED)
        await clock.advance(30)
        taint(w, "n1")
        await clock.advance(600)
        assert not terminating(w, "sixty")


async def test_unreachable_node_pods_go_after_the_default_300_seconds(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_node("n2")
        w.add_pod("p", "n1")  # admission adds the 300 s not-ready/unreachable tolerations
        await clock.advance(1)
        w.stop("n1")
        await clock.advance(60)  # Unknown and tainted by now
        tainted = next(t.time_added for t in w.node("n1").spec.taints if t.effect == "NoExecute")
        assert tainted is not None
        while not terminating(w, "p"):
            await clock.advance(1)
        pod = w.pod("p")
        assert pod is not None and pod.metadata.deletion_timestamp is not None
        # deleted 300 s after the taint, with the pod's 30 s grace period on top
        waited = (pod.metadata.deletion_timestamp - tainted).total_seconds() - 30
        assert 300 <= waited <= 301


async def test_orphaned_pods_are_force_deleted_after_the_quarantine(clock: VirtualClock) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        w.add_pod("orphan", "n1")
        await clock.advance(1)
        w.stop("n1")
        w.store.delete(core.Node, "n1")
        await clock.advance(39)
        assert w.pod("orphan") is not None
        await clock.advance(25)  # quarantine 40 s, checked every 20 s
        assert w.pod("orphan") is None


def _finish(w: World, name: str, phase: str) -> None:
    pod = w.pod(name)
    assert pod is not None
    w.store.update_status(
        pod.model_copy(update={"status": pod.status.model_copy(update={"phase": phase})})
    )


async def test_finished_pods_beyond_the_threshold_are_deleted_oldest_first(
    clock: VirtualClock,
) -> None:
    async with world(clock, NodeLifecycleConfig(terminated_pod_gc_threshold=2)) as w:
        w.add_node("n1")
        for i in range(6):
            w.add_pod(f"p{i}", "n1")
            await clock.advance(1)
        for i, phase in enumerate(("Succeeded", "Failed", "Succeeded", "Succeeded")):
            _finish(w, f"p{i}", phase)
        await clock.advance(21)
        assert [n for n in ("p0", "p1", "p2", "p3", "p4", "p5") if w.pod(n) is not None] == [
            "p2",
            "p3",
            "p4",
            "p5",
        ]
        _finish(w, "p4", "Failed")
        await clock.advance(21)
        assert w.pod("p2") is None and w.pod("p3") is not None and w.pod("p4") is not None


async def test_an_unscheduled_pod_being_deleted_is_failed_and_force_deleted(
    clock: VirtualClock,
) -> None:
    async with world(clock) as w:
        w.add_node("n1")
        held = w.add_pod("held", "")
        w.store.update(
            held.model_copy(
                update={"metadata": held.metadata.model_copy(update={"finalizers": ["x/hold"]})}
            )
        )
        w.store.delete(core.Pod, "held", "default")
        await clock.advance(21)
        pod = w.pod("held")
        assert pod is not None and pod.status.phase == "Failed"
        condition = pod.status.condition("DisruptionTarget")
        assert condition is not None and condition.reason == "DeletionByPodGC"
        assert condition.message == "PodGC: unscheduled pod being deleted"


def test_toleration_matching() -> None:
    taints = [core.Taint(key="a", effect="NoExecute"), core.Taint(key="b", effect="NoExecute")]
    everything = core.Toleration(operator="Exists")
    only_a = core.Toleration(key="a", operator="Exists", toleration_seconds=30)
    assert matching_tolerations(taints, [only_a]) is None
    used = matching_tolerations(taints, [only_a, everything])
    assert used is not None
    assert min_toleration_seconds(used) == 30
    assert min_toleration_seconds([everything]) == float("inf")
