"""The hypothesis state machine over a simulated cluster.

`simulation_machine(target, fault_kinds=...)` builds a `RuleBasedStateMachine`
class. Each example starts a fresh simulation (seed and node pools drawn by
hypothesis) in a `SimulationSession`: one event loop for the whole example,
whose host task owns the cluster, so hypothesis' synchronous rules can drive
the async cluster, on virtual time, one operation at a time.

Rules (each an `Operation`, run after `after` virtual seconds): apply a
workload, scale it, change its image, delete it, delete one of its pods,
fail or restore a node, inject a fault, wait. The safety invariants run
after every store write; the `@invariant` reports the first violation after
each step. At teardown, faults stop and ESR is checked.

On the first failure the scenario is shrunk by replaying smaller variants of
it (`runtime.simulation.shrink`; hypothesis' own shrinker would take minutes
here, so run the machine with `fuzz_settings`, which leaves out hypothesis'
shrink phase). The shrunk scenario is written to `<failure_dir>/<machine>.yaml`,
the seed and the file are noted, and `SimulationFailure` is raised;
`kubeloop replay FILE` reproduces it exactly.

Each example starts by collecting the collector's young generation: the
last example's cluster (its tasks, caches and store, cycles by the
thousand) is garbage by then, and one pass frees it before the next cluster
allocates. Under the raised thresholds campaigns run with
(`runtime.gctuning.simulation_gc`) that is nearly all the collecting an
example needs; under the default ones the young generation is small and
the pass costs next to nothing.

    run_state_machine_as_test(simulation_machine(BUILTIN), settings=fuzz_settings(50))

Neighbours: `runtime.simulation.session`, `runtime.simulation.strategies`,
`runtime.simulation.targets`, `runtime.simulation.replay`, `runtime.simulation.campaign`.
"""

from __future__ import annotations

import gc
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from hypothesis import HealthCheck, Phase, note, settings
from hypothesis import strategies as st
from hypothesis.errors import StopTest, UnsatisfiedAssumption
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from runtime.cluster import NodePool
from runtime.simulation import strategies as sst
from runtime.simulation.faults import Fault, expand_fault_classes
from runtime.simulation.operations import (
    Apply,
    Delete,
    DeletePod,
    Evict,
    FailNode,
    Inject,
    Operation,
    RestoreNode,
    Scale,
    SetImage,
    Wait,
)
from runtime.simulation.replay import ScenarioFile, pools_to_data, save_scenario_file
from runtime.simulation.session import Failure, SimulationSession
from runtime.simulation.shrink import shrink_scenario
from runtime.simulation.targets import BUILTIN, FuzzTarget

__all__ = [
    "DEFAULT_FAILURE_DIR",
    "ExampleStats",
    "SimulationFailure",
    "fuzz_settings",
    "simulation_machine",
]

DEFAULT_FAILURE_DIR = Path(os.environ.get("KUBELOOP_FAILURE_DIR", ".kubeloop/failures"))
AFTER = st.sampled_from((0.0, 0.5, 2.0, 10.0))
_NODE_KINDS = frozenset({"node_crash", "node_partition"})
ALL_RULES = frozenset(
    {
        "apply",
        "scale",
        "set_image",
        "delete",
        "delete_pod",
        "evict",
        "fail_node",
        "restore_node",
        "inject",
        "wait",
    }
)


def fuzz_settings(examples: int | None = None, *, steps: int = 20, **overrides: Any) -> settings:
    """Hypothesis settings for a simulation machine: the current profile's
    example budget unless `examples` is given, `steps` rules per example, no
    deadline, and no hypothesis shrink phase (the machine shrinks scenarios
    itself)."""
    values: dict[str, Any] = {
        "stateful_step_count": steps,
        "deadline": None,
        "phases": [Phase.explicit, Phase.reuse, Phase.generate],
        "suppress_health_check": list(HealthCheck),
    }
    if examples is not None:
        values["max_examples"] = examples
    values.update(overrides)
    return settings(settings.default, **values)


class SimulationFailure(AssertionError):
    """An oracle failed; the message names the oracle, the seed and the scenario file."""

    def __init__(self, failure: Failure, seed: int, path: Path | None) -> None:
        self.failure = failure
        self.seed = seed
        self.path = path
        where = f"; scenario written to {path}; replay with: kubeloop replay {path}" if path else ""
        super().__init__(f"{failure} [seed {seed}{where}]")


@dataclass(frozen=True, slots=True)
class ExampleStats:
    """What one example did, for campaign progress."""

    steps: int
    virtual_seconds: float
    writes: int
    faults: dict[str, int]
    failed: bool
    discarded: bool = False
    """Hypothesis abandoned the example half-drawn (it ran out of data): it
    does not count towards the budget, and its end state was not checked."""
    repeat: bool = False
    """Hypothesis re-ran an example whose failure was already reported (it
    runs the failing example once more to report it): not a new example."""


class _SimulationMachine(RuleBasedStateMachine):
    """Shared behaviour; `simulation_machine` adds the rules for one target."""

    target: ClassVar[FuzzTarget]
    fault_kinds: ClassVar[frozenset[str]]
    controllers: ClassVar[tuple[str, ...] | None]
    failure_path: ClassVar[Path | None]
    found_by: ClassVar[str]
    observer: ClassVar[Callable[[ExampleStats], None] | None] = None
    shrink: ClassVar[bool] = True
    shrunk: ClassVar[dict[str, ScenarioFile]]
    reported: ClassVar[set[str]]

    def __init__(self) -> None:
        super().__init__()
        self.session: SimulationSession | None = None
        self.repeat = False
        self.seed = 0
        self.pools: tuple[NodePool, ...] = ()
        self.node_names: list[str] = []
        self.workloads: dict[str, str] = {}

    # -- plumbing ------------------------------------------------------------------------------

    def _start(self, seed: int, pools: tuple[NodePool, ...]) -> None:
        gc.collect(0)  # the last example's cluster (see the module docstring)
        self.seed = seed
        self.pools = pools
        self.node_names = [f"{p.name}-{i}" for p in pools for i in range(p.count)]
        config = self.target.config(
            seed=seed, node_pools=pools, fault_kinds=self.fault_kinds, controllers=self.controllers
        )
        self.session = SimulationSession(config).start()
        note(f"kubeloop simulation seed {seed}, nodes {self.node_names}")

    def _do(self, op: Operation) -> None:
        assert self.session is not None
        self.session.step(op)
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        session = self.session
        if session is None or session.failure is None:
            return
        scenario = self._scenario(session)
        key = scenario.model_dump_json()
        self.repeat = key in type(self).reported
        type(self).reported.add(key)
        if type(self).shrink:
            scenario = self._shrunk(scenario)
        failure = scenario.recorded_failure()
        assert failure is not None
        path = None
        if self.failure_path is not None:
            path = save_scenario_file(self.failure_path, scenario)
        note(f"kubeloop: {failure} (seed {self.seed}, {len(scenario.steps)} steps after shrinking)")
        if path is not None:
            note(f"kubeloop: scenario written to {path}; replay with `kubeloop replay {path}`")
        raise SimulationFailure(failure, self.seed, path)

    @classmethod
    def _shrunk(cls, scenario: ScenarioFile) -> ScenarioFile:
        # Hypothesis runs a failing example once more to report it: shrink once.
        key = scenario.model_dump_json()
        if key not in cls.shrunk:
            cls.shrunk[key] = shrink_scenario(scenario, target=cls.target).scenario
        return cls.shrunk[key]

    def _scenario(self, session: SimulationSession) -> ScenarioFile:
        return ScenarioFile(
            target=self.target.ref or "",
            seed=self.seed,
            node_pools=pools_to_data(self.pools),
            fault_kinds=sorted(self.fault_kinds),
            controllers=list(self.controllers) if self.controllers is not None else None,
            steps=list(session.steps),
            finish=session.failure is not None and session.failure.step >= len(session.steps),
            failure=session.failure.to_data() if session.failure else None,
            found_by=self.found_by,
        )

    def _apply(self, manifest: dict[str, Any], after: float) -> None:
        self.workloads[manifest["metadata"]["name"]] = manifest["kind"]
        self._do(Apply(manifest=manifest, after=after))

    def _has(self, kinds: Iterable[str]) -> bool:
        allowed = set(kinds)
        return any(k in allowed for k in self.workloads.values())

    def _node(self, index: int) -> str:
        return self.node_names[index % len(self.node_names)]

    def _fault(self, fault: Fault) -> Fault:
        node = getattr(fault, "node", None)
        if isinstance(node, str) and node.startswith("#"):
            return fault.model_copy(update={"node": self._node(int(node[1:]))})
        return fault

    def _pick(self, index: int, kinds: Iterable[str]) -> tuple[str, str] | None:
        allowed = set(kinds)
        names = sorted((n, k) for n, k in self.workloads.items() if k in allowed)
        return names[index % len(names)] if names else None

    # -- oracles --------------------------------------------------------------------------------

    @invariant()
    def safety(self) -> None:
        self._raise_if_failed()

    def teardown(self) -> None:
        session, self.session = self.session, None
        if session is None:
            return
        self.session = session
        # Hypothesis calls teardown from a `finally`: an example it abandons
        # (StopTest: out of data; UnsatisfiedAssumption) is still propagating.
        discarded = isinstance(sys.exc_info()[1], StopTest | UnsatisfiedAssumption)
        try:
            if session.failure is None and not discarded:
                session.finish()
                self._raise_if_failed()
        finally:
            self.session = None
            self._report(session, discarded)
            session.close()

    def _report(self, session: SimulationSession, discarded: bool) -> None:
        observer = type(self).observer
        sim = session.simulation
        if observer is None or sim is None:
            return
        faults = dict(sim.injector.counts) if sim.injector is not None else {}
        observer(
            ExampleStats(
                steps=len(session.steps),
                virtual_seconds=sim.now(),
                writes=sim.trace.writes,
                faults=faults,
                failed=session.failure is not None,
                discarded=discarded,
                repeat=self.repeat,
            )
        )


def simulation_machine(
    target: FuzzTarget = BUILTIN,
    *,
    fault_kinds: Iterable[str] | None = None,
    fault_controllers: Iterable[str] | None = None,
    controllers: Iterable[str] | None = None,
    failure_dir: Path | None = DEFAULT_FAILURE_DIR,
    name: str | None = None,
    shrink: bool = True,
) -> type[RuleBasedStateMachine]:
    """A state machine fuzzing `target` with the given fault kinds or classes
    (default: the target's), faults aimed at `fault_controllers` (default: every
    controller that runs). Failures are shrunk (unless `shrink` is false) and
    written under `failure_dir`."""
    kinds = expand_fault_classes(target.fault_kinds if fault_kinds is None else fault_kinds)
    chosen_controllers = tuple(controllers) if controllers is not None else None
    targets = tuple(fault_controllers) if fault_controllers is not None else target.fault_targets()
    machine_name = name or f"{target.name.title().replace('-', '')}Simulation"
    pools = (
        sst.node_pools(max_nodes=target.max_nodes)
        if target.node_pools is None
        else st.just(target.node_pools)
    )
    workload = st.sampled_from(target.workload_names).flatmap(target.workloads)
    fault = (
        sst.faults(
            sorted(kinds),
            controllers=targets or ("none",),
            informers=target.informers,
            max_nodes=target.max_nodes,
            stale_scopes=target.stale_scopes,
            # A fault naming no controller hits them all: only when all may be hit.
            every_controller=fault_controllers is None and target.fault_controllers is None,
        )
        if kinds
        else st.nothing()
    )
    node_kinds = kinds & _NODE_KINDS

    rules = ALL_RULES if target.rules is None else target.rules
    unknown = sorted(set(rules) - ALL_RULES)
    if unknown:
        raise ValueError(f"unknown rule(s) {', '.join(unknown)}; choose from {sorted(ALL_RULES)}")
    if not node_kinds:
        rules = rules - {"fail_node", "restore_node"}
    if not kinds:
        rules = rules - {"inject"}

    class Machine(_SimulationMachine):
        @initialize(
            seed=st.integers(0, 2**32 - 1),
            pools=pools,
            initial=st.lists(workload, min_size=1, max_size=2),
        )
        def start(
            self, seed: int, pools: tuple[NodePool, ...], initial: list[dict[str, Any]]
        ) -> None:
            self._start(seed, pools)
            for manifest in initial:
                self._apply(manifest, 0.0)

        if "apply" in rules:

            @rule(manifest=workload, after=AFTER)
            def apply(self, manifest: dict[str, Any], after: float) -> None:
                self._apply(manifest, after)

        if "scale" in rules:

            @precondition(lambda self: self._has(target.scalable_kinds))
            @rule(pick=st.integers(0, 7), replicas=st.integers(0, 6), after=AFTER)
            def scale(self, pick: int, replicas: int, after: float) -> None:
                chosen = self._pick(pick, target.scalable_kinds)
                if chosen is not None:
                    self._do(Scale(kind=chosen[1], name=chosen[0], replicas=replicas, after=after))

        if "set_image" in rules:

            @precondition(lambda self: self._has(target.image_kinds))
            @rule(pick=st.integers(0, 7), image=st.sampled_from(sst.IMAGES), after=AFTER)
            def set_image(self, pick: int, image: str, after: float) -> None:
                chosen = self._pick(pick, target.image_kinds)
                if chosen is not None:
                    self._do(SetImage(kind=chosen[1], name=chosen[0], image=image, after=after))

        if "delete" in rules:

            @precondition(lambda self: bool(self.workloads))
            @rule(pick=st.integers(0, 7), after=AFTER)
            def delete(self, pick: int, after: float) -> None:
                chosen = self._pick(pick, set(self.workloads.values()))
                if chosen is not None:
                    self._do(Delete(kind=chosen[1], name=chosen[0], after=after))

        if "delete_pod" in rules:

            @precondition(lambda self: bool(self.workloads))
            @rule(pick=st.integers(0, 7), index=st.integers(0, 5), after=AFTER)
            def delete_pod(self, pick: int, index: int, after: float) -> None:
                chosen = self._pick(pick, set(self.workloads.values()))
                if chosen is not None:
                    self._do(DeletePod(owner=chosen[0], index=index, after=after))

        if "evict" in rules:

            @rule(index=st.integers(0, 7), after=AFTER)
            def evict(self, index: int, after: float) -> None:
                self._do(Evict(index=index, after=after))

        if "fail_node" in rules:

            @rule(
                node=st.integers(0, 7),
                mode=st.sampled_from(("crash", "stop", "partition")),
                after=AFTER,
            )
            def fail_node(self, node: int, mode: str, after: float) -> None:
                self._do(FailNode(node=self._node(node), mode=mode, after=after))

        if "restore_node" in rules:

            @rule(node=st.integers(0, 7), after=AFTER)
            def restore_node(self, node: int, after: float) -> None:
                self._do(RestoreNode(node=self._node(node), after=after))

        if "inject" in rules:

            @rule(fault=fault, after=AFTER)
            def inject(self, fault: Fault, after: float) -> None:
                self._do(Inject(fault=self._fault(fault), after=after))

        if "wait" in rules:

            @rule(after=st.sampled_from((1.0, 5.0, 30.0)))
            def wait(self, after: float) -> None:
                self._do(Wait(after=after))

    Machine.__name__ = Machine.__qualname__ = machine_name
    Machine.target = target
    Machine.fault_kinds = kinds
    Machine.controllers = chosen_controllers
    Machine.failure_path = None if failure_dir is None else failure_dir / f"{machine_name}.yaml"
    Machine.found_by = machine_name
    Machine.shrink = shrink
    Machine.shrunk = {}
    Machine.reported = set()
    return Machine
