"""Kubelet: restartPolicy and CrashLoopBackOff (acceptance 2)."""

from __future__ import annotations

from datetime import datetime

from engine.api import core
from engine.clock import VirtualClock
from runtime.kubelet.backoff import CrashLoopBackOff
from tests.runtime.kubelet_env import Env, pod_manifest, sim, simulated_nodes


def restart_gaps(env: Env, pod: str) -> list[float]:
    """Seconds between an instance finishing and the next one starting, from
    every status the kubelet wrote."""
    pairs: dict[datetime, datetime] = {}
    for write in env.writes:
        obj = write.object
        if not isinstance(obj, core.Pod) or obj.metadata.name != pod:
            continue
        for status in obj.status.container_statuses:
            last = status.last_state.terminated
            running = status.state.running
            if last is not None and running is not None and running.started_at is not None:
                assert last.finished_at is not None
                pairs[last.finished_at] = running.started_at
    return [(pairs[k] - k).total_seconds() for k in sorted(pairs)]


async def test_crashing_container_restarts_after_10_20_40_up_to_300_seconds(
    clock: VirtualClock,
) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "crasher", annotations=sim(start_latency="0s", exit_after="1s", exit_code="1")
            )
        )
        await clock.advance(1 + 10 + 1 + 20 + 1 + 40 + 1 + 80 + 1 + 160 + 1 + 300 + 1 + 300 + 5)
        gaps = restart_gaps(env, "crasher")
        status = env.container("crasher")
    assert gaps == [10, 20, 40, 80, 160, 300, 300]
    assert status.restart_count == 7
    last = status.last_state.terminated
    assert last is not None and (last.exit_code, last.reason) == (1, "Error")


async def test_backoff_shows_crash_loop_back_off_with_last_state(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "crasher", annotations=sim(start_latency="0s", exit_after="1s", exit_code="3")
            )
        )
        await clock.advance(1 + 10 + 1 + 5)  # second instance crashed, 20 s back-off running
        pod = env.pod("crasher")
        status = pod.status.container_statuses[0]
        assert pod.status.phase == "Running"
        assert not pod.is_ready
        assert status.state.waiting is not None
        assert status.state.waiting.reason == "CrashLoopBackOff"
        assert status.state.waiting.message is not None
        assert status.state.waiting.message.startswith(
            "back-off 20s restarting failed container=app"
        )
        assert status.restart_count == 1
        assert status.last_state.terminated is not None
        assert status.last_state.terminated.exit_code == 3


async def test_backoff_resets_after_ten_minutes_of_clean_running(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "flaky", annotations=sim(start_latency="0s", exit_after="700s", exit_code="1")
            )
        )
        await clock.advance(3 * 710 + 5)
        assert restart_gaps(env, "flaky") == [10, 10, 10]


async def test_restart_policy_never_fails_the_pod(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "once",
                restart_policy="Never",
                annotations=sim(start_latency="0s", exit_after="2s", exit_code="1"),
            )
        )
        await clock.advance(60)
        pod = env.pod("once")
    assert pod.status.phase == "Failed"
    status = pod.status.container_statuses[0]
    assert status.restart_count == 0
    assert status.state.terminated is not None and status.state.terminated.exit_code == 1
    assert pod.status.condition("Ready").reason == "PodCompleted"  # type: ignore[union-attr]


async def test_restart_policy_never_succeeds_when_all_exit_zero(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "job",
                restart_policy="Never",
                containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x"}],
                annotations=sim(exit_after="2s", b__exit_after="5s"),
            )
        )
        await clock.advance(3)
        assert env.pod("job").status.phase == "Running"
        await clock.advance(5)
        assert env.pod("job").status.phase == "Succeeded"


async def test_on_failure_restarts_failures_but_not_a_success(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "ok",
                restart_policy="OnFailure",
                annotations=sim(start_latency="0s", exit_after="2s", exit_code="0"),
            )
        )
        env.store.create(
            pod_manifest(
                "bad",
                restart_policy="OnFailure",
                annotations=sim(start_latency="0s", exit_after="2s", exit_code="1"),
            )
        )
        await clock.advance(60)
        ok = env.pod("ok")
        bad = env.pod("bad")
    assert ok.status.phase == "Succeeded"
    assert ok.status.container_statuses[0].restart_count == 0
    assert bad.status.phase == "Running"
    assert bad.status.container_statuses[0].restart_count >= 2


async def test_always_restarts_a_container_that_completed(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("done", annotations=sim(start_latency="0s", exit_after="1s")))
        await clock.advance(12)
        pod = env.pod("done")
    assert pod.status.phase == "Running"
    status = pod.status.container_statuses[0]
    assert status.restart_count == 1
    assert status.last_state.terminated is not None
    assert status.last_state.terminated.reason == "Completed"


def test_backoff_sequence_and_reset() -> None:
    backoff = CrashLoopBackOff(10, 300)
    key = ("uid", "c")
    backoff.started(key, 0)
    delays = []
    t = 0.0
    for _ in range(8):
        t += 1
        delay = backoff.next_delay(key, t)
        delays.append(delay)
        t += delay
        backoff.started(key, t)
    assert delays == [10, 20, 40, 80, 160, 300, 300, 300]
    assert backoff.next_delay(key, t + 601) == 10
