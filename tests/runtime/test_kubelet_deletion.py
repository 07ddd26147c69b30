"""Kubelet: graceful deletion honours terminationGracePeriodSeconds (acceptance 4)."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api import core
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.store import Store
from runtime.kubelet import NodeAgentPool
from tests.runtime.kubelet_env import Env, pod_manifest, sim, simulated_nodes


def removed_at(env: Env, name: str) -> float | None:
    return (
        None if env.store.try_get(core.Pod, name, "default") is not None else env.clock.monotonic()
    )


async def wait_removed(env: Env, name: str) -> float:
    return await env.until(lambda: env.store.try_get(core.Pod, name, "default") is None)


async def test_container_ignoring_sigterm_is_killed_when_the_grace_period_ends(
    clock: VirtualClock,
) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest("stubborn", grace=45, annotations=sim(shutdown_after="never"))
        )
        await clock.advance(2)
        uid = env.pod("stubborn").metadata.uid
        marked = env.store.delete(core.Pod, "stubborn", "default")
        assert marked is not None and marked.metadata.deletion_grace_period_seconds == 45
        took = await wait_removed(env, "stubborn")
        final = [
            w.object
            for w in env.writes
            if w.kind == "Pod" and w.name == "stubborn" and w.verb == "update_status"
        ][-1]
    assert took == pytest.approx(45, abs=0.11)
    assert isinstance(final, core.Pod) and final.metadata.uid == uid
    assert final.status.phase == "Failed"
    terminated = final.status.container_statuses[0].state.terminated
    assert terminated is not None and (terminated.exit_code, terminated.signal) == (137, 9)


async def test_container_that_shuts_down_quickly_lets_the_pod_go_early(
    clock: VirtualClock,
) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("polite", grace=30, annotations=sim(shutdown_after="4s")))
        await clock.advance(2)
        env.store.delete(core.Pod, "polite", "default")
        took = await wait_removed(env, "polite")
    assert took == pytest.approx(4, abs=0.11)


async def test_default_grace_period_is_thirty_seconds(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("default", annotations=sim(shutdown_after="never")))
        await clock.advance(2)
        env.store.delete(core.Pod, "default", "default")
        assert await wait_removed(env, "default") == pytest.approx(30, abs=0.11)


async def test_shorter_grace_period_on_a_second_delete_wins(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("p", grace=120, annotations=sim(shutdown_after="never")))
        await clock.advance(2)
        env.store.delete(core.Pod, "p", "default")
        await clock.advance(10)
        env.store.delete(core.Pod, "p", "default", grace_period_seconds=5)
        assert await wait_removed(env, "p") == pytest.approx(5, abs=0.11)


async def test_all_containers_are_stopped_and_the_sandbox_removed(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "multi",
                containers=[{"name": "a", "image": "x"}, {"name": "b", "image": "x"}],
                annotations=sim(b__shutdown_after="3s"),
            )
        )
        await clock.advance(2)
        uid = env.pod("multi").metadata.uid
        env.store.delete(core.Pod, "multi", "default")
        assert await wait_removed(env, "multi") == pytest.approx(3, abs=0.11)
        assert uid not in await env.kubelet().runtime.list_pod_sandboxes()
        assert env.kubelet().statistics().pods == 0


async def test_force_deleted_pod_has_its_containers_killed(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("gone"))
        await clock.advance(2)
        uid = env.pod("gone").metadata.uid
        env.store.delete(core.Pod, "gone", "default", grace_period_seconds=0)
        await clock.advance(0.1)
        assert uid not in await env.kubelet().runtime.list_pod_sandboxes()


async def test_terminal_pods_are_deleted_at_once(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest("job", restart_policy="Never", annotations=sim(exit_after="1s"))
        )
        await clock.advance(3)
        assert env.pod("job").status.phase == "Succeeded"
        assert env.store.delete(core.Pod, "job", "default") is None


class DeletingDuringStatusWrite(LocalClient):
    """Deletes the pod right after the kubelet's first status write commits, and
    lets the watch deliver the deletion before the write returns (an older
    version than the one the kubelet has by then)."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        super().__init__(store)
        self.clock = clock
        self.done = False

    async def update_status(self, obj: Any, **kwargs: Any) -> Any:
        written = await super().update_status(obj, **kwargs)
        if not self.done and isinstance(written, core.Pod):
            self.done = True
            self.store.delete(core.Pod, written.metadata.name, written.metadata.namespace)
            await self.clock.settle()
        return written


async def test_a_deletion_seen_while_a_status_write_is_in_flight_is_carried_out(
    clock: VirtualClock,
) -> None:
    store = Store(clock=clock)
    client = DeletingDuringStatusWrite(store, clock)
    pool = NodeAgentPool(client, clock=clock)
    pool.add_nodes(1)
    async with pool:
        store.create(pod_manifest("raced", grace=5))
        env = Env(clock, store, client, pool)
        took = await wait_removed(env, "raced")
    assert client.done
    assert took <= 5.5
