"""`SimulationSession`: a `Simulation` driven from synchronous code.

Hypothesis' rule-based state machines are synchronous; the cluster is not.
A session owns one event loop (`asyncio.Runner`) for its whole life and one
long-lived host task on it, which enters the `Simulation` (its task groups
must be entered and left by the same task) and then carries out each call
the synchronous side makes, in order. The loop runs only while a call is in
progress: between calls the cluster is frozen, and no virtual time passes.

The calls a session makes (`start`, `step`, `finish`, `close`) are the whole
of what determines a run, so a replay that makes the same calls with the
same operations reproduces the run exactly, trace hash included: the state
machine and `kubeloop replay` both drive sessions.

A session also records the first failure it sees (`failure`): a safety
violation after a step, an unexpected exception, or an ESR failure at
`finish()`, each with the trace hash at that point.

Neighbours: `runtime.simulation.simulation`, `runtime.simulation.machine`,
`runtime.simulation.replay` (scenario files), `runtime.cluster.sync` (the same
pattern for the plain `Cluster`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from runtime.simulation.operations import Operation
from runtime.simulation.simulation import LivenessReport, Simulation, SimulationConfig

__all__ = ["Failure", "SimulationSession"]

T = TypeVar("T")
_Command = tuple[Callable[[Simulation], Awaitable[Any]], "asyncio.Future[Any]"]


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
        self.simulation: Simulation | None = None
        self.steps: list[Operation] = []
        self.outcomes: list[str] = []
        self.failure: Failure | None = None
        self.liveness: LivenessReport | None = None
        self._runner: asyncio.Runner | None = None
        self._commands: asyncio.Queue[_Command | None] | None = None
        self._host: asyncio.Task[None] | None = None
        self._current: asyncio.Future[Any] | None = None
        self._dead: BaseException | None = None
        self._last_simulation: Simulation | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> SimulationSession:
        self._runner = asyncio.Runner()
        try:
            self._runner.run(self._start())
        except BaseException:
            self._runner.close()
            self._runner = None
            raise
        return self

    def close(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        try:
            runner.run(self._stop())
        finally:
            runner.close()

    def __enter__(self) -> SimulationSession:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _start(self) -> None:
        self._commands = asyncio.Queue()
        started: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._host = asyncio.create_task(self._serve(started))
        await started

    async def _serve(self, started: asyncio.Future[None]) -> None:
        assert self._commands is not None
        try:
            async with Simulation(self.config) as simulation:
                self.simulation = self._last_simulation = simulation
                started.set_result(None)
                while (command := await self._commands.get()) is not None:
                    fn, done = command
                    self._current = done
                    try:
                        done.set_result(await fn(simulation))
                    except Exception as error:
                        done.set_exception(error)
                    self._current = None
        except BaseException as error:
            # The simulation itself died: whoever waits must hear of it.
            self._dead = error
            for waiter in (started, self._current):
                if waiter is not None and not waiter.done():
                    waiter.set_exception(
                        RuntimeError(f"the simulation stopped: {error!r}")
                        if not isinstance(error, Exception)
                        else error
                    )
            if isinstance(error, Exception):
                return
            raise
        finally:
            self.simulation = None

    async def _stop(self) -> None:
        if self._commands is not None and self._host is not None:
            await self._commands.put(None)
            await self._host

    async def _submit(self, fn: Callable[[Simulation], Awaitable[T]]) -> T:
        assert self._commands is not None
        if self._dead is not None:
            raise RuntimeError(f"the simulation stopped: {self._dead!r}")
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._commands.put((fn, done))
        return await done

    def call(self, fn: Callable[[Simulation], Awaitable[T]]) -> T:
        """Run `await fn(simulation)` on the session's loop and return its result."""
        if self._runner is None:
            raise RuntimeError("the session is not started")
        return self._runner.run(self._submit(fn))

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
