"""`kubeloop bench`: the benchmark suites, run as `python -m benchmarks` in a subprocess.

    kubeloop bench [SUITE] [--quick] [--json PATH] [--repeat N]

`benchmarks` sits above `runtime` (it measures the runtime), so the command
line never imports it: `bench` runs `sys.executable -m benchmarks ...` and
passes its exit status through. `SUITES` names each suite with one line for
`--help`; `benchmarks.__main__.SUITES` registers the functions behind the same
names, and a test keeps the two equal.

Neighbours: `runtime.cli` (registers this), `benchmarks.__main__`.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["SUITES", "bench_argv", "main", "register"]

STOP_GRACE_SECONDS = 5.0
"""How long a stopped run's benchmark processes get to exit after SIGTERM."""

SUITES: dict[str, str] = {
    "informer": "store write -> watch -> informer cache -> workqueue throughput, fan-out, RSS",
    "convergence": "100k pods on 5k simulated nodes: time to converge, RSS, rolling update",
    "scheduler": "scheduler_perf workloads on 5,000 nodes, pods scheduled per second",
    "simulation": "a virtual hour of 1k nodes, fuzz examples per second",
    "workloads": "a 10,000-completion Indexed Job, 100 CronJobs through a virtual day",
    "storage": "durable state in SQLite: acknowledged writes per second, restart of 100k objects",
    "api": "the HTTP API: GET p99 at 1,000 req/s, creates/s, watch events/s, a 10k-pod list",
    "autoscaling": "HPA syncs per second over 1,000 HPAs, one metrics round over 10k pods",
    "network": "EndpointSlice writes in a 10k-pod rollout, simulated requests per second",
}
"""Every suite by name, with what it measures (the suite's module says more)."""


def register(sub: Any) -> None:
    """Add `bench` to `kubeloop`'s subparsers."""
    listing = "\n".join(f"  {name:<12} {what}" for name, what in SUITES.items())
    bench = sub.add_parser(
        "bench",
        help="run benchmark suites",
        description="Run benchmark suites; each figure is printed beside its target.",
        epilog=f"suites:\n{listing}\n  {'all':<12} every suite above, in turn",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    bench.add_argument(
        "suite",
        nargs="?",
        default="all",
        choices=[*SUITES, "all"],
        metavar="SUITE",
        help="the suite to run, one of the suites below (default: all)",
    )
    bench.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    bench.add_argument(
        "--json", type=Path, default=None, metavar="PATH", help="write the figures to this file"
    )
    bench.add_argument(
        "--repeat",
        type=int,
        default=None,
        metavar="N",
        help="repetitions per figure (default 5, quick 1)",
    )


def bench_argv(args: argparse.Namespace) -> list[str]:
    """The `python -m benchmarks` command line for parsed `kubeloop bench` arguments."""
    argv = [sys.executable, "-m", "benchmarks", args.suite]
    if args.quick:
        argv.append("--quick")
    if args.json is not None:
        argv += ["--json", str(args.json)]
    if args.repeat is not None:
        argv += ["--repeat", str(args.repeat)]
    return argv


def main(args: argparse.Namespace) -> int:
    """Run the suites in a child Python; its exit status is ours.

    The child leads a process group of its own, so that however this command
    ends (Ctrl-C, or SIGTERM/SIGHUP unwinding through `runtime.stopsignals`)
    the child and the measurement processes it starts in turn are stopped
    together, not only the child."""
    # Stop signals wait while the child starts: one landing inside Popen would
    # unwind before `child` exists and leave the child running, unknown.
    stops = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    try:
        child = subprocess.Popen(
            bench_argv(args),
            start_new_session=True,
            preexec_fn=lambda: signal.pthread_sigmask(signal.SIG_SETMASK, previous),
        )
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        raise
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)  # a pending stop lands here
        return child.wait()
    except KeyboardInterrupt:
        _stop_group(child)
        return 130
    except BaseException:
        _stop_group(child)
        raise


def _stop_group(child: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the child's whole group, SIGKILL to what is left after a grace."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.wait(timeout=STOP_GRACE_SECONDS)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.wait()
