"""Kubelet: startup, liveness and readiness probes (acceptance 3)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.clock import VirtualClock
from tests.runtime.kubelet_env import Env, pod_manifest, sim, simulated_nodes

HTTP = {"httpGet": {"path": "/healthz", "port": "http"}}


def container(**probes: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": "app",
            "image": "app:1",
            "ports": [{"name": "http", "containerPort": 8080}],
            **probes,
        }
    ]


def ready(env: Env, pod: str) -> bool:
    return env.pod(pod).is_ready


async def test_readiness_failure_clears_ready_without_a_restart(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "web",
                containers=container(readinessProbe=HTTP),
                annotations=sim(
                    start_latency="0s", readiness_probe="success,60s=failure,120s=success"
                ),
            )
        )
        await clock.advance(5)
        assert ready(env, "web")
        # Probes at 60, 70, 80 fail: the third consecutive failure (failureThreshold 3) flips it.
        await clock.advance(60 + 10 + 10 - 5 - 1)
        assert ready(env, "web")
        await clock.advance(2)
        pod = env.pod("web")
        assert not pod.is_ready
        assert pod.status.condition("ContainersReady").status == "False"  # type: ignore[union-attr]
        status = pod.status.container_statuses[0]
        assert not status.ready and status.state.running is not None
        assert status.restart_count == 0
        # One success (successThreshold 1) at 120 makes it ready again.
        await clock.advance(120 - 81 + 1)
        assert ready(env, "web")
        assert env.container("web").restart_count == 0


async def test_readiness_probe_without_delay_waits_for_ready_after(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "warm",
                containers=container(readinessProbe={**HTTP, "periodSeconds": 5}),
                annotations=sim(start_latency="0s", ready_after="12s"),
            )
        )
        took = await env.until(lambda: ready(env, "warm"))
        assert took == pytest.approx(15, abs=0.01)  # probes at 0, 5, 10 fail; 15 succeeds


async def test_liveness_failure_restarts_the_container(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "live",
                containers=container(livenessProbe=HTTP),
                annotations=sim(
                    start_latency="0s", liveness_probe="success,30s=failure", shutdown_after="0s"
                ),
            )
        )
        await clock.advance(25)
        assert env.container("live").restart_count == 0
        # Failures at 30, 40, 50: the container is stopped at 50, restarted 10 s later.
        await clock.advance(50 - 25 + 1)
        status = env.container("live")
        assert status.state.waiting is not None
        assert status.state.waiting.reason == "CrashLoopBackOff"
        terminated = status.last_state.terminated
        assert terminated is not None and terminated.finished_at is not None
        await clock.advance(10)
        status = env.container("live")
        assert status.restart_count == 1
        assert status.state.running is not None


async def test_liveness_kill_uses_the_probe_grace_period(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "stubborn",
                grace=60,
                containers=container(
                    livenessProbe={
                        **HTTP,
                        "failureThreshold": 1,
                        "terminationGracePeriodSeconds": 5,
                    }
                ),
                annotations=sim(
                    start_latency="0s", liveness_probe="failure", shutdown_after="never"
                ),
            )
        )
        await clock.advance(6)
        terminated = env.container("stubborn").last_state.terminated
        assert terminated is not None
        assert (terminated.exit_code, terminated.signal) == (137, 9)
        assert terminated.finished_at is not None and terminated.started_at is not None
        assert (terminated.finished_at - terminated.started_at).total_seconds() == 5


async def test_startup_probe_holds_liveness_and_readiness_back(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "slowstart",
                containers=container(
                    startupProbe={**HTTP, "periodSeconds": 10, "failureThreshold": 30},
                    livenessProbe={**HTTP, "failureThreshold": 1},
                    readinessProbe=HTTP,
                ),
                # Liveness would fail before 45 s; the startup probe shields it.
                annotations=sim(
                    start_latency="0s",
                    startup_probe="failure,45s=success",
                    liveness_probe="failure,45s=success",
                ),
            )
        )
        await clock.advance(45)
        status = env.container("slowstart")
        assert status.started is False and not status.ready
        assert status.restart_count == 0
        await clock.advance(6)  # startup succeeds at 50; liveness and readiness start
        status = env.container("slowstart")
        assert status.started is True and status.ready
        assert (
            env.kubelet().pods.prober.worker(env.pod("slowstart").metadata.uid, "app", "startup")
            is None
        )
        await clock.advance(120)
        assert env.container("slowstart").restart_count == 0


async def test_startup_probe_failure_restarts_the_container(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "neverstarts",
                containers=container(
                    startupProbe={**HTTP, "periodSeconds": 5, "failureThreshold": 3}
                ),
                annotations=sim(start_latency="0s", startup_probe="failure"),
            )
        )
        await clock.advance(11)  # failures at 0, 5, 10
        status = env.container("neverstarts")
        assert status.last_state.terminated is not None or status.state.terminated is not None
        await clock.advance(10)
        assert env.container("neverstarts").restart_count == 1


async def test_probe_on_unknown_named_port_always_fails(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "typo",
                containers=container(readinessProbe={"httpGet": {"path": "/", "port": "htp"}}),
            )
        )
        await clock.advance(60)
        assert not ready(env, "typo")
        assert env.pod("typo").status.phase == "Running"
