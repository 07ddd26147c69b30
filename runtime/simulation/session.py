"""`SimulationSession`: a `Simulation` driven from synchronous code.

Hypothesis' rule-based state machines are synchronous; the cluster is not.
A session hosts the `Simulation` on a `runtime.synchost.SyncHost`: one event
loop for its whole life and one long-lived task on it, which enters the
simulation and then carries out each call the synchronous side makes, in
order. The loop runs only while a call is in progress: between calls the
cluster is frozen, and no virtual time passes.

The calls a session makes (`start`, `step`, `finish`, `close`) are the whole
of what determines a run, so a replay that makes the same calls with the
same operations reproduces the run exactly, trace hash included: the state
machine and `kubeloop replay` both drive sessions.

A session also records the first failure it sees (`failure`): a safety
violation after a step, an unexpected exception, or an ESR failure at
`finish()`, each with the trace hash at that point.

A step the API refuses (`operations.Rejected`) is judged by its `expect`:
`accepted` makes the refusal a failure (oracle `api:rejected`), `rejected`
makes it the expected outcome (and an acceptance a failure, `api:accepted`).
Unset, the refusal is recorded in `rejections` and the step is kept in
`steps` as `expect: rejected`, so a scenario saved from the run states it
and replays exactly; `kubeloop replay` treats an unexpected refusal as an
invalid scenario.

Neighbours: `runtime.simulation.simulation`, `runtime.simulation.machine`,
`runtime.simulation.replay` (scenario files), `runtime.synchost`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from runtime.simulation.operations import Operation, Rejected
from runtime.simulation.simulation import LivenessReport, Simulation, SimulationConfig
from runtime.synchost import SyncHost

__all__ = ["Failure", "SimulationSession"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong in a run, where, and the trace hash when it was seen."""

    oracle: str
    message: str
    step: int
    time: float
    trace_hash: str
    revision: int = 0

    def __str__(self) -> str:
        return f"{self.oracle}: {self.message}"

    def to_data(self) -> dict[str, Any]:
        return {
            "oracle": self.oracle,
            "message": self.message,
            "step": self.step,
            "time": self.time,
            "revision": self.revision,
            "trace_hash": self.trace_hash,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> Failure:
        return cls(
            oracle=str(data["oracle"]),
            message=str(data["message"]),
            step=int(data.get("step", 0)),
            time=float(data.get("time", 0.0)),
            trace_hash=str(data.get("trace_hash", "")),
            revision=int(data.get("revision", 0)),
        )


class SimulationSession:
    """See the module docstring."""

    def __init__(self, config: SimulationConfig) -> None:
        self.config = config
        self.steps: list[Operation] = []
        self.outcomes: list[str] = []
        self.failure: Failure | None = None
        self.rejections: list[tuple[int, str]] = []
        """(step index, why) for each refused step that did not say what it expected."""
        self.liveness: LivenessReport | None = None
        self._host: SyncHost[Simulation] = SyncHost(lambda: Simulation(self.config))

    @property
    def simulation(self) -> Simulation | None:
        """The running simulation (None before start and after close)."""
        return self._host.value

    @property
    def _last_simulation(self) -> Simulation | None:
        return self._host.last

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> SimulationSession:
        self._host.start()
        return self

    def close(self) -> None:
        self._host.close()

    def __enter__(self) -> SimulationSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, fn: Callable[[Simulation], Awaitable[T]]) -> T:
        """Run `await fn(simulation)` on the session's loop and return its result."""
        if not self._host.running:
            raise RuntimeError("the session is not started")
        return self._host.call(fn)

    @property
    def sim(self) -> Simulation:
        if self.simulation is None:
            raise RuntimeError("the session is not started")
        return self.simulation

    # -- the run ---------------------------------------------------------------------------

    def step(self, op: Operation) -> str:
        """Carry out one operation, then check the safety oracles; records (and
        returns) the first failure rather than raising it."""
        index = len(self.steps)
        self.steps.append(op)
        try:
            outcome = self.call(lambda sim: sim.step(op))
            if op.expect == "rejected":
                self._fail("api:accepted", f"step {index} was accepted: {outcome}", index)
        except Rejected as rejected:
            outcome = f"rejected: {rejected}"
            if op.expect == "accepted":
                self._fail("api:rejected", f"step {index} was rejected: {rejected}", index)
            elif op.expect is None:
                self.rejections.append((index, str(rejected)))
                self.steps[index] = op.model_copy(update={"expect": "rejected"})
        except Exception as error:
            outcome = f"error: {error!r}"
            self._fail("error", f"{type(error).__name__}: {error}", index)
        self.outcomes.append(outcome)
        self._check_safety(index)
        return outcome

    def _check_safety(self, index: int) -> None:
        sim = self._last_simulation
        if self.failure is None and sim is not None and (sim.errors or sim.violations):
            first = (sim.errors or sim.violations)[0]
            self._fail(first.oracle, first.message, index, revision=first.revision, at=first.time)

    def finish(self) -> LivenessReport | None:
        """Stop faults and check ESR (unless the run already failed)."""
        if self.failure is not None:
            return None
        report = self.call(lambda sim: sim.check_esr())
        self.liveness = report
        self._check_safety(len(self.steps))
        if self.failure is None and not report.ok:
            self._fail("liveness:esr", report.message, len(self.steps))
        return report

    def _fail(
        self, oracle: str, message: str, step: int, *, revision: int = 0, at: float | None = None
    ) -> None:
        if self.failure is not None:
            return
        sim = self._last_simulation
        assert sim is not None
        self.failure = Failure(
            oracle=oracle,
            message=message,
            step=step,
            time=sim.now() if at is None else at,
            trace_hash=sim.trace_hash(),
            revision=revision or sim.store.revision,
        )

    def trace_hash(self) -> str:
        sim = self._last_simulation
        if sim is None:
            raise RuntimeError("the session was never started")
        return sim.trace_hash()
