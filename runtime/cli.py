"""The `kubeloop` command line.

    kubeloop --version
    kubeloop run [FILES...|-] [--nodes N] [--runtime simulated|process] [--seed S]
                 [--virtual-time | --real-time] [--timeout T] [--wall-timeout W]
                 [--watch] [--json] [--output yaml|json DIR|-]
    kubeloop top pods|nodes FILES... [-n NS | --all-namespaces] [--nodes N] [--seed S]
                 [--timeout T]
    kubeloop bench [SUITE] [--quick] [--json PATH] [--repeat N]   (see `runtime.cli_bench`)
    kubeloop replay FILE / kubeloop fuzz [...]   (see `runtime.cli_fuzz`)
    kubeloop snapshot save|restore FILE --data-dir DIR   (see `runtime.cli_snapshot`)
    kubeloop serve [FILES...] / kubeloop kubeconfig   (see `runtime.cli_serve`)

`run` starts a cluster, applies the manifests (or runs the scenario file),
shows live progress per workload, stops once converged (unless `--watch`),
then prints a summary: time to converge in wall and cluster seconds, pods,
nodes, scheduler throughput and pod startup percentiles, and every problem:
a workload whose kind no running controller drives (StatefulSet, DaemonSet,
Job and CronJob until kubeloop has their controllers), pods that cannot start
(unschedulable, CrashLoopBackOff, a missing ConfigMap), each with its reason.
`--json` prints the summary as JSON instead (`ok`, `converged`, `workloads`,
`problems`, ...). `-` among the files reads manifests from stdin.
`--output FORMAT DEST` writes the final objects as `kubectl get -o FORMAT`
would (see `runtime.output`); with DEST `-` they go to stdout and the summary
to stderr. Exit status, as `kubectl rollout status` would judge it:
0 converged with no problems; 1 not converged within `--timeout`, or a
problem (an undriven workload, a stuck pod); 2 bad input (one line on stderr,
nothing applied), including a scenario step the API refuses (named); 128+N
when stopped by signal N (SIGTERM, SIGHUP or SIGINT: the run stops as it
would at its end, every container process killed and every file removed,
and the summary is printed; see `runtime.stopsignals`).

`top` runs the files like `run` (without progress or summary) and prints
`kubectl top pods|nodes` of the end state, from the metrics API
(`runtime.metrics`): CPU in millicores, memory working set in Mi.

`--timeout` bounds cluster time and wall time alike (`--wall-timeout` sets
the wall bound apart): on virtual time a cluster that is never idle holds
cluster time still, and only the wall clock (`runtime.walltime`) ends it.
`--watch` runs on until a stop signal, with virtual time paced to the wall
clock.

Time defaults to virtual for the simulated runtime and real for processes,
unless a scenario file's `cluster.virtual_time` or `--virtual-time` /
`--real-time` says otherwise. Cluster seconds count from the cluster's start,
on either clock.

Neighbours: `runtime.cluster`, `runtime.scenario`, `runtime.progress`,
`runtime.output`, `runtime.cli_bench`, `runtime.cli_fuzz`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO, cast

import anyio
from rich.console import Console

from engine.clock import VirtualClock
from engine.documents import read_text
from engine.errors import ApiError
from runtime import cli_bench, cli_fuzz, cli_serve, cli_snapshot, stopsignals
from runtime.cluster import Cluster, ClusterConfig, ConvergenceTimeout
from runtime.cluster.top import TopRow, format_top
from runtime.gctuning import simulation_gc
from runtime.output import FORMATS, Format, write_objects
from runtime.progress import ProgressView
from runtime.scenario import (
    AssertionFailed,
    Scenario,
    StepResult,
    is_scenario,
    load_scenario,
    not_run,
    run_scenario,
)
from runtime.summary import Summary, summarize
from runtime.walltime import WallTimeout, wall_deadline

__all__ = ["main"]


class UserError(Exception):
    """Bad input: reported as one line, exit status 2."""


@dataclass(frozen=True, slots=True)
class RunPlan:
    scenario: Scenario
    config: ClusterConfig
    output: tuple[str, str] | None = None  # (format, "-" or a directory)


def _version() -> str:
    try:
        return metadata.version("kubeloop")
    except metadata.PackageNotFoundError:  # run from a source tree that is not installed
        return "unknown (not installed)"


def _cluster_arguments(run: argparse.ArgumentParser) -> None:
    """The arguments `run` and `top` share: the cluster and how long to run."""
    run.add_argument("--nodes", type=int, default=None, help="simulated nodes (default 3)")
    run.add_argument(
        "--runtime",
        choices=["simulated", "process"],
        default=None,
        help="simulated containers, or containers' commands as local processes "
        "(default: the scenario's, else simulated)",
    )
    run.add_argument(
        "--seed", type=int, default=None, help="seed of every random choice (default 0)"
    )
    time_group = run.add_mutually_exclusive_group()
    time_group.add_argument(
        "--virtual-time",
        dest="virtual",
        action="store_true",
        default=None,
        help="cluster time jumps ahead when idle (default for simulated nodes)",
    )
    time_group.add_argument(
        "--real-time",
        dest="virtual",
        action="store_false",
        help="cluster time is wall time (default for process nodes)",
    )
    run.add_argument(
        "--timeout",
        type=_seconds,
        default=600.0,
        help="seconds to converge, of cluster time and of wall time, whichever runs out first",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubeloop", description="The Kubernetes control plane in one process."
    )
    parser.add_argument(
        "--version", action="version", version=f"kubeloop {_version()}", help="print the version"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser(
        "run",
        help="start a cluster, apply manifests or run a scenario",
        description="Start a cluster, apply manifests (or run one scenario file), "
        "show progress until converged, and print a summary.",
    )
    run.add_argument(
        "files",
        nargs="*",
        type=Path,
        help="manifests, directories or one scenario file; - reads manifests from stdin",
    )
    _cluster_arguments(run)
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
    run.add_argument(
        "-o",
        "--output",
        nargs=2,
        metavar=("FORMAT", "DEST"),
        default=None,
        help="write the final objects as `kubectl get -o FORMAT` would (yaml or json): "
        "DEST - for one List on stdout (the summary then goes to stderr), or a directory "
        "for one List file per kind (Leases and Events are left out)",
    )
    top = sub.add_parser(
        "top",
        help="resource usage of pods or nodes (kubectl top): of a running cluster, "
        "or at the end of a run",
        description="Without files, print the CPU and memory usage of pods or nodes of "
        "the running cluster the kubeconfig names (`kubeloop serve`'s by default). "
        "With files, run the manifests or scenario like `run` (quietly) and print "
        "the usage at the end state.",
    )
    top.add_argument("what", choices=["pods", "nodes"], help="pods or nodes")
    top.add_argument(
        "files", nargs="*", type=Path, help="manifests, directories or a scenario to run"
    )
    top.add_argument(
        "--kubeconfig",
        type=Path,
        default=None,
        metavar="PATH",
        help="the running cluster's kubeconfig (default: `kubeloop serve`'s)",
    )
    top.add_argument("-n", "--namespace", default="default", help="pods of this namespace")
    top.add_argument("--all-namespaces", action="store_true", help="pods of every namespace")
    _cluster_arguments(top)
    cli_bench.register(sub)
    cli_fuzz.register(sub)
    cli_snapshot.register(sub)
    cli_serve.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command in cli_serve.COMMANDS:
        return cli_serve.main(args)
    if args.command == "top":
        return _top_command(args)
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
    except OSError as error:
        if stop.signal is None:  # the --output directory could not be written
            print(f"kubeloop: error: {_one_line(error)}", file=sys.stderr)
            return 1
        # The terminal went away with the signal (SIGHUP) while the live view
        # drew on it; the cluster has stopped all the same.
        _silence_output()
        return stop.exit_status
    except (KeyboardInterrupt, asyncio.CancelledError):
        # A second stop signal cut the shutdown short (or SIGINT came before
        # the handlers were in place): no summary.
        if stop.signal is None:
            return 130
        with contextlib.suppress(OSError):
            print(f"kubeloop: stopped by {stop.signal.name}, shutdown cut short", file=sys.stderr)
        return stop.exit_status
    if stop.signal is None:
        _print_summary(summary, args, plan)
        return 0 if summary.ok else 1
    try:
        print(f"kubeloop: stopped by {stop.signal.name}", file=sys.stderr)
        _print_summary(summary, args, plan)
        sys.stdout.flush()
    except OSError:
        _silence_output()
    return stop.exit_status


def _print_summary(summary: Summary, args: argparse.Namespace, plan: RunPlan) -> None:
    # Objects written to stdout keep it parseable: the summary goes to stderr.
    to_stderr = plan.output is not None and plan.output[1] == "-"
    if args.json:
        print(json.dumps(summary.to_json(), indent=2), file=sys.stderr if to_stderr else sys.stdout)
    else:
        summary.print(Console(stderr=to_stderr))


def _silence_output() -> None:
    """Stdout and stderr are gone (a hung-up terminal): drop further output, so
    that flushing them at exit does not turn the exit status into 120."""
    sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (lives until exit)


def _other_command(args: argparse.Namespace) -> int:
    if args.command in cli_fuzz.COMMANDS:
        return cli_fuzz.main(args)
    if args.command in cli_snapshot.COMMANDS:
        return cli_snapshot.main(args)
    return cli_bench.main(args)


def _seconds(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}")
    return value


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _plan(args: argparse.Namespace, stdin: TextIO | None = None) -> RunPlan:
    files: list[Path] = args.files
    stdin_given = [p for p in files if str(p) == "-"]
    files = [p for p in files if str(p) != "-"]
    if len(stdin_given) > 1:
        raise UserError("- (stdin) can be given once")
    output = _output(args.output)
    for path in files:
        if not path.exists():
            raise UserError(f"{path}: no such file or directory")
    scenario_files = [p for p in files if p.is_file() and is_scenario(read_text(p))]
    if scenario_files and (len(files) > 1 or stdin_given):
        raise UserError("a scenario file runs alone; apply manifests from inside it")
    if scenario_files:
        scenario = load_scenario(scenario_files[0])
    else:
        from engine.manifests import load_manifest_files, load_manifests

        load_manifest_files(files)  # validate everything before the cluster starts
        steps: list[dict[str, Any]] = [{"apply": str(p.resolve())} for p in _expand(files)]
        if stdin_given:
            text = (stdin or sys.stdin).read()
            if is_scenario(text):
                raise UserError("a scenario file is read from its path, not from stdin")
            load_manifests(text, source="<stdin>")
            # A step's text with a newline is inline manifests, never a path.
            steps.append({"apply": text if "\n" in text else text + "\n"})
        steps.append({"wait": "converged", "timeout": args.timeout})
        scenario = Scenario.model_validate({"steps": steps})
    runtime = args.runtime or scenario.cluster.runtime
    if args.virtual is not None:
        virtual = args.virtual
    elif "virtual_time" in scenario.cluster.model_fields_set:
        virtual = scenario.cluster.virtual_time  # the scenario file says
    else:
        virtual = runtime == "simulated"
    config = scenario.config(
        seed=args.seed,
        runtime=runtime,
        virtual_time=virtual,
        **({"node_pools": _pools(args.nodes)} if args.nodes is not None else {}),
    )
    return RunPlan(scenario, config, output)


def _output(value: list[str] | None) -> tuple[str, str] | None:
    if value is None:
        return None
    fmt, dest = value
    if fmt not in FORMATS:
        raise UserError(f"--output: unknown format {fmt!r} (choose yaml or json)")
    if dest != "-" and Path(dest).exists() and not Path(dest).is_dir():
        raise UserError(f"--output: {dest} exists and is not a directory")
    return fmt, dest


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


async def _run(plan: RunPlan, args: argparse.Namespace, stop: stopsignals.StopSignals) -> Summary:
    started = time.perf_counter()
    results: list[StepResult] = []
    to_stdout = plan.output is not None and plan.output[1] == "-"
    wall_limit = args.wall_timeout if args.wall_timeout is not None else args.timeout
    ended = "interrupted"  # unless the work below finishes
    with stop.installed():
        async with Cluster(plan.config) as cluster:
            async with ProgressView(cluster, enabled=not (args.json or to_stdout)) as view:
                with stop.scope:  # a stop signal ends the work here; the cluster stops as usual
                    try:
                        async with wall_deadline(wall_limit):
                            with anyio.fail_after(args.timeout):
                                await run_scenario(cluster, plan.scenario, results)
                                last = plan.scenario.steps[-1] if plan.scenario.steps else None
                                if last is None or last.wait != "converged":
                                    await cluster.wait_converged()
                        ended = "converged"
                    except AssertionFailed:
                        ended = "assertion_failed"  # the step table says which
                    except WallTimeout:
                        ended = "wall_timeout"
                    except (TimeoutError, ConvergenceTimeout):
                        ended = "timeout"
                    if args.watch:
                        await _watch(cluster, view)
                converged = ended == "converged" and cluster.converged()
            steps = not_run(plan.scenario, results)
            seconds = time.perf_counter() - started
            summary = summarize(cluster, steps, converged, seconds, ended=ended)
            if plan.output is not None and cluster.store is not None:
                fmt, dest = plan.output
                write_objects(cluster.store, cast(Format, fmt), dest, sys.stdout)
            return summary


def _top_command(args: argparse.Namespace) -> int:
    args.output = None
    try:
        if args.files and args.kubeconfig is not None:
            raise UserError("top reads a running cluster (--kubeconfig) or runs FILES, not both")
        if args.files:
            plan = _plan(args)
            with simulation_gc():
                rows = asyncio.run(_top(plan, args))
        else:
            rows = asyncio.run(_remote_top(args))
    except (UserError, ApiError, OSError, ValueError, AssertionError) as error:
        print(f"kubeloop: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except (TimeoutError, ConvergenceTimeout):
        print("kubeloop: error: the run did not converge within --timeout", file=sys.stderr)
        return 1
    if not rows:
        print("No resources found", file=sys.stderr)
        return 0
    print(format_top(rows, args.what, all_namespaces=args.all_namespaces))
    return 0


async def _remote_top(args: argparse.Namespace) -> list[TopRow]:
    from runtime.apiserver import DEFAULT_KUBECONFIG
    from runtime.cluster.remote_top import remote_top_rows

    namespace = None if args.all_namespaces or args.what == "nodes" else args.namespace
    return await remote_top_rows(
        args.kubeconfig or DEFAULT_KUBECONFIG, args.what, namespace=namespace
    )


async def _top(plan: RunPlan, args: argparse.Namespace) -> list[TopRow]:
    """Run the plan to its end state, then read the metrics API there."""
    async with Cluster(plan.config) as cluster:
        with anyio.fail_after(args.timeout):
            await run_scenario(cluster, plan.scenario, [])
            last = plan.scenario.steps[-1] if plan.scenario.steps else None
            if last is None or last.wait != "converged":
                await cluster.wait_converged()
        namespace = None if args.all_namespaces or args.what == "nodes" else args.namespace
        return await cluster.top(args.what, namespace=namespace)


async def _watch(cluster: Cluster, view: ProgressView) -> None:
    """Keep the cluster running until a stop signal. Virtual time then runs at
    the wall clock's pace, so an idle cluster idles instead of racing ahead."""
    if isinstance(cluster.clock, VirtualClock):
        cluster.clock.pace(1.0)
    print("kubeloop: watching; Ctrl-C stops and prints the summary", file=sys.stderr, flush=True)
    await view.watch_forever()


if __name__ == "__main__":
    sys.exit(main())
