"""Fuzz targets: what the harness fuzzes, as one value.

A `FuzzTarget` names the controllers to run (built-in ones by name, a user's
by setup function), the workloads the fuzzer applies (a hypothesis strategy
of manifests per workload name), which kinds the scale, set_image and
delete_pod operations apply to, which controllers faults may target, and the
oracles (invariant and desired-state registries). `BUILTIN` fuzzes the
built-in controllers with Deployments, ReplicaSets, Jobs, CronJobs,
StatefulSets, DaemonSets, ReplicationControllers, PodDisruptionBudgets
(and evictions) and HorizontalPodAutoscalers, under every fault class,
sparing them nothing.

A target is referred to in scenario files by `ref`, "module:attribute", so
`kubeloop replay` can import it again (a user's target module must be
importable from where replay runs).

Neighbours: `runtime.simulation.machine` (builds a state machine from a
target), `runtime.simulation.replay` (imports targets by ref),
`runtime.simulation.strategies` (imported lazily: the harness itself runs
without hypothesis).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.api.base import Resource
from runtime.cluster import NodePool
from runtime.simulation.faults import ALL_FAULT_KINDS, Fault
from runtime.simulation.hosting import Setup
from runtime.simulation.invariants import SAFETY, InvariantRegistry
from runtime.simulation.liveness import DESIRED, DesiredStateRegistry
from runtime.simulation.simulation import SimulationConfig

__all__ = ["AUTOSCALING", "BUILTIN", "FuzzTarget", "load_target"]


BUILTIN_WORKLOAD_KINDS = ("Deployment", "ReplicaSet", "Job", "CronJob")


def _builtin_workloads(name: str) -> Any:
    from runtime.simulation.strategies_apps import all_workloads

    return all_workloads(name, kinds=BUILTIN_WORKLOAD_KINDS)


@dataclass(frozen=True)
class FuzzTarget:
    """What to fuzz (see the module docstring). `workloads(name)` returns a
    hypothesis strategy of manifests (dicts) whose metadata.name is `name`."""

    name: str
    workloads: Callable[[str], Any] = _builtin_workloads
    workload_names: tuple[str, ...] = ("web", "api", "db")
    rules: frozenset[str] | None = None
    """The state machine's rules to use (None: all of apply, scale, set_image,
    delete, delete_pod, evict, fail_node, restore_node, inject, wait)."""
    scalable_kinds: tuple[str, ...] = (
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "ReplicationController",
    )
    image_kinds: tuple[str, ...] = (
        "Deployment",
        "ReplicaSet",
        "StatefulSet",
        "DaemonSet",
        "ReplicationController",
    )
    controllers: tuple[str, ...] | None = None
    custom_controllers: Mapping[str, Setup] = field(default_factory=dict)
    fault_controllers: tuple[str, ...] | None = None
    """Controllers faults may target (None: every controller that runs)."""
    informers: tuple[str, ...] = (
        "Pod",
        "ReplicaSet",
        "Deployment",
        "Job",
        "CronJob",
        "Node",
        "Lease",
        "StatefulSet",
        "DaemonSet",
        "ControllerRevision",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
    )
    fault_kinds: tuple[str, ...] = ALL_FAULT_KINDS
    stale_scopes: tuple[str, ...] = ("cache",)
    """Scopes of generated stale_reads faults: "cache" keeps Kubernetes' promise
    that a read without resourceVersion is current (the built-in controllers,
    the garbage collector above all, rely on it); add "all" to test a
    controller that must survive stale direct reads too."""
    kinds: tuple[type[Resource], ...] = ()
    """Kinds of your own the simulated cluster serves (`SimulationConfig.kinds`)."""
    invariant_registry: InvariantRegistry = SAFETY
    invariants: tuple[str, ...] | None = None
    desired_registry: DesiredStateRegistry = DESIRED
    desired_checks: tuple[str, ...] | None = None
    exemptions: Mapping[str, frozenset[str]] = field(default_factory=dict)
    """Per controller, fault effects it is spared: a stopgap for a user's own
    controller with a known issue while it is being fixed (the built-in
    controllers have none)."""
    esr_bound: float = 1200.0
    esr_window: float = 60.0
    max_nodes: int = 3
    node_pools: tuple[NodePool, ...] | None = None
    """Fixed node pools (None: drawn by hypothesis, up to `max_nodes` nodes)."""
    ref: str | None = None
    """"module:attribute" under which this target can be imported again."""

    def config(
        self,
        *,
        seed: int,
        node_pools: tuple[NodePool, ...],
        fault_kinds: frozenset[str] | None = None,
        faults: tuple[Fault, ...] = (),
        controllers: tuple[str, ...] | None = None,
        keep_trace_lines: bool = False,
    ) -> SimulationConfig:
        return SimulationConfig(
            node_pools=node_pools,
            seed=seed,
            controllers=controllers if controllers is not None else self.controllers,
            custom_controllers=self.custom_controllers,
            kinds=self.kinds,
            faults=faults,
            fault_kinds=frozenset(self.fault_kinds) if fault_kinds is None else fault_kinds,
            invariants=self.invariants,
            invariant_registry=self.invariant_registry,
            desired_checks=self.desired_checks,
            desired_registry=self.desired_registry,
            esr_bound=self.esr_bound,
            esr_window=self.esr_window,
            keep_trace_lines=keep_trace_lines,
            exemptions=self.exemptions,
        )

    def fault_targets(self) -> tuple[str, ...]:
        """The controller names faults may target."""
        if self.fault_controllers is not None:
            return self.fault_controllers
        return tuple(self.config(seed=0, node_pools=self.node_pools or ()).setups())


BUILTIN = FuzzTarget(name="builtin", ref="runtime.simulation.targets:BUILTIN")
"""Every built-in controller (`controllers.registry`) fuzzed with every
workload kind they drive and disruption budgets, every fault class on and
nothing exempted."""


AUTOSCALING = FuzzTarget(
    name="autoscaling",
    ref="runtime.simulation.targets:AUTOSCALING",
    node_pools=(
        NodePool(
            name="node",
            count=2,
            min_count=1,
            max_count=4,
            cpu="2",
            memory="4Gi",
            labels={"disktype": "ssd"},
            zones=("zone-a", "zone-b"),
            provisioning_delay=30.0,
        ),
    ),
)
"""`BUILTIN` with one autoscaled pool (1 to 4 nodes, starting at 2): the
cluster autoscaler among the controllers under every fault class, with its
invariants (`runtime.simulation.oracles_autoscaler`). Node faults and
operations on a node it removed do nothing. `BUILTIN` keeps its drawn,
fixed-size pools, so its examples stay what they were."""


def load_target(ref: str) -> FuzzTarget:
    """Import a target from "module:attribute"."""
    module_name, _, attribute = ref.partition(":")
    if not module_name or not attribute:
        raise ValueError(f"a target is named as module:attribute, got {ref!r}")
    module = importlib.import_module(module_name)
    try:
        target = getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"module {module_name} has no attribute {attribute!r}") from None
    if not isinstance(target, FuzzTarget):
        raise ValueError(f"{ref} is a {type(target).__name__}, not a FuzzTarget")
    return target
