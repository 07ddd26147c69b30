"""`kubeloop replay` and `kubeloop fuzz`: the simulation harness on the command line.

    kubeloop replay FILE [--target MODULE:ATTR] [--json]
    kubeloop fuzz [--examples N] [--seed S] [--faults LIST] [--controllers LIST]
                  [--steps N] [--target MODULE:ATTR] [--out DIR] [--no-shrink] [--json]
                  [--log-level LEVEL] [--workers N] [--cluster ADDRESS]

`replay` runs a scenario file written by a failing fuzz run (or by hand) and
says whether its recorded failure happened again, exactly (same oracle, same
message, same trace hash). Exit status: 0 the scenario passes, 1 it fails
(the recorded failure or another one), 2 bad input, including a step the
API refuses that does not say `expect: rejected`.

`fuzz` runs a campaign of hypothesis examples against a fuzz target (the
built-in controllers by default), showing progress, then a summary: examples,
steps, virtual time simulated, store writes, faults that took effect by kind,
and the failure, if one was found, with its seed and the scenario file to
replay. `--faults` takes fault classes (watch, stale, write, crash, node, all,
none) or fault kinds, comma-separated (default: the target's fault kinds, every
one for the built-in controllers); `--controllers` names the controllers
faults may target (all of the target's run either way). The example count
defaults to `KUBELOOP_FUZZ_EXAMPLES` or 100; exactly that many examples run
to the end (unless a failure stops the campaign first, or hypothesis runs out
of distinct examples), and examples
hypothesis abandons half-drawn are reported apart as discarded. `--workers N`
runs the campaign in shards on N local processes, `--cluster ADDRESS` on a
Dask distributed cluster (`runtime.simulation.sharding`): the examples and
failures depend only on the seed and the example count, never on the number
of workers (a campaign without a seed draws one and reports it). Exit status: 0 no failure, 1 a
failure, 2 bad input, or hypothesis missing (`fuzz` needs it: the `kubeloop[fuzz]`
extra; `replay` does not).

`register(subparsers)` adds both to `kubeloop`'s parser; `main(args)` runs one.

Neighbours: `runtime.cli` (registers these), `runtime.simulation.replay`,
`runtime.simulation.campaign`.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from runtime.gctuning import simulation_gc

__all__ = ["COMMANDS", "main", "register"]

COMMANDS = ("replay", "fuzz")


def register(sub: Any) -> None:
    """Add `replay` and `fuzz` to `kubeloop`'s subparsers."""
    replay = sub.add_parser("replay", help="replay a simulation scenario file exactly")
    replay.add_argument("file", type=Path, help="a scenario file written by a fuzz run")
    replay.add_argument("--target", default=None, help="fuzz target as module:attribute")
    replay.add_argument("--json", action="store_true", help="print the result as JSON")
    fuzz = sub.add_parser("fuzz", help="fuzz controllers for convergence under faults")
    fuzz.add_argument("--examples", type=int, default=None, help="hypothesis examples")
    fuzz.add_argument("--seed", type=int, default=None, help="campaign seed")
    fuzz.add_argument(
        "--faults",
        default=None,
        help="fault classes or kinds, comma-separated (default: the target's)",
    )
    fuzz.add_argument("--controllers", default=None, help="controllers faults may target")
    fuzz.add_argument("--steps", type=int, default=20, help="operations per example")
    fuzz.add_argument(
        "--target", default="runtime.simulation.targets:BUILTIN", help="module:attribute"
    )
    fuzz.add_argument(
        "--out",
        type=Path,
        default=Path(".kubeloop/failures"),
        help="directory for failing scenario files (default .kubeloop/failures)",
    )
    fuzz.add_argument("--no-shrink", action="store_true", help="report the first failure as is")
    fuzz.add_argument("--json", action="store_true", help="print the summary as JSON")
    fuzz.add_argument(
        "--workers",
        type=int,
        default=None,
        help="run the campaign in shards on N local processes",
    )
    fuzz.add_argument(
        "--cluster",
        default=None,
        metavar="ADDRESS",
        help="run the campaign's shards on a Dask distributed scheduler (tcp://host:port)",
    )
    fuzz.add_argument(
        "--log-level",
        default="critical",
        help="controllers' log lines shown (default critical: injected faults make "
        "them report errors on purpose; the summary reports what failed)",
    )


def main(args: argparse.Namespace) -> int:
    sys.path.insert(0, os.getcwd())  # user targets next to where kubeloop runs
    try:
        if args.command == "replay":
            return _replay(args)
        return _fuzz(args)
    except (ValueError, OSError, ImportError) as error:
        print(f"kubeloop: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2


def _replay(args: argparse.Namespace) -> int:
    from runtime.simulation.replay import ScenarioError, load_scenario_file, replay
    from runtime.simulation.targets import load_target

    scenario = load_scenario_file(args.file)
    ref = args.target or scenario.target
    try:
        target = load_target(ref)
        scenario.config(target)
    except (ImportError, ValueError) as error:
        raise ValueError(f"{args.file}: target {ref}: {error}") from None
    try:
        result = replay(scenario, target=target)
    except ScenarioError as error:
        raise ValueError(f"{args.file}: {error}") from None
    expected = result.expected
    if args.json:
        print(
            json.dumps(
                {
                    "reproduced": result.reproduced,
                    "failure": result.failure.to_data() if result.failure else None,
                    "expected": expected.to_data() if expected else None,
                    "trace_hash": result.trace_hash,
                    "steps": result.steps_run,
                },
                indent=2,
            )
        )
    else:
        console = Console(highlight=False)
        console.print(f"replayed {args.file}: seed {scenario.seed}, {result.steps_run} step(s)")
        if result.failure is None:
            console.print("[green]passes[/]: no oracle failed")
            if expected is not None:
                console.print(f"the recorded failure did not happen again: {expected}")
        else:
            console.print(f"[red]fails[/]: {result.failure}")
            if result.reproduced:
                console.print(f"reproduced exactly (trace {result.trace_hash[:16]})")
            elif expected is not None:
                console.print(f"recorded instead: {expected}")
        console.print(f"trace hash {result.trace_hash}")
    return 0 if result.failure is None else 1


def _fuzz(args: argparse.Namespace) -> int:
    try:
        import hypothesis  # noqa: F401
    except ImportError:
        raise ValueError("kubeloop fuzz needs hypothesis: pip install 'kubeloop[fuzz]'") from None
    from engine.logging import configure_logging
    from runtime.simulation.campaign import CampaignProgress, run_campaign
    from runtime.simulation.faults import expand_fault_classes
    from runtime.simulation.targets import load_target

    configure_logging(args.log_level)
    target = load_target(args.target)
    kinds = expand_fault_classes(
        target.fault_kinds if args.faults is None else args.faults.split(",")
    )
    controllers = None
    if args.controllers:
        controllers = tuple(c.strip() for c in args.controllers.split(",") if c.strip())
        known = set(target.config(seed=0, node_pools=()).setups())
        unknown = sorted(set(controllers) - known)
        if unknown:
            choices = ", ".join(sorted(known))
            raise ValueError(f"unknown controller(s) {', '.join(unknown)}; choose from {choices}")
    examples = args.examples
    if examples is None:
        budget = os.environ.get("KUBELOOP_FUZZ_EXAMPLES", "").strip()
        if budget and not budget.isdigit():
            raise ValueError(f"KUBELOOP_FUZZ_EXAMPLES must be a number, got {budget!r}")
        examples = int(budget or 0) or 100
    if examples < 1:
        raise ValueError(f"--examples must be at least 1, got {examples}")
    if args.steps < 1:
        raise ValueError(f"--steps must be at least 1, got {args.steps}")
    if args.workers is not None or args.cluster is not None:
        return _fuzz_sharded(args, target, kinds, controllers, examples)
    console = Console(stderr=True, highlight=False)
    status = console.status("fuzzing ...") if not args.json else None

    def show(progress: CampaignProgress) -> None:
        if status is not None:
            status.update(
                f"examples {progress.examples}/{examples}  "
                f"{progress.examples_per_second:.1f}/s  steps {progress.steps}  "
                f"virtual {progress.virtual_seconds:,.0f}s  "
                f"faults {sum(progress.faults.values())}"
                + ("  shrinking a failure" if progress.failing_examples else "")
            )

    if status is not None:
        status.start()
    try:
        with _campaign_gc():
            result = run_campaign(
                target,
                examples=examples,
                seed_value=args.seed,
                fault_kinds=kinds,
                fault_controllers=controllers,
                steps=args.steps,
                failure_dir=args.out,
                shrink=not args.no_shrink,
                progress=show,
            )
    finally:
        if status is not None:
            status.stop()
    _summary(result, target.name, kinds, args)
    return 0 if result.ok else 1


def _fuzz_sharded(
    args: argparse.Namespace,
    target: Any,
    kinds: frozenset[str],
    controllers: tuple[str, ...] | None,
    examples: int,
) -> int:
    import random
    import time
    from concurrent.futures import Executor

    from runtime.simulation.sharding import ShardedCampaign, run_sharded_campaign

    workers = 1 if args.workers is None else args.workers
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if args.workers is not None and args.cluster is not None:
        raise ValueError("--workers and --cluster exclude each other (the cluster has its own)")
    # A campaign is reproducible from its seed: one is drawn (and reported) when none is given.
    campaign_seed = args.seed if args.seed is not None else random.SystemRandom().getrandbits(32)
    executor: Executor | None = None
    client: Any = None
    if args.cluster is not None:
        client = _dask_client(args.cluster)
        executor = client.get_executor()
    console = Console(stderr=True, highlight=False)
    status = console.status("fuzzing ...") if not args.json else None
    started = time.perf_counter()
    shown = False

    def show(progress: ShardedCampaign) -> None:
        nonlocal shown
        if status is not None:
            rate = progress.examples / max(time.perf_counter() - started, 1e-9)
            status.update(
                f"examples {progress.examples}/{examples}  {rate:.1f}/s  "
                f"steps {progress.steps}  virtual {progress.virtual_seconds:,.0f}s  "
                f"faults {sum(progress.faults.values())}"
            )
            if not shown:
                # Started at the first progress, not before: the status runs a
                # thread, and local workers are forked only from a process
                # with one thread (`sharding.worker_context`).
                shown = True
                status.start()

    try:
        with _campaign_gc():
            campaign = run_sharded_campaign(
                target,
                examples=examples,
                seed_value=campaign_seed,
                workers=workers,
                executor=executor,
                fault_kinds=kinds,
                fault_controllers=controllers,
                steps=args.steps,
                failure_dir=args.out,
                shrink=not args.no_shrink,
                progress=show,
                log_level=args.log_level,
            )
    finally:
        if status is not None and shown:
            status.stop()
        if client is not None:
            client.close()
    wall = time.perf_counter() - started
    failure = campaign.failure
    result = _SummaryInput(
        examples=campaign.examples,
        failing_examples=campaign.failing_examples,
        discarded=campaign.discarded,
        steps=campaign.steps,
        virtual_seconds=campaign.virtual_seconds,
        writes=campaign.writes,
        wall_seconds=wall,
        faults=dict(campaign.faults),
        ok=campaign.ok,
        failure=failure.message if failure else None,
        failure_seed=failure.seed if failure else None,
        scenario=failure.scenario if failure else None,
        error=campaign.error,
    )
    _print_summary(result, target.name, kinds, campaign_seed, args)
    return 0 if campaign.ok else 1


@contextmanager
def _campaign_gc() -> Iterator[None]:
    """The collector as a campaign wants it in this process (which the CLI
    owns): thresholds raised (`simulation_gc`) and the imported modules
    frozen out of collection, as worker processes have it
    (`sharding.worker_init`)."""
    with simulation_gc():
        gc.freeze()
        try:
            yield
        finally:
            gc.unfreeze()


def _dask_client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise ValueError(
            "kubeloop fuzz --cluster needs Dask distributed: pip install 'kubeloop[distributed]'"
        ) from None
    try:
        return Client(address, timeout=10)  # type: ignore[no-untyped-call]
    except OSError as error:
        raise ValueError(f"--cluster {address}: cannot reach the scheduler: {error}") from None


@dataclass(frozen=True)
class _SummaryInput:
    """A campaign's outcome as the summary prints it (sharded or not)."""

    examples: int
    failing_examples: int
    discarded: int
    steps: int
    virtual_seconds: float
    writes: int
    wall_seconds: float
    faults: dict[str, int]
    ok: bool
    failure: str | None
    failure_seed: int | None
    scenario: str | None
    error: str | None

    @property
    def examples_per_second(self) -> float:
        return self.examples / max(self.wall_seconds, 1e-9)


def _summary(result: Any, target: str, kinds: frozenset[str], args: argparse.Namespace) -> None:
    p = result.progress
    failure = result.failure
    _print_summary(
        _SummaryInput(
            examples=p.examples,
            failing_examples=p.failing_examples,
            discarded=p.discarded,
            steps=p.steps,
            virtual_seconds=p.virtual_seconds,
            writes=p.writes,
            wall_seconds=p.wall_seconds,
            faults=dict(p.faults),
            ok=result.ok,
            failure=str(failure.failure) if failure else None,
            failure_seed=failure.seed if failure else None,
            scenario=str(failure.path) if failure and failure.path else None,
            error=repr(result.error) if result.error else None,
        ),
        target,
        kinds,
        args.seed,
        args,
    )


def _print_summary(
    p: _SummaryInput,
    target: str,
    kinds: frozenset[str],
    seed: int | None,
    args: argparse.Namespace,
) -> None:
    data: dict[str, Any] = {
        "target": target,
        "seed": seed,
        "fault_kinds": sorted(kinds),
        "examples": p.examples,
        "failing_examples": p.failing_examples,
        "discarded_examples": p.discarded,
        "steps": p.steps,
        "virtual_seconds": round(p.virtual_seconds, 3),
        "writes": p.writes,
        "wall_seconds": round(p.wall_seconds, 3),
        "examples_per_second": round(p.examples_per_second, 2),
        "faults": dict(sorted(p.faults.items())),
        "ok": p.ok,
        "failure": p.failure,
        "failure_seed": p.failure_seed,
        "scenario": p.scenario,
        "error": p.error,
    }
    if args.json:
        print(json.dumps(data, indent=2))
        return
    console = Console(highlight=False)
    discarded = f", {p.discarded} discarded" if p.discarded else ""
    console.print(
        f"fuzzed {target}: {p.examples} examples ({p.failing_examples} failing{discarded}) in "
        f"{p.wall_seconds:.1f} s ({p.examples_per_second:.1f}/s), {p.steps} steps, "
        f"{p.virtual_seconds:,.0f} virtual s, {p.writes:,} writes"
    )
    if p.faults:
        effects = ", ".join(f"{k} {v}" for k, v in sorted(p.faults.items()))
        console.print(f"faults that took effect: {effects}")
    if p.ok:
        console.print("[green]no failure found[/]")
    elif p.failure is not None:
        console.print(f"[red]FAILURE[/] {p.failure}")
        console.print(f"seed {p.failure_seed}")
        if p.scenario is not None:
            console.print(f"scenario {p.scenario}; replay with: kubeloop replay {p.scenario}")
    else:
        console.print(f"[red]ERROR[/] {p.error}")
