"""SimulatedRuntime: containers as timers, following their behaviour policy."""

from __future__ import annotations

import random

import pytest

from engine.clock import VirtualClock
from runtime.runtimes.behavior import (
    BehaviorError,
    ContainerBehavior,
    Distribution,
    SimulationPolicy,
    Timeline,
    parse_duration,
    resolve_behavior,
)
from runtime.runtimes.protocol import (
    ContainerConfig,
    ContainerEvent,
    ContainerRuntime,
    ContainerRuntimeError,
    PodSandboxConfig,
    ProbeAction,
)
from runtime.runtimes.simulated import SimulatedRuntime

HTTP = ProbeAction("httpGet", port=80)


def sandbox(uid: str = "u1", **annotations: str) -> PodSandboxConfig:
    return PodSandboxConfig(
        pod_uid=uid,
        name="web",
        namespace="default",
        hostname="web",
        pod_ip="10.0.0.2",
        annotations={f"sim.kubeloop.io/{k.replace('_', '-')}": v for k, v in annotations.items()},
    )


def make(
    clock: VirtualClock, policy: SimulationPolicy | None = None
) -> tuple[SimulatedRuntime, list[ContainerEvent]]:
    runtime = SimulatedRuntime(clock=clock, rng=random.Random(1), policy=policy)
    events: list[ContainerEvent] = []
    runtime.set_event_listener(events.append)
    return runtime, events


def test_satisfies_the_protocol(clock: VirtualClock) -> None:
    assert isinstance(SimulatedRuntime(clock=clock), ContainerRuntime)


async def test_default_container_starts_after_half_a_second_and_keeps_running(
    clock: VirtualClock,
) -> None:
    runtime, events = make(clock)
    await runtime.run_pod_sandbox(sandbox())
    status = await runtime.create_container("u1", ContainerConfig(name="c", image="nginx"))
    assert status.state == "waiting" and status.reason == "ContainerCreating"
    await runtime.start_container("u1", "c")
    await clock.advance(0.4)
    assert events == []
    await clock.advance(0.2)
    assert [e.status.state for e in events] == ["running"]
    await clock.advance(3600)
    current = await runtime.container_status("u1", "c")
    assert current is not None and current.state == "running"
    assert (await runtime.run_probe("u1", "c", "readiness", HTTP)).ok


async def test_exit_after_with_code_from_annotations(clock: VirtualClock) -> None:
    runtime, events = make(clock)
    await runtime.run_pod_sandbox(sandbox(exit_after="5s", exit_code="3", start_latency="0s"))
    await runtime.create_container("u1", ContainerConfig(name="c"))
    await runtime.start_container("u1", "c")
    await clock.advance(5.0)
    last = events[-1].status
    assert (last.state, last.exit_code, last.reason) == ("terminated", 3, "Error")
    assert last.started_at is not None and last.finished_at is not None
    assert (last.finished_at - last.started_at).total_seconds() == pytest.approx(5.0)


async def test_container_specific_annotation_wins(clock: VirtualClock) -> None:
    annotations = {
        "sim.kubeloop.io/exit-after": "10s",
        "sim.kubeloop.io/side.exit-after": "never",
    }
    policy = SimulationPolicy(images={"busybox": {"exit-after": "1s"}})
    assert resolve_behavior(policy, "busybox:1.36", "main", {}).exit_after == Distribution(
        "constant", 1.0
    )
    assert resolve_behavior(policy, "busybox:1.36", "main", annotations).exit_after == (
        Distribution("constant", 10.0)
    )
    assert resolve_behavior(policy, "busybox", "side", annotations).exit_after is None


async def test_sigterm_exits_cleanly_or_is_killed_after_grace(clock: VirtualClock) -> None:
    runtime, _ = make(clock)
    await runtime.run_pod_sandbox(sandbox(start_latency="0s"))
    await runtime.run_pod_sandbox(sandbox("u2", start_latency="0s", shutdown_after="never"))
    for uid in ("u1", "u2"):
        await runtime.create_container(uid, ContainerConfig(name="c"))
        await runtime.start_container(uid, "c")
    await clock.advance(1)
    await runtime.stop_container("u1", "c", 30)
    await runtime.stop_container("u2", "c", 30)
    s1 = await runtime.container_status("u1", "c")
    assert s1 is not None and (s1.state, s1.exit_code) == ("terminated", 0)
    await clock.advance(29)
    s2 = await runtime.container_status("u2", "c")
    assert s2 is not None and s2.state == "running"
    await runtime.stop_container("u2", "c", 5)  # a shorter grace period moves SIGKILL earlier
    await clock.advance(5)
    s2 = await runtime.container_status("u2", "c")
    assert s2 is not None and (s2.state, s2.exit_code, s2.signal) == ("terminated", 137, 9)


async def test_restart_keeps_previous_logs_and_requires_termination(clock: VirtualClock) -> None:
    runtime, _ = make(clock)
    await runtime.run_pod_sandbox(sandbox(start_latency="0s", exit_after="1s", exit_code="1"))
    await runtime.create_container("u1", ContainerConfig(name="c", image="app"))
    await runtime.start_container("u1", "c")
    with pytest.raises(ContainerRuntimeError):
        await runtime.create_container("u1", ContainerConfig(name="c", attempt=1))
    await clock.advance(2)
    await runtime.create_container("u1", ContainerConfig(name="c", image="app", attempt=1))
    previous = [line async for line in runtime.logs("u1", "c", previous=True)]
    assert previous[-1] == "exiting with code 1"
    assert [line async for line in runtime.logs("u1", "c")] == []


async def test_probe_timelines_and_ready_after(clock: VirtualClock) -> None:
    runtime, _ = make(clock)
    await runtime.run_pod_sandbox(
        sandbox(start_latency="0s", ready_after="10s", liveness_probe="success,30s=failure")
    )
    await runtime.create_container("u1", ContainerConfig(name="c"))
    assert not (await runtime.run_probe("u1", "c", "readiness", HTTP)).ok  # not running yet
    await runtime.start_container("u1", "c")
    await clock.advance(5)
    assert not (await runtime.run_probe("u1", "c", "readiness", HTTP)).ok
    await clock.advance(5)
    assert (await runtime.run_probe("u1", "c", "readiness", HTTP)).ok
    assert (await runtime.run_probe("u1", "c", "liveness", HTTP)).ok
    await clock.advance(20)
    assert not (await runtime.run_probe("u1", "c", "liveness", HTTP)).ok


async def test_bad_annotation_fails_the_start_with_a_clear_message(clock: VirtualClock) -> None:
    runtime, events = make(clock)
    await runtime.run_pod_sandbox(sandbox(exit_after="soon"))
    await runtime.create_container("u1", ContainerConfig(name="c"))
    await runtime.start_container("u1", "c")
    status = events[-1].status
    assert (status.state, status.reason, status.exit_code) == ("terminated", "StartError", 128)
    assert status.message is not None and "sim.kubeloop.io/exit-after" in status.message


async def test_init_containers_complete_by_default(clock: VirtualClock) -> None:
    runtime, events = make(clock)
    await runtime.run_pod_sandbox(sandbox())
    await runtime.create_container("u1", ContainerConfig(name="init", init=True))
    await runtime.start_container("u1", "init")
    await clock.advance(1)
    assert [(e.status.state, e.status.exit_code) for e in events] == [
        ("running", None),
        ("terminated", 0),
    ]


async def test_usage_profile_and_cumulative_cpu(clock: VirtualClock) -> None:
    runtime, _ = make(clock)
    await runtime.run_pod_sandbox(sandbox(start_latency="0s", cpu="100m,10s=500m", memory="64Mi"))
    await runtime.create_container("u1", ContainerConfig(name="c"))
    await runtime.start_container("u1", "c")
    await clock.advance(20)
    (stats,) = await runtime.stats()
    assert stats.cpu_millicores == 500
    assert stats.cpu_usage_core_seconds == pytest.approx(0.1 * 10 + 0.5 * 10)
    assert stats.memory_working_set_bytes == 64 * 1024 * 1024


async def test_follow_logs_until_the_container_exits(clock: VirtualClock) -> None:
    runtime, _ = make(clock)
    await runtime.run_pod_sandbox(sandbox(start_latency="1s", exit_after="2s"))
    await runtime.create_container("u1", ContainerConfig(name="c", image="app"))
    await runtime.start_container("u1", "c")
    lines = [line async for line in runtime.logs("u1", "c", follow=True)]
    assert lines == ["started app (attempt 0)", "exiting with code 0"]
    assert clock.monotonic() == pytest.approx(3.0)


async def test_same_seed_same_samples(clock: VirtualClock) -> None:
    async def run() -> list[float]:
        runtime = SimulatedRuntime(clock=clock, rng=random.Random(7))
        times: list[float] = []
        runtime.set_event_listener(lambda e: times.append(clock.monotonic()))
        await runtime.run_pod_sandbox(sandbox(start_latency="uniform(1s,5s)"))
        for i in range(5):
            await runtime.create_container("u1", ContainerConfig(name=f"c{i}"))
            await runtime.start_container("u1", f"c{i}")
        await clock.advance(6)
        start = times[0] - min(times)
        return [t - min(times) + start for t in times]

    first = await run()
    assert await run() == pytest.approx(first, abs=1e-9)


def test_parsers_reject_bad_input() -> None:
    assert parse_duration("1m30s") == 90
    assert parse_duration("250ms") == 0.25
    with pytest.raises(BehaviorError):
        parse_duration("-1")
    with pytest.raises(BehaviorError):
        Timeline.parse("success,failure", bool)
    with pytest.raises(BehaviorError, match="unknown simulation field"):
        ContainerBehavior().overridden({"exit-afterr": "1s"})


async def test_crash_probability_and_crash_timing(clock: VirtualClock) -> None:
    runtime, events = make(clock)
    await runtime.run_pod_sandbox(
        sandbox(start_latency="0s", crash_probability="1", crash_after="7s", crash_exit_code="2")
    )
    await runtime.create_container("u1", ContainerConfig(name="c"))
    await runtime.start_container("u1", "c")
    await clock.advance(10)
    last = events[-1].status
    assert (last.state, last.exit_code, last.reason) == ("terminated", 2, "Error")
    assert last.started_at is not None and last.finished_at is not None
    assert (last.finished_at - last.started_at).total_seconds() == pytest.approx(7.0)


async def test_kill_node_drops_everything_without_events(clock: VirtualClock) -> None:
    runtime, events = make(clock)
    await runtime.run_pod_sandbox(sandbox(start_latency="0s"))
    await runtime.create_container("u1", ContainerConfig(name="c"))
    await runtime.start_container("u1", "c")
    await clock.advance(1)
    seen = len(events)
    runtime.kill_node()
    await clock.advance(10)
    assert len(events) == seen
    assert await runtime.list_pod_sandboxes() == []
