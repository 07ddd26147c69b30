"""`kubeloop replay` and `kubeloop fuzz`: the simulation harness on the command line.

    kubeloop replay FILE [--target MODULE:ATTR] [--json]
    kubeloop fuzz [--examples N] [--seed S] [--faults LIST] [--controllers LIST]
                  [--steps N] [--target MODULE:ATTR] [--out DIR] [--no-shrink] [--json]
                  [--log-level LEVEL]

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
hypothesis abandons half-drawn are reported apart as discarded. Exit status: 0 no failure, 1 a
failure, 2 bad input, or hypothesis missing (`fuzz` needs it: the `kubeloop[fuzz]`
extra; `replay` does not).

`register(subparsers)` adds both to `kubeloop`'s parser; `main(args)` runs one.

Neighbours: `runtime.cli` (registers these), `runtime.simulation.replay`,
`runtime.simulation.campaign`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

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


def _summary(result: Any, target: str, kinds: frozenset[str], args: argparse.Namespace) -> None:
    p = result.progress
    failure = result.failure
    data: dict[str, Any] = {
        "target": target,
        "seed": args.seed,
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
        "ok": result.ok,
        "failure": str(failure.failure) if failure else None,
        "failure_seed": failure.seed if failure else None,
        "scenario": str(failure.path) if failure and failure.path else None,
        "error": repr(result.error) if result.error else None,
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
    if result.ok:
        console.print("[green]no failure found[/]")
    elif failure is not None:
        console.print(f"[red]FAILURE[/] {failure.failure}")
        console.print(f"seed {failure.seed}")
        if failure.path is not None:
            console.print(f"scenario {failure.path}; replay with: kubeloop replay {failure.path}")
    else:
        console.print(f"[red]ERROR[/] {result.error!r}")
