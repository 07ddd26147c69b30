"""Liveness (ESR): once faults stop, the cluster must reach its desired state
within a bound and stay there for a window; the report of a failure names the
objects that differ, what is off, what it is and what it should be."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from engine.api import ConfigMap, ObjectMeta, Pod, ReplicaSet
from engine.manager import Manager
from engine.manifests import parse_object
from runtime.cluster import NodePool
from runtime.simulation import (
    DESIRED,
    Apply,
    DesiredContext,
    Difference,
    Simulation,
    SimulationConfig,
)
from runtime.simulation.faults import WatchDrop
from tests.simulation.builders import deployment, replica_set


def _config(*controllers: str, **changes: Any) -> SimulationConfig:
    values: dict[str, Any] = {
        "node_pools": (NodePool(count=1),),
        "controllers": controllers,
        "fault_kinds": frozenset(),
    }
    values.update(changes)
    return SimulationConfig(**values)


async def test_esr_holds_for_working_controllers_even_after_faults() -> None:
    drop = WatchDrop(at=0, duration=40, probability=1.0, controller="replicaset", informer="Pod")
    config = _config(
        "scheduler", "replicaset", faults=(drop,), fault_kinds=frozenset({"watch_drop"})
    )
    async with Simulation(config) as sim:
        await sim.step(Apply(manifest=replica_set("web", replicas=3)))
        report = await sim.check_esr(bound=300, window=30)
        assert report.ok, report.message
        assert report.started_at >= 40  # faults stopped first
        assert report.reached_at is not None and report.differences == ()
        assert "desired state reached at" in report.message and "held for 30 s" in report.message
        assert sim.now() == report.reached_at + 30


async def test_esr_failure_names_the_objects_that_differ() -> None:
    # No ReplicaSet controller: nothing ever creates the pods.
    async with Simulation(_config("scheduler")) as sim:
        await sim.step(Apply(manifest=replica_set("web", replicas=2)))
        report = await sim.check_esr(bound=60, window=10)
        assert not report.ok
        assert report.reached_at is None
        assert Difference("ReplicaSet", "default", "web", "active pods", 0, 2) in report.differences
        assert "not in the desired state 60 s after faults stopped" in report.message
        assert "ReplicaSet default/web: active pods is 0, want 2" in report.message


async def test_esr_failure_names_deployments_without_their_replicaset() -> None:
    async with Simulation(_config("scheduler", "replicaset")) as sim:
        await sim.step(Apply(manifest=deployment("api", replicas=2)))
        report = await sim.check_esr(bound=30, window=10)
        assert not report.ok
        diffs = [d for d in report.differences if (d.kind, d.name) == ("Deployment", "api")]
        assert "ReplicaSet with the current template" in [d.what for d in diffs]
        assert "Deployment default/api: ReplicaSet with the current template is None" in (
            report.message
        )


async def test_esr_failure_names_garbage_nobody_collects() -> None:
    async with Simulation(_config("scheduler", "replicaset")) as sim:
        await sim.step(Apply(manifest=replica_set("web", replicas=1)))
        assert await sim.run_until(lambda: any(True for _ in sim.store.objects(Pod)), timeout=30)
        pod = next(iter(sim.store.objects(Pod)))
        # The owner goes; with no garbage collector running, its pod stays.
        sim.store.delete(ReplicaSet, "web", "default", propagation_policy="Background")
        report = await sim.check_esr(bound=30, window=10)
        assert not report.ok
        assert (
            Difference(
                "Pod", "default", pod.metadata.name, "owners", ["web"], "at least one existing"
            )
            in report.differences
        )


def _pod_killer(manager: Manager) -> None:
    """Deletes a pod every 20 s, forever: the desired state is reached, then left."""

    async def kill() -> None:
        while True:
            await manager.clock.sleep(20)
            pods = sorted((await manager.client.list(Pod)).items, key=lambda p: p.metadata.name)
            if pods:
                victim = pods[0].metadata
                await manager.client.delete(Pod, victim.name, namespace=victim.namespace)

    manager.add_runnable(kill)


async def test_esr_fails_when_the_desired_state_does_not_hold() -> None:
    config = _config(
        "scheduler", "replicaset", "killer", custom_controllers={"killer": _pod_killer}
    )
    async with Simulation(config) as sim:
        await sim.step(Apply(manifest=replica_set("web", replicas=2)))
        report = await sim.check_esr(bound=120, window=60)
        assert not report.ok
        assert report.reached_at is not None
        assert "did not hold" in report.message


def _counted(ctx: DesiredContext) -> Iterator[Difference]:
    """A user's check: a ConfigMap `count` with data.n == "3"."""
    cm = ctx.store.try_get(ConfigMap, "count", "default")
    have = None if cm is None else cm.data.get("n")
    if have != "3":
        yield Difference("ConfigMap", "default", "count", "data.n", have, "3")


async def test_users_checks_are_reported_like_the_built_in_ones() -> None:
    registry = DESIRED.copy()
    registry.register("counted", _counted)
    assert "counted" not in DESIRED.names()
    config = _config(desired_registry=registry)
    async with Simulation(config) as sim:
        meta = ObjectMeta(name="count", namespace="default")
        sim.store.create(ConfigMap(metadata=meta, data={"n": "2"}))
        report = await sim.check_esr(bound=10, window=5)
        assert not report.ok
        assert report.differences == (
            Difference("ConfigMap", "default", "count", "data.n", "2", "3"),
        )
        assert "ConfigMap default/count: data.n is '2', want '3'" in report.message


async def test_differences_are_empty_once_a_workload_settles() -> None:
    async with Simulation(_config("scheduler", "replicaset")) as sim:
        obj: Any = parse_object(replica_set("web", replicas=2))
        sim.store.create(obj)
        assert sim.differences() != []
        assert await sim.run_until(lambda: not sim.differences(), timeout=120)
