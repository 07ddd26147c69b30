"""The `kubeloop` command line.

    kubeloop run [FILES...] [--nodes N] [--runtime simulated|process] [--seed S]
                 [--virtual-time | --real-time] [--timeout T] [--watch] [--json]
    kubeloop bench [SUITE] [--quick] [--json PATH]
    kubeloop replay FILE / kubeloop fuzz [...]   (see `runtime.cli_fuzz`)

`run` starts a cluster, applies the manifests (or runs the scenario file),
shows live progress per workload, stops once converged (unless `--watch`),
then prints a summary: time to converge in wall and cluster seconds, pods,
nodes, scheduler throughput and pod startup percentiles. `--json` prints the
summary as JSON instead. Exit status: 0 converged, 1 not converged within
`--timeout`, 2 bad input (one line on stderr, nothing applied), 128+N when
stopped by signal N (SIGTERM, SIGHUP or SIGINT: the run stops as it would
at its end, every container process killed and every file removed, and the
summary is printed; see `runtime.stopsignals`).

Time defaults to virtual for the simulated runtime and real for processes.

Neighbours: `runtime.cluster`, `runtime.scenario`, `runtime.progress`,
`benchmarks` (for `bench`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
from rich.console import Console

from engine.errors import ApiError
from runtime import cli_fuzz, stopsignals
from runtime.cluster import Cluster, ClusterConfig, ConvergenceTimeout
from runtime.gctuning import simulation_gc
from runtime.progress import ProgressView
from runtime.scenario import Scenario, StepResult, is_scenario, load_scenario, run_scenario
from runtime.summary import Summary, summarize

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
    run.add_argument("--timeout", type=float, default=600.0, help="seconds to converge")
    run.add_argument("--watch", action="store_true", help="keep running after convergence")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    bench = sub.add_parser("bench", help="run benchmark suites")
    bench.add_argument("suite", nargs="?", default="all")
    bench.add_argument("--quick", action="store_true")
    bench.add_argument("--json", type=Path, default=None)
    cli_fuzz.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command != "run":
        try:
            with stopsignals.raising():  # a benchmark's subprocess dies with the command
                return _other_command(args)
        except stopsignals.Stopped as stopped:
            print(f"kubeloop: {stopped}", file=sys.stderr)
            return stopped.exit_status
    try:
        plan = _plan(args)
    except (UserError, ApiError, OSError, ValueError) as error:
        print(f"kubeloop: error: {_one_line(error)}", file=sys.stderr)
        return 2
    stop = stopsignals.StopSignals()
    try:
        with simulation_gc():
            summary = asyncio.run(_run(plan, args, stop))
    except (ApiError, ValueError, AssertionError) as error:
        print(f"kubeloop: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, asyncio.CancelledError):
        # A second stop signal cut the shutdown short (or SIGINT came before
        # the handlers were in place): no summary.
        if stop.signal is None:
            return 130
        with contextlib.suppress(OSError):
            print(f"kubeloop: stopped by {stop.signal.name}, shutdown cut short", file=sys.stderr)
        return stop.exit_status
    except OSError:
        if stop.signal is None:
            raise
        # The terminal went away with the signal (SIGHUP) while the live view
        # drew on it; the cluster has stopped all the same.
        _silence_output()
        return stop.exit_status
    if stop.signal is None:
        _print_summary(summary, args)
        return 0 if summary.converged else 1
    try:
        print(f"kubeloop: stopped by {stop.signal.name}", file=sys.stderr)
        _print_summary(summary, args)
        sys.stdout.flush()
    except OSError:
        _silence_output()
    return stop.exit_status


def _print_summary(summary: Summary, args: argparse.Namespace) -> None:
    if args.json:
        print(json.dumps(summary.to_json(), indent=2))
    else:
        summary.print(Console())


def _silence_output() -> None:
    """Stdout and stderr are gone (a hung-up terminal): drop further output, so
    that flushing them at exit does not turn the exit status into 120."""
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (lives until exit)


def _other_command(args: argparse.Namespace) -> int:
    if args.command in cli_fuzz.COMMANDS:
        return cli_fuzz.main(args)
    from benchmarks.__main__ import main as bench_main

    extra = ["--quick"] if args.quick else []
    if args.json:
        extra += ["--json", str(args.json)]
    return bench_main([args.suite, *extra])


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _plan(args: argparse.Namespace) -> RunPlan:
    files: list[Path] = args.files
    for path in files:
        if not path.exists():
            raise UserError(f"{path}: no such file or directory")
    scenario_files = [p for p in files if p.is_file() and is_scenario(p.read_text())]
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

    if nodes < 0:
        raise UserError("--nodes must be >= 0")
    return (NodePool(count=nodes),)


async def _run(plan: RunPlan, args: argparse.Namespace, stop: stopsignals.StopSignals) -> Summary:
    started = time.perf_counter()
    results: list[StepResult] = []
    with stop.installed():
        async with Cluster(plan.config) as cluster:
            async with ProgressView(cluster, enabled=not args.json) as view:
                converged = False
                with stop.scope:  # a stop signal ends the work here; the cluster stops as usual
                    try:
                        with anyio.fail_after(args.timeout):
                            await run_scenario(cluster, plan.scenario, results)
                            last = plan.scenario.steps[-1] if plan.scenario.steps else None
                            if last is None or last.wait != "converged":
                                await cluster.wait_converged()
                        converged = cluster.converged()
                    except (TimeoutError, ConvergenceTimeout):
                        converged = False
                    if args.watch:
                        await view.watch_forever()
                if stop.signal is not None:
                    converged = cluster.converged()
            return summarize(cluster, results, converged, time.perf_counter() - started)


if __name__ == "__main__":
    sys.exit(main())
