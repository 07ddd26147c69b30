"""`python -m benchmarks SUITE [--quick] [--json PATH] [--repeat N]`; SUITE `all` runs each.
`python -m benchmarks scheduler_perf CONFIG.yaml [--workload NAME] ...` runs a
kube-scheduler scheduler_perf configuration file (`benchmarks.scheduler_perf`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from benchmarks import (
    api,
    autoscaling,
    convergence,
    informer,
    network,
    scheduler,
    simulation,
    storage,
    workloads,
)
from benchmarks.harness import Figure, print_table, quick_figures, write_json
from runtime.gctuning import simulation_gc

SUITES: dict[str, Callable[[bool, int], list[Figure]]] = {
    "informer": informer.run,
    "convergence": convergence.run,
    "scheduler": scheduler.run,
    "simulation": simulation.run,
    "workloads": workloads.run,
    "storage": storage.run,
    "api": api.run,
    "autoscaling": autoscaling.run,
    "network": network.run,
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["scheduler_perf"]:
        from benchmarks.scheduler_perf import cli

        with simulation_gc():
            return cli.main(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("suite", choices=[*SUITES, "all"])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 5)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 5)
    names = list(SUITES) if args.suite == "all" else [args.suite]
    for name in names:
        # Every suite runs with the collector tuned as `kubeloop run` tunes it.
        with simulation_gc():
            figures = SUITES[name](args.quick, repeat)
        if args.quick:
            figures = quick_figures(figures)
        print_table(name, figures)
        if args.json is not None:
            path = args.json if len(names) == 1 else args.json.with_suffix(f".{name}.json")
            write_json(path, name, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
