"""The scheduling queue: PrioritySort order, backoff 1 s doubling to 10 s,
the unschedulable pool with queueing hints, scheduling gates, the 5-minute
flush."""

from __future__ import annotations

from typing import Any

from controllers.scheduler.cluster_events import (
    ASSIGNED_POD,
    NODE,
    Action,
    ClusterEvent,
    EventRegistration,
)
from controllers.scheduler.plugins.priority_sort import PrioritySort
from controllers.scheduler.plugins.scheduling_gates import SchedulingGates
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.queue import SchedulingQueue
from engine.api import Pod
from engine.clock import VirtualClock
from engine.store import Store
from tests.scheduler.builders import pod


def _queue(clock: VirtualClock, registrations: Any = ()) -> SchedulingQueue:
    return SchedulingQueue(
        clock,
        sort_key=PrioritySort().sort_key,
        pre_enqueue=SchedulingGates().pre_enqueue,
        registrations=registrations,
    )


def _stored(store: Store, p: Pod) -> PodInfo:
    return PodInfo.of(store.create(p))


async def test_priority_then_creation_order(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    q = _queue(clock)
    low_old = _stored(store, pod("low-old", priority=1))
    await clock.advance(1)
    high = _stored(store, pod("high", priority=100))
    await clock.advance(1)
    low_new = _stored(store, pod("low-new", priority=1))
    for info in (low_new, high, low_old):
        q.add(info)
    order = [(await q.pop()).info.name for _ in range(3)]
    assert order == ["high", "low-old", "low-new"]


async def test_backoff_doubles_from_one_to_ten_seconds(clock: VirtualClock) -> None:
    q = _queue(clock)
    assert [q.backoff_seconds(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    store = Store(clock=clock)
    q.add(_stored(store, pod("p")))
    qpod = await q.pop()
    q.requeue_error(qpod)  # attempt 1 failed: 1 s
    assert q.where(qpod.key) == "backoff"
    await clock.advance(0.9)
    assert q.where(qpod.key) == "backoff"
    await clock.advance(0.2)
    assert q.where(qpod.key) == "active"
    qpod = await q.pop()
    q.requeue_error(qpod)  # attempt 2: 2 s
    await clock.advance(1.5)
    assert q.where(qpod.key) == "backoff"
    await clock.advance(0.6)
    assert q.where(qpod.key) == "active"


def _fit_hint(pod: PodInfo, _old: Any, new: Any) -> bool:
    return new is not None and new.metadata.name == "big-enough"


async def test_events_move_only_the_pods_they_may_help(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    registrations = [
        ("NodeResourcesFit", EventRegistration(ClusterEvent(NODE, Action.ADD), _fit_hint)),
        ("InterPodAffinity", EventRegistration(ClusterEvent(ASSIGNED_POD, Action.ADD))),
    ]
    q = _queue(clock, registrations)
    q.add(_stored(store, pod("needs-cpu")))
    q.add(_stored(store, pod("needs-peer")))
    cpu = await q.pop()
    peer = await q.pop()
    q.add_unschedulable(cpu, {"NodeResourcesFit"})
    q.add_unschedulable(peer, {"InterPodAffinity"})
    assert q.statistics().unschedulable == 2

    # A pod was bound somewhere: only the affinity-blocked pod may care.
    assert q.on_event(ClusterEvent(ASSIGNED_POD, Action.ADD), None, object()) == 1
    assert q.where(peer.key) == "backoff"
    assert q.where(cpu.key) == "unschedulable"

    class _Node:
        class metadata:
            name = "too-small"

    assert q.on_event(ClusterEvent(NODE, Action.ADD), None, _Node()) == 0
    _Node.metadata.name = "big-enough"
    assert q.on_event(ClusterEvent(NODE, Action.ADD), None, _Node()) == 1
    assert q.where(cpu.key) == "backoff"  # still backing off from its attempt
    await clock.advance(1.1)
    assert q.where(cpu.key) == "active"


async def test_unschedulable_pods_are_flushed_after_five_minutes(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    q = _queue(clock)
    q.add(_stored(store, pod("p")))
    qpod = await q.pop()
    q.add_unschedulable(qpod, {"NodeResourcesFit"})
    await clock.advance(299)
    assert q.flush_unschedulable_leftover() == 0
    await clock.advance(2)
    assert q.flush_unschedulable_leftover() == 1
    assert q.where(qpod.key) == "active"


async def test_scheduling_gates_hold_a_pod_until_removed(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    q = _queue(clock)
    gated = store.create(pod("g", schedulingGates=[{"name": "example.com/wait"}]))
    q.add(PodInfo.of(gated))
    assert q.where(("default", "g")) == "gated"
    assert q.pop_nowait() is None
    opened = gated.model_copy(
        update={"spec": gated.spec.model_copy(update={"scheduling_gates": []})}
    )
    q.update(gated, PodInfo.of(opened))
    assert q.where(("default", "g")) == "active"


async def test_status_only_updates_do_not_move_unschedulable_pods(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    q = _queue(clock)
    p = store.create(pod("p"))
    q.add(PodInfo.of(p))
    qpod = await q.pop()
    q.add_unschedulable(qpod, {"NodeResourcesFit"})
    touched = p.model_copy(update={"status": p.status.model_copy(update={"message": "x"})})
    q.update(p, PodInfo.of(touched))
    assert q.where(qpod.key) == "unschedulable"
    relabelled = p.model_copy(
        update={"metadata": p.metadata.model_copy(update={"labels": {"new": "label"}})}
    )
    q.update(p, PodInfo.of(relabelled))
    assert q.where(qpod.key) == "backoff"


async def test_deleted_pods_leave_every_part_of_the_queue(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    q = _queue(clock)
    q.add(_stored(store, pod("a")))
    q.add(_stored(store, pod("b")))
    b = await q.pop()
    q.add_unschedulable(b, {"X"})
    q.delete(("default", "a"))
    q.delete(("default", "b"))
    assert len(q) == 0
    assert q.pop_nowait() is None


async def test_backing_off_pods_pop_at_once_when_nothing_else_waits(clock: VirtualClock) -> None:
    # Kubernetes' SchedulerPopFromBackoffQ: backoff never idles the scheduler,
    # but pods backing off after an error wait their full backoff.
    store = Store(clock=clock)
    registrations = [("NodeResourcesFit", EventRegistration(ClusterEvent(NODE, Action.ADD)))]
    q = _queue(clock, registrations)
    q.add(_stored(store, pod("unlucky")))
    q.add(_stored(store, pod("broken")))
    unlucky = await q.pop()
    broken = await q.pop()
    q.add_unschedulable(unlucky, {"NodeResourcesFit"})
    q.requeue_error(broken)
    q.on_event(ClusterEvent(NODE, Action.ADD), None, object())
    assert q.where(unlucky.key) == q.where(broken.key) == "backoff"
    again = q.pop_nowait()
    assert again is not None and again.key == unlucky.key and again.attempts == 2
    assert q.pop_nowait() is None  # the errored pod waits out its second
    await clock.advance(1.1)
    assert q.where(broken.key) == "active"
