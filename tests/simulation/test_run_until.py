"""`Simulation.run_until` and `run_until_quiescent` on virtual time: a
condition ends the run as soon as a write makes it hold, a deadline ends it at
exactly that virtual instant, and quiescence means no writes but heartbeats
for `quiet` seconds with every controller queue idle."""

from __future__ import annotations

import pytest

from engine.api import ConfigMap, ObjectMeta, Pod, ReplicaSet
from engine.manager import Manager
from runtime.cluster import NodePool
from runtime.simulation import Apply, Simulation, SimulationConfig
from tests.simulation.builders import replica_set

ONE_NODE = (NodePool(count=1),)


def _config(**changes: object) -> SimulationConfig:
    values: dict[str, object] = {
        "node_pools": ONE_NODE,
        "controllers": ("scheduler", "replicaset"),
        "fault_kinds": frozenset(),
    }
    values.update(changes)
    return SimulationConfig(**values)  # type: ignore[arg-type]


def _running_pods(sim: Simulation) -> int:
    return sum(1 for p in sim.store.objects(Pod) if p.status.phase == "Running")


async def test_a_deadline_alone_runs_exactly_that_long() -> None:
    async with Simulation(_config()) as sim:
        start = sim.now()
        assert await sim.run_until(at=start + 42.5) is True
        assert sim.now() == pytest.approx(start + 42.5)
        assert await sim.run_until(timeout=7.5) is True
        assert sim.now() == pytest.approx(start + 50.0)
        # A deadline in the past runs nothing.
        assert await sim.run_until(at=start) is True
        assert sim.now() == pytest.approx(start + 50.0)


async def test_run_until_needs_a_condition_or_a_deadline() -> None:
    async with Simulation(_config()) as sim:
        with pytest.raises(ValueError, match="condition, `at` or `timeout`"):
            await sim.run_until()


async def test_a_condition_that_holds_already_costs_no_time() -> None:
    async with Simulation(_config()) as sim:
        start = sim.now()
        assert await sim.run_until(lambda: True, timeout=100) is True
        assert sim.now() == start


async def test_a_condition_stops_the_run_at_the_write_that_makes_it_hold() -> None:
    async with Simulation(_config()) as sim:
        await sim.step(Apply(manifest=replica_set(replicas=2)))
        seen: list[tuple[float, int]] = []

        def two_running() -> bool:
            seen.append((sim.now(), _running_pods(sim)))
            return _running_pods(sim) == 2

        assert await sim.run_until(two_running, timeout=600) is True
        assert _running_pods(sim) == 2
        # Stopped when it first held: not at the deadline, and no check after
        # that one (every earlier check saw fewer running pods).
        assert sim.now() < 600
        assert seen[-1] == (sim.now(), 2)
        assert all(count < 2 for _, count in seen[:-1])


async def test_a_condition_that_never_holds_ends_at_the_deadline() -> None:
    async with Simulation(_config()) as sim:
        await sim.step(Apply(manifest=replica_set(replicas=1)))
        start = sim.now()
        assert await sim.run_until(lambda: _running_pods(sim) == 5, at=start + 120) is False
        assert sim.now() == pytest.approx(start + 120)
        assert _running_pods(sim) == 1  # the cluster did run meanwhile


async def test_quiescent_after_a_workload_settles() -> None:
    async with Simulation(_config()) as sim:
        await sim.step(Apply(manifest=replica_set(replicas=3)))
        assert await sim.run_until_quiescent(quiet=20, timeout=600) is True
        assert _running_pods(sim) == 3
        assert sim.queues_idle()
        rs = sim.store.get(ReplicaSet, "web", "default")
        assert rs.status.ready_replicas == 3
        # Quiet means quiet: nothing but heartbeats is written afterwards.
        before = len(sim.trace.lines)
        await sim.run_until(timeout=60)
        later = sim.trace.lines[before:]
        assert all(" Lease " in line or " update_status Node " in line for line in later), later


def _ticker(manager: Manager) -> None:
    """A controller that never rests: it rewrites a ConfigMap every 5 s."""

    async def tick() -> None:
        client, n = manager.client, 0
        meta = ObjectMeta(name="tick", namespace="default")
        await client.create(ConfigMap(metadata=meta, data={"n": "0"}))
        while True:
            await manager.clock.sleep(5)
            n += 1
            current = await client.get(ConfigMap, "tick", namespace="default")
            await client.update(current.model_copy(update={"data": {"n": str(n)}}))

    manager.add_runnable(tick)


async def test_never_quiescent_while_something_keeps_writing() -> None:
    config = _config(controllers=("ticker",), custom_controllers={"ticker": _ticker})
    async with Simulation(config) as sim:
        start = sim.now()
        assert await sim.run_until_quiescent(quiet=10, timeout=100) is False
        assert sim.now() == pytest.approx(start + 100)
        tick = sim.store.get(ConfigMap, "tick", "default")
        assert int(tick.data["n"]) >= 19
