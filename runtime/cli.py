"""The `kubeloop` command line.

    kubeloop run [FILES...] [--nodes N] [--runtime simulated|process] [--seed S]
                 [--virtual-time | --real-time] [--timeout T] [--wall-timeout W]
                 [--watch] [--json]
    kubeloop bench [SUITE] [--quick] [--json PATH]
    kubeloop replay FILE / kubeloop fuzz [...]   (see `runtime.cli_fuzz`)

`run` starts a cluster, applies the manifests (or runs the scenario file),
shows live progress per workload, stops once converged (unless `--watch`),
then prints a summary: time to converge in wall and cluster seconds, pods,
nodes, scheduler throughput and pod startup percentiles. `--json` prints the
summary as JSON instead. Exit status: 0 converged, 1 not converged within
`--timeout`, 2 bad input (one line on stderr, nothing applied), 130 Ctrl-C
before the run converged or timed out (the summary is still printed).

`--timeout` bounds cluster time and wall time alike (`--wall-timeout` sets
the wall bound apart): on virtual time a cluster that is never idle holds
cluster time still, and only the wall clock (`runtime.walltime`) ends it.
`--watch` runs on until Ctrl-C, with virtual time paced to the wall clock.

Time defaults to virtual for the simulated runtime and real for processes.

Neighbours: `runtime.cluster`, `runtime.scenario`, `runtime.progress`,
`benchmarks` (for `bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from engine.clock import VirtualClock
from engine.documents import read_text
from engine.errors import ApiError
from runtime import cli_fuzz
from runtime.cluster import Cluster, ClusterConfig, ConvergenceTimeout
from runtime.gctuning import simulation_gc
from runtime.progress import ProgressView
from runtime.scenario import Scenario, StepResult, is_scenario, load_scenario, run_scenario
from runtime.summary import Summary, summarize
from runtime.walltime import WallTimeout, wall_deadline

__all__ = ["main"]


class UserError(Exception):
    """Bad input: reported as one line, exit status 2."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    scenario: Scenario
    config: ClusterConfig


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeloop", description="The Kubernetes control plane in one process."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="start a cluster, apply manifests or run a scenario")
    run.add_argument("files", nargs="*", type=Path, help="manifests, directories or one scenario")
    run.add_argument("--nodes", type=int, default=None, help="simulated nodes (default 3)")
    run.add_argument("--runtime", choices=["simulated", "process"], default=None)
    run.add_argument("--seed", type=int, default=None)
    time_group = run.add_mutually_exclusive_group()
    time_group.add_argument("--virtual-time", dest="virtual", action="store_true", default=None)
    time_group.add_argument("--real-time", dest="virtual", action="store_false")
    run.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        help="seconds to converge, of cluster time and of wall time, whichever runs out first",
    )
    run.add_argument(
        "--wall-timeout",
        type=_seconds,
        default=None,
        help="wall seconds to converge (default: the --timeout)",
    )
    run.add_argument(
        "--watch",
        action="store_true",
        help="keep running after convergence until Ctrl-C (virtual time then runs at real pace)",
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    bench = sub.add_parser("bench", help="run benchmark suites")
    bench.add_argument("suite", nargs="?", default="all")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--json", type=Path, default=None)
    cli_fuzz.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in cli_fuzz.COMMANDS:
        return cli_fuzz.main(args)
    if args.command == "bench":
        from benchmarks.__main__ import main as bench_main

        extra = ["--quick"] if args.quick else []
        if args.json:
            extra += ["--json", str(args.json)]
        return bench_main([args.suite, *extra])
    try:
        plan = _plan(args)
    except (UserError, ApiError, OSError, ValueError) as error:
        print(f"kubeloop: error: {_one_line(error)}", file=sys.stderr)
        return 2
    try:
        with simulation_gc():
            summary = asyncio.run(_run(plan, args))
    except (ApiError, ValueError, AssertionError) as error:
        print(f"kubeloop: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        summary.print(Console())
    if summary.ended == "interrupted":
        return 130
    return 0 if summary.converged else 1


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _plan(args: argparse.Namespace) -> RunPlan:
    files: list[Path] = args.files
    for path in files:
        if not path.exists():
            raise UserError(f"{path}: no such file or directory")
    scenario_files = [p for p in files if p.is_file() and is_scenario(read_text(p))]
    if scenario_files and len(files) > 1:
        raise UserError("a scenario file runs alone; apply manifests from inside it")
    if scenario_files:
        scenario = load_scenario(scenario_files[0])
    else:
        from engine.manifests import load_manifest_files

        load_manifest_files(files)  # validate everything before the cluster starts
        steps: list[dict[str, Any]] = [{"apply": str(p.resolve())} for p in _expand(files)]
        steps.append({"wait": "converged", "timeout": args.timeout})
        scenario = Scenario.model_validate({"steps": steps})
    runtime = args.runtime or scenario.cluster.runtime
    virtual = args.virtual if args.virtual is not None else runtime == "simulated"
    config = scenario.config(
        seed=args.seed,
        runtime=runtime,
        virtual_time=virtual,
        **({"node_pools": _pools(args.nodes)} if args.nodes is not None else {}),
    )
    return RunPlan(scenario, config)


def _expand(files: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in files:
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.suffix in (".yaml", ".yml", ".json")))
        else:
            out.append(path)
    return out


def _pools(nodes: int) -> tuple[Any, ...]:
    from runtime.cluster import NodePool
    from runtime.cluster.config import MAX_NODES

    if not 0 <= nodes <= MAX_NODES:
        raise UserError(f"--nodes must be 0 to {MAX_NODES}")
    return (NodePool(count=nodes),)


async def _run(plan: RunPlan, args: argparse.Namespace) -> Summary:
    started = time.perf_counter()
    results: list[StepResult] = []
    wall_limit = args.wall_timeout if args.wall_timeout is not None else args.timeout
    async with Cluster(plan.config) as cluster:
        async with ProgressView(cluster, enabled=not args.json) as view:
            with _interruptible() as interrupt:
                try:
                    async with wall_deadline(wall_limit):
                        with anyio.fail_after(args.timeout):
                            await run_scenario(cluster, plan.scenario, results)
                            last = plan.scenario.steps[-1] if plan.scenario.steps else None
                            if last is None or last.wait != "converged":
                                await cluster.wait_converged()
                    ended = "converged"
                except WallTimeout:
                    ended = "wall_timeout"
                except (TimeoutError, ConvergenceTimeout):
                    ended = "timeout"
            converged = not interrupt.happened and cluster.converged()
            if interrupt.happened:
                ended = "interrupted"
            elif args.watch:
                await _watch(cluster, view)
        return summarize(cluster, results, converged, time.perf_counter() - started, ended=ended)


async def _watch(cluster: Cluster, view: ProgressView) -> None:
    """Keep the cluster running until Ctrl-C. Virtual time then runs at the
    wall clock's pace, so an idle cluster idles instead of racing ahead."""
    if isinstance(cluster.clock, VirtualClock):
        cluster.clock.pace(1.0)
    print("kubeloop: watching; Ctrl-C stops and prints the summary", file=sys.stderr, flush=True)
    with _interruptible():
        await view.watch_forever()


class _Interrupt:
    happened = False


@contextmanager
def _interruptible() -> Iterator[_Interrupt]:
    """Turn Ctrl-C inside the block into `happened`. `asyncio.run` answers
    SIGINT by cancelling the main task; that cancellation is taken back here
    so the run can still stop the cluster and print its summary."""
    interrupt = _Interrupt()
    try:
        yield interrupt
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or task.cancelling() != 1:
            raise  # cancelled for another reason as well
        task.uncancel()
        interrupt.happened = True


if __name__ == "__main__":
    sys.exit(main())
