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
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["SUITES", "bench_argv", "main", "register"]

SUITES: dict[str, str] = {
    "informer": "store write -> watch -> informer cache -> workqueue throughput, fan-out, RSS",
    "convergence": "100k pods on 5k simulated nodes: time to converge, RSS, rolling update",
    "scheduler": "scheduler_perf workloads on 5,000 nodes, pods scheduled per second",
    "simulation": "a virtual hour of 1k nodes, fuzz examples per second",
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
    """Run the suites in a child Python; its exit status is ours."""
    try:
        return subprocess.run(bench_argv(args), check=False).returncode
    except KeyboardInterrupt:
        return 130
