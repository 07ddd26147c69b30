"""Deterministic simulation, fault injection and convergence fuzzing.

The pieces, each in its own module:

* `simulation`: `Simulation` / `SimulationConfig`, a whole cluster on virtual
  time with every controller hosted (and crashable) on its own manager;
  `run_until`, `run_until_quiescent`, `step(op)`, `check_esr()`, `trace_hash()`.
* `trace`: the ordered list of every store write and its hash.
* `faults` (the data), `injector` (applying a schedule), `chaos` (the faulty
  client and watcher every controller talks through), `history` (stale reads),
  `hosting` (controller incarnations).
* `invariants` (safety, after every write), `liveness` (desired state, ESR),
  `differential` (equivalent end states), `view` (indexes they share).
* `operations`: what a user does, as data; `session`: a simulation driven
  from synchronous code; `replay`: scenario files and exact replay.
* `strategies`, `machine`, `campaign`: hypothesis strategies, the rule-based
  state machine and `kubeloop fuzz` (these need hypothesis installed).
* `targets`: `FuzzTarget`, what to fuzz; `BUILTIN` for the built-in controllers.

Importing this package does not import hypothesis.
"""

from runtime.simulation.faults import FAULT_CLASSES, Fault, FaultSchedule, expand_fault_classes
from runtime.simulation.invariants import SAFETY, InvariantRegistry, Violation
from runtime.simulation.liveness import DESIRED, DesiredContext, DesiredStateRegistry, Difference
from runtime.simulation.operations import (
    Apply,
    Delete,
    DeletePod,
    FailNode,
    Inject,
    Operation,
    RestoreNode,
    Scale,
    SetImage,
    Wait,
)
from runtime.simulation.replay import ReplayResult, ScenarioFile, load_scenario_file, replay
from runtime.simulation.session import Failure, SimulationSession
from runtime.simulation.simulation import LivenessReport, Simulation, SimulationConfig
from runtime.simulation.targets import BUILTIN, FuzzTarget, load_target
from runtime.simulation.trace import Trace

__all__ = [
    "BUILTIN",
    "DESIRED",
    "FAULT_CLASSES",
    "SAFETY",
    "Apply",
    "Delete",
    "DeletePod",
    "DesiredContext",
    "DesiredStateRegistry",
    "Difference",
    "FailNode",
    "Failure",
    "Fault",
    "FaultSchedule",
    "FuzzTarget",
    "Inject",
    "InvariantRegistry",
    "LivenessReport",
    "Operation",
    "ReplayResult",
    "RestoreNode",
    "Scale",
    "ScenarioFile",
    "SetImage",
    "Simulation",
    "SimulationConfig",
    "SimulationSession",
    "Trace",
    "Violation",
    "Wait",
    "expand_fault_classes",
    "load_scenario_file",
    "load_target",
    "replay",
]
