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

A file that is not valid YAML, not a scenario, or not a valid one (an unknown
operation or fault kind, a fault its `fault_kinds` do not enable, a node its
node pools do not make, a node pool or recorded failure of the wrong shape)
raises `ScenarioError`, a ValueError naming the file and what is wrong, before
anything runs. A step the API refuses when it runs (an invalid manifest, an
unknown kind) makes the scenario invalid too: `replay` raises `ScenarioError`
naming the step, unless the step says what it expects (`expect: accepted`:
the refusal is a failure, `api:rejected`; `expect: rejected`: the refusal is
what the step tests, and an acceptance is a failure, `api:accepted`). A fuzz
run saves the steps the API refused as `expect: rejected`.

Neighbours: `runtime.simulation.session`, `runtime.simulation.targets`,
`runtime.simulation.machine` (writes files), `runtime.cli_fuzz` (`kubeloop replay`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from engine.api.core import Taint
from engine.documents import decode_documents, read_text
from engine.errors import ApiError
from runtime.cluster import NodePool
from runtime.simulation.faults import ALL_FAULT_KINDS, Fault
from runtime.simulation.operations import FailNode, Inject, Operation, RestoreNode
from runtime.simulation.session import Failure, SimulationSession
from runtime.simulation.simulation import SimulationConfig
from runtime.simulation.targets import FuzzTarget, load_target

__all__ = [
    "ReplayResult",
    "ScenarioError",
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


class ScenarioError(ValueError):
    """A scenario file that cannot be replayed: the message names the file and
    what is wrong with it."""


_POOL_FIELDS = frozenset(f.name for f in dataclasses.fields(NodePool))


def pools_from_data(data: list[dict[str, Any]]) -> tuple[NodePool, ...]:
    """Node pools from their plain-data form; ValueError naming the pool and
    field for anything that is not one."""
    pools = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"node_pools[{index}] is a {type(item).__name__}, not a mapping")
        unknown = sorted(set(item) - _POOL_FIELDS)
        if unknown:
            raise ValueError(
                f"node_pools[{index}] has unknown field(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(_POOL_FIELDS))}"
            )
        values = dict(item)
        try:
            values["taints"] = tuple(Taint.model_validate(t) for t in values.get("taints", ()))
        except ValidationError as error:
            raise ValueError(f"node_pools[{index}].taints: {describe_validation(error)}") from None
        values["zones"] = tuple(values.get("zones", ()))
        try:
            pools.append(NodePool(**values))
        except (TypeError, ValueError) as error:
            raise ValueError(f"node_pools[{index}]: {error}") from None
    return tuple(pools)


def describe_validation(error: ValidationError, *, most: int = 3) -> str:
    """A pydantic error as one short line: where (`steps[2].inject.fault...`) and what."""
    parts = []
    for item in error.errors()[:most]:
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in item["loc"])
        message = item["msg"].removeprefix("Value error, ")
        parts.append(f"{where.lstrip('.') or 'the file'}: {message}")
    more = error.error_count() - most
    return "; ".join(parts) + (f" (and {more} more error(s))" if more > 0 else "")


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

    @field_validator("node_pools")
    @classmethod
    def _valid_pools(cls, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        pools_from_data(value)
        return value

    @field_validator("fault_kinds")
    @classmethod
    def _known_fault_kinds(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(ALL_FAULT_KINDS))
        if unknown:
            raise ValueError(
                f"unknown fault kind(s) {', '.join(unknown)}; known: {', '.join(ALL_FAULT_KINDS)}"
            )
        return value

    @field_validator("failure")
    @classmethod
    def _failure_shape(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is None:
            return None
        missing = [k for k in ("oracle", "message") if not isinstance(value.get(k), str)]
        if missing:
            raise ValueError(f"a recorded failure needs {' and '.join(missing)} (text)")
        try:
            Failure.from_data(value)
        except (TypeError, ValueError) as error:
            raise ValueError(f"a recorded failure has a field of the wrong type: {error}") from None
        return value

    @model_validator(mode="after")
    def _faults_enabled(self) -> ScenarioFile:
        # A fault of a kind the run did not enable would be refused mid-run (or,
        # upfront, silently have no effect): say so before anything runs.
        enabled = set(self.fault_kinds)
        where = [(f"faults[{i}]", f) for i, f in enumerate(self.faults)]
        where += [
            (f"steps[{i}]", s.fault) for i, s in enumerate(self.steps) if isinstance(s, Inject)
        ]
        for place, fault in where:
            if fault.kind not in enabled:
                raise ValueError(
                    f"{place} is a {fault.kind} fault, which fault_kinds does not enable"
                )
        # A node that does not exist would fail the run as an error, not as bad input.
        nodes = {f"{p.name}-{i}" for p in pools_from_data(self.node_pools) for i in range(p.count)}
        named = [(place, getattr(fault, "node", None)) for place, fault in where]
        named += [
            (f"steps[{i}]", s.node)
            for i, s in enumerate(self.steps)
            if isinstance(s, FailNode | RestoreNode)
        ]
        for place, node in named:
            if node is not None and node not in nodes:
                raise ValueError(
                    f"{place} names node {node!r}, which node_pools do not make "
                    f"(they make {', '.join(sorted(nodes)) or 'no nodes'})"
                )
        return self

    def recorded_failure(self) -> Failure | None:
        return None if self.failure is None else Failure.from_data(self.failure)

    def config(self, target: FuzzTarget | None = None) -> SimulationConfig:
        """The simulation's configuration under `target` (the scenario's by
        default); ValueError for controllers the target does not have."""
        target = target or load_target(self.target)
        config = target.config(
            seed=self.seed,
            node_pools=pools_from_data(self.node_pools),
            fault_kinds=frozenset(self.fault_kinds),
            faults=tuple(self.faults),
            controllers=tuple(self.controllers) if self.controllers is not None else None,
        )
        config.setups()  # unknown controller names fail here, not mid-run
        return config

    def session(self, target: FuzzTarget | None = None) -> SimulationSession:
        return SimulationSession(self.config(target))


def save_scenario_file(path: Path, scenario: ScenarioFile) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = scenario.model_dump(mode="json")
    data["steps"] = [op.to_data() for op in scenario.steps]
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=100))
    return path


def load_scenario_file(path: Path) -> ScenarioFile:
    """Read and validate a scenario file: `ScenarioError` (naming the file and
    what is wrong, an unreadable file included) for anything but a valid
    scenario. The file is decoded as strictly as manifests (`engine.documents`)."""
    try:
        documents = decode_documents(read_text(path), str(path))
    except ApiError as error:
        raise ScenarioError(str(error)) from None
    data = documents[0] if len(documents) == 1 else None
    if not isinstance(data, dict) or "kubeloop" not in data:
        raise ScenarioError(
            f"{path} is not a kubeloop simulation scenario (it lacks `kubeloop: simulation/v1`)"
        )
    if data["kubeloop"] != "simulation/v1":
        raise ScenarioError(
            f"{path}: unsupported scenario version {data['kubeloop']!r} (want simulation/v1)"
        )
    try:
        return ScenarioFile.model_validate(data)
    except ValidationError as error:
        raise ScenarioError(f"{path}: invalid scenario: {describe_validation(error)}") from None


@dataclass(frozen=True, slots=True)
class ReplayResult:
    failure: Failure | None
    trace_hash: str
    expected: Failure | None
    steps_run: int

    @property
    def reproduced(self) -> bool:
        """The recorded failure happened again, same oracle, message and trace
        (a failure recorded by hand, without a trace hash: same oracle and message)."""
        if self.expected is None or self.failure is None:
            return self.expected is None and self.failure is None
        return (
            self.failure.oracle == self.expected.oracle
            and self.failure.message == self.expected.message
            and self.failure.trace_hash == (self.expected.trace_hash or self.failure.trace_hash)
        )


def replay(scenario: ScenarioFile, *, target: FuzzTarget | None = None) -> ReplayResult:
    """Run the scenario again, exactly as it was run (see the module docstring)."""
    session = scenario.session(target)
    with session:
        for op in scenario.steps:
            session.step(op)
            if session.rejections:
                index, why = session.rejections[0]
                raise ScenarioError(
                    f"invalid scenario: the API rejected steps[{index}] ({op.op}): {why} "
                    "(a step expected to be rejected says `expect: rejected`)"
                )
            if session.failure is not None:
                break
        if session.failure is None and scenario.finish:
            session.finish()
        return ReplayResult(
            session.failure, session.trace_hash(), scenario.recorded_failure(), len(session.steps)
        )
