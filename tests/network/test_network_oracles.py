"""The Service oracles of the simulation: EndpointSlices list exactly the
ready pods (desired state), and opt-in availability while a Deployment rolls."""

from __future__ import annotations

from typing import Any

from engine.controller import Request, Result
from engine.manager import Manager
from engine.manifests import parse_object
from runtime.cluster import NodePool
from runtime.simulation import Apply, Simulation, SimulationConfig

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
}


def deployment(
    image: str, max_unavailable: Any, annotations: dict[str, str] | None = None
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxUnavailable": max_unavailable, "maxSurge": 1},
            },
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {
                    "labels": {"app": "web"},
                    "annotations": {"sim.kubeloop.io/ready-after": "3s"},
                },
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": image,
                            "readinessProbe": {"tcpSocket": {"port": 80}, "periodSeconds": 1},
                        }
                    ]
                },
            },
        },
    }


CONTROLLERS = ("scheduler", "replicaset", "deployment", "endpointslice", "garbagecollector")


def config(**changes: Any) -> SimulationConfig:
    values: dict[str, Any] = {
        "node_pools": (NodePool(count=2),),
        "controllers": CONTROLLERS,
        "fault_kinds": frozenset(),
    }
    values.update(changes)
    return SimulationConfig(**values)


async def test_endpointslice_desired_state_reached() -> None:
    async with Simulation(config()) as sim:
        await sim.step(Apply(manifest=SERVICE))
        await sim.step(Apply(manifest=deployment("nginx:1", 0)))
        report = await sim.check_esr(bound=300, window=30)
        assert report.ok, report.message


def _idle_endpointslice(manager: Manager) -> Any:
    """A broken EndpointSlice controller: it never writes a slice."""
    from engine.api import Service
    from engine.controller import Controller, reconciler

    async def nothing(request: Request) -> Result:
        return Result()

    controller = Controller("endpointslice", reconciler(nothing), clock=manager.clock)
    controller.for_kind(manager.factory.informer(Service))
    return manager.add(controller)


async def test_endpointslice_oracle_catches_a_controller_that_writes_nothing() -> None:
    broken = config(custom_controllers={"endpointslice": _idle_endpointslice})
    async with Simulation(broken) as sim:
        await sim.step(Apply(manifest=SERVICE))
        await sim.step(Apply(manifest=deployment("nginx:1", 0)))
        report = await sim.check_esr(bound=120, window=10)
        assert not report.ok
        assert "Service default/web: ready endpoints is []" in report.message


async def rolling(max_unavailable: Any) -> list[str]:
    service = {
        **SERVICE,
        "metadata": {"name": "web", "annotations": {"sim.kubeloop.io/availability": "true"}},
    }
    async with Simulation(config()) as sim:
        await sim.step(Apply(manifest=service))
        await sim.step(Apply(manifest=deployment("nginx:1", max_unavailable)))
        await sim.run_until(at=sim.now() + 60)
        await sim.step(Apply(manifest=deployment("nginx:2", max_unavailable)))
        await sim.run_until(at=sim.now() + 120)
        assert parse_object(service)  # the manifest is valid as written
        return [str(v) for v in sim.violations]


async def test_availability_holds_with_max_unavailable_zero() -> None:
    assert await rolling(0) == []


async def test_availability_violated_when_every_pod_goes_at_once() -> None:
    found = await rolling("100%")
    assert any("service-availability" in v for v in found), found
