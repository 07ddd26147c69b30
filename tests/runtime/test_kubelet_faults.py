"""Kubelet fault controls (stop, crash, partition, restore, kill a container) and the
standalone kubelet."""

from __future__ import annotations

import anyio

from engine.api import core
from engine.api.coordination import Lease
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.store import Store
from runtime.kubelet import Kubelet, KubeletConfig
from runtime.runtimes.simulated import SimulatedRuntime
from tests.runtime.kubelet_env import Env, pod_manifest, sim, simulated_nodes


def lease_writes(env: Env, node: str) -> int:
    return sum(1 for w in env.writes if w.kind == "Lease" and w.name == node)


async def test_partition_stops_heartbeats_but_containers_keep_running(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("web"))
        await clock.advance(5)
        kubelet = env.kubelet()
        kubelet.partition()
        before = lease_writes(env, "node-0")
        await clock.advance(120)
        assert lease_writes(env, "node-0") == before
        assert kubelet.state == "running" and kubelet.partitioned
        uid = env.pod("web").metadata.uid
        status = await kubelet.runtime.container_status(uid, "app")
        assert status is not None and status.state == "running"
        # Changes made meanwhile are seen once the partition heals.
        env.store.delete(core.Pod, "web", "default")
        await clock.advance(5)
        assert env.store.try_get(core.Pod, "web", "default") is not None
        await kubelet.restore()
        assert lease_writes(env, "node-0") == before + 1
        await clock.advance(2)
        assert env.store.try_get(core.Pod, "web", "default") is None


async def test_crash_kills_containers_and_restore_restarts_them(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("web"))
        await clock.advance(5)
        kubelet = env.kubelet()
        await kubelet.crash()
        assert await kubelet.runtime.list_pod_sandboxes() == []
        before = lease_writes(env, "node-0")
        await clock.advance(60)
        assert lease_writes(env, "node-0") == before
        await kubelet.restore()
        await clock.advance(5)
        status = env.container("web")
        assert status.state.running is not None
        assert status.restart_count == 1
        assert env.pod("web").is_ready


async def test_stop_sends_sigterm_and_restore_restarts(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("web", annotations=sim(shutdown_after="2s")))
        await clock.advance(5)
        kubelet = env.kubelet()
        uid = env.pod("web").metadata.uid
        await kubelet.stop()
        await clock.advance(3)
        status = await kubelet.runtime.container_status(uid, "app")
        assert status is not None and (status.state, status.exit_code) == ("terminated", 0)
        await kubelet.restore()
        await clock.advance(15)
        status_api = env.container("web")
        assert status_api.state.running is not None
        assert status_api.restart_count == 1


async def test_kill_container_restarts_it_by_policy(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("web", annotations=sim(start_latency="0s")))
        await clock.advance(5)
        await env.kubelet().kill_container("default", "web", "app")
        await clock.advance(0.1)
        status = env.container("web")
        assert status.state.waiting is not None
        assert status.state.waiting.reason == "CrashLoopBackOff"
        await clock.advance(10)
        status = env.container("web")
        assert status.restart_count == 1
        last = status.last_state.terminated
        assert last is not None and (last.exit_code, last.reason) == (137, "Error")


async def test_statistics_snapshot(clock: VirtualClock) -> None:
    async with simulated_nodes(clock, 2) as env:
        env.store.create(pod_manifest("web"))
        await clock.advance(30)
        stats = env.kubelet().statistics()
        pool_stats = env.pool.statistics()
    assert stats.state == "running" and stats.pods == 1
    assert stats.lease_renewals >= 3
    assert pool_stats.nodes == 2 and pool_stats.running == 2


async def test_standalone_kubelet_with_its_own_watch(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    runtime = SimulatedRuntime(clock=clock)
    kubelet = Kubelet(client, runtime, KubeletConfig(node_name="solo"), clock=clock)
    async with anyio.create_task_group() as tg:
        tg.start_soon(kubelet.run)
        await clock.advance(1)
        assert store.get(core.Node, "solo").is_ready
        store.create(pod_manifest("mine", node="solo"))
        store.create(pod_manifest("theirs", node="other"))
        await clock.advance(25)
        assert store.get(core.Pod, "mine").status.phase == "Running"
        assert store.get(core.Pod, "theirs").status.phase == "Pending"
        lease = store.get(Lease, "solo", "kube-node-lease")
        assert lease.spec.renew_time is not None
        assert (clock.now() - lease.spec.renew_time).total_seconds() <= 10.4
        tg.cancel_scope.cancel()
    assert kubelet.state == "stopped"


def _timeless(kind: str, name: str) -> str:
    return name.rpartition(".")[0] if kind == "Event" else name


async def test_same_seed_same_trace(clock: VirtualClock) -> None:
    async def trace() -> list[tuple[float, int, str, str, str]]:
        start = clock.monotonic()
        times: list[float] = []
        async with simulated_nodes(clock, 3) as env:
            env.store.observers.append(lambda w: times.append(clock.monotonic() - start))
            for i in range(6):
                env.store.create(
                    pod_manifest(
                        f"p{i}",
                        node=f"node-{i % 3}",
                        annotations=sim(start_latency="uniform(0s,3s)", crash_probability="0.5"),
                    )
                )
            await clock.advance(200)
            writes = env.writes[-len(times) :]
            # An Event's name carries the time it was recorded, later in the second run.
            return [
                (round(t, 6), w.revision, w.verb, w.kind, _timeless(w.kind, w.name))
                for t, w in zip(times, writes, strict=True)
            ]

    first = await trace()
    second = await trace()
    assert len(first) > 50
    assert first == second
