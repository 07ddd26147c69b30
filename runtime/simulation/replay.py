"""Scenario files and replay: a failing run as data, and running it again.

A scenario file (YAML) holds everything a run was made of: the target (by
ref), the seed, the node pools, the fault kinds enabled, an upfront fault
schedule, the operations in order (faults injected on the way are `inject`
operations), whether ESR was checked at the end, and the failure that was
seen, with the trace hash at that point:

    kubeloop: simulation/v1
    target: runtime.simulation.targets:BUILTIN
    seed: 12
    node_pools: [{name: node, count: 2, cpu: "4", memory: 8Gi, ...}]
    fault_kinds: [watch_delay, ...]
    steps:
      - {op: apply, after: 0.0, manifest: {...}}
      - {op: inject, after: 2.0, fault: {kind: watch_delay, delay: 10, ...}}
    finish: true
    failure: {oracle: "safety:replicaset-within-replicas", message: ..., trace_hash: ...}

`replay(scenario)` drives a `SimulationSession` through exactly the calls the
run made (start, each step until a failure, finish), so it reproduces the
run's trace byte for byte and the same failure. `ReplayResult.reproduced`
says whether the failure and trace hash are the recorded ones.

Neighbours: `runtime.simulation.session`, `runtime.simulation.targets`,
`runtime.simulation.machine` (writes files), `runtime.cli_fuzz` (`kubeloop replay`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from engine.api.core import Taint
from runtime.cluster import NodePool
from runtime.simulation.faults import Fault
from runtime.simulation.operations import Operation
from runtime.simulation.session import Failure, SimulationSession
from runtime.simulation.targets import FuzzTarget, load_target

__all__ = [
    "ReplayResult",
    "ScenarioFile",
    "load_scenario_file",
    "pools_from_data",
    "pools_to_data",
    "replay",
    "save_scenario_file",
]


def pools_to_data(pools: tuple[NodePool, ...]) -> list[dict[str, Any]]:
    out = []
    for pool in pools:
        data = dataclasses.asdict(pool)
        data["taints"] = [t.model_dump(mode="json", exclude_none=True) for t in pool.taints]
        data["labels"] = dict(pool.labels)
        data["extended_resources"] = dict(pool.extended_resources)
        data["zones"] = list(pool.zones)
        out.append(data)
    return out


def pools_from_data(data: list[dict[str, Any]]) -> tuple[NodePool, ...]:
    pools = []
    for item in data:
        values = dict(item)
        values["taints"] = tuple(Taint.model_validate(t) for t in values.get("taints", ()))
        values["zones"] = tuple(values.get("zones", ()))
        pools.append(NodePool(**values))
    return tuple(pools)


class ScenarioFile(BaseModel):
    """See the module docstring."""

    model_config = ConfigDict(extra="forbid")

    kubeloop: Literal["simulation/v1"] = "simulation/v1"
    target: str = "runtime.simulation.targets:BUILTIN"
    seed: int = 0
    node_pools: list[dict[str, Any]] = Field(default_factory=lambda: pools_to_data((NodePool(),)))
    fault_kinds: list[str] = Field(default_factory=list)
    controllers: list[str] | None = None
    faults: list[Fault] = Field(default_factory=list)
    steps: list[Operation] = Field(default_factory=list)
    finish: bool = True
    failure: dict[str, Any] | None = None
    found_by: str | None = None

    def recorded_failure(self) -> Failure | None:
        return None if self.failure is None else Failure.from_data(self.failure)

    def session(self, target: FuzzTarget | None = None) -> SimulationSession:
        target = target or load_target(self.target)
        config = target.config(
            seed=self.seed,
            node_pools=pools_from_data(self.node_pools),
            fault_kinds=frozenset(self.fault_kinds),
            faults=tuple(self.faults),
            controllers=tuple(self.controllers) if self.controllers is not None else None,
        )
        return SimulationSession(config)


def save_scenario_file(path: Path, scenario: ScenarioFile) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = scenario.model_dump(mode="json")
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))
    return path


def load_scenario_file(path: Path) -> ScenarioFile:
    data = yaml.safe_load(path.read_text())
    if not isinstance(data, dict) or data.get("kubeloop") != "simulation/v1":
        raise ValueError(f"{path} is not a kubeloop simulation scenario (kubeloop: simulation/v1)")
    return ScenarioFile.model_validate(data)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    failure: Failure | None
    trace_hash: str
    expected: Failure | None
    steps_run: int

    @property
    def reproduced(self) -> bool:
        """The recorded failure happened again, same oracle, message and trace."""
        if self.expected is None or self.failure is None:
            return self.expected is None and self.failure is None
        return (
            self.failure.oracle == self.expected.oracle
            and self.failure.message == self.expected.message
            and self.failure.trace_hash == self.expected.trace_hash
        )


def replay(scenario: ScenarioFile, *, target: FuzzTarget | None = None) -> ReplayResult:
    """Run the scenario again, exactly as it was run (see the module docstring)."""
    session = scenario.session(target)
    with session:
        for op in scenario.steps:
            session.step(op)
            if session.failure is not None:
                break
        if session.failure is None and scenario.finish:
            session.finish()
        return ReplayResult(
            session.failure, session.trace_hash(), scenario.recorded_failure(), len(session.steps)
        )
