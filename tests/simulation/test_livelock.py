"""A livelock (writes that never let virtual time move) ends the run as a
failure naming the writes it repeats, instead of spinning for ever."""

from __future__ import annotations

from engine.api import ConfigMap, ObjectMeta
from engine.client import Client
from engine.controller import Controller, Request, Result
from engine.errors import NotFound
from engine.manager import Manager
from runtime.cluster import NodePool
from runtime.simulation import Simulation, SimulationConfig
from runtime.simulation.operations import Apply

TUG = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "tug"}, "data": {"n": "0"}}


class Incrementer:
    """Bumps a ConfigMap's counter on every reconcile (up to `stop_at`, if the
    ConfigMap says so): each write wakes it again at once, with no timer in
    between."""

    def __init__(self, manager: Manager) -> None:
        self.client: Client = manager.client
        self.controller = Controller("incrementer", self, clock=manager.clock)
        self.controller.for_kind(manager.factory.informer(ConfigMap))
        manager.add(self.controller)

    async def reconcile(self, request: Request) -> Result:
        try:
            current = await self.client.get(ConfigMap, request.name, namespace=request.namespace)
        except NotFound:
            return Result()
        n = int(current.data.get("n", "0")) + 1
        if n > int(current.data.get("stop_at", "1000000000")):
            return Result()
        await self.client.update(current.model_copy(update={"data": {**current.data, "n": str(n)}}))
        return Result()


def _config(limit: int | None) -> SimulationConfig:
    return SimulationConfig(
        node_pools=(NodePool(count=1),),
        controllers=("incrementer",),
        custom_controllers={"incrementer": Incrementer},
        fault_kinds=frozenset(),
        livelock_writes=limit,
    )


async def test_a_livelock_halts_the_controllers_and_fails_the_run() -> None:
    async with Simulation(_config(2_000)) as sim:
        await sim.step(Apply(manifest=TUG))
        await sim.run_until(timeout=30)  # returns: time moves again once halted
        assert sim.now() >= 30
        (failure,) = sim.errors
        assert failure.oracle == "liveness:livelock"
        assert "without the clock moving" in failure.message
        assert "update ConfigMap default/tug" in failure.message
        assert all(not host.running for host in sim.hosts.values())
        written = int(sim.store.get(ConfigMap, "tug").data["n"])
        assert 2_000 <= written <= 2_100


async def test_bursts_below_the_limit_are_no_livelock() -> None:
    # 3 x 1,500 writes: more than the limit in all, but time moves in between.
    async with Simulation(_config(2_000)) as sim:
        for n in range(3):
            meta = ObjectMeta(name=f"burst-{n}", namespace="default")
            data = {"n": "0", "stop_at": "1500"}
            await sim.client.create(ConfigMap(metadata=meta, data=data))
            await sim.run_until(timeout=1)
        assert sim.errors == [], sim.errors[0].message
        assert [sim.store.get(ConfigMap, f"burst-{n}").data["n"] for n in range(3)] == ["1500"] * 3
