"""Acceptance 1 of issue 7: the same seed and inputs give the same trace, byte for
byte, in this process and in a fresh one with another hash seed; another seed
gives another trace. The run exercises every fault class during a rolling update;
generated workloads, fault schedules and operations replay to the same trace too.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.cluster import NodePool
from runtime.simulation import Apply, FaultSchedule, Operation, Simulation, SimulationConfig
from runtime.simulation import strategies as sst
from runtime.simulation.trace import first_difference
from tests.simulation.builders import EVERY_FAULT_CLASS, rollout_run

ROOT = Path(__file__).resolve().parents[2]


async def test_same_seed_gives_the_same_trace() -> None:
    first_hash, first_lines, effects = await rollout_run(7)
    second_hash, second_lines, _ = await rollout_run(7)
    assert first_lines == second_lines
    assert first_hash == second_hash
    # The run is worth fingerprinting: every scheduled fault kind took effect.
    assert {f.kind for f in EVERY_FAULT_CLASS} <= {k.split(":")[0] for k in effects}
    assert len(first_lines) > 100


async def test_another_seed_gives_another_trace() -> None:
    assert (await rollout_run(7))[0] != (await rollout_run(8))[0]


def _hashes_in_subprocesses(seed: int, children: list[tuple[str, float]]) -> list[str]:
    """`rollout_trace(seed)` in one fresh interpreter per (hash seed, uptime),
    run side by side, each as if on a machine up for `uptime` seconds (the
    monotonic clock the event loop reads starts there)."""
    code = (
        "import time, sys; real = time.monotonic; shift = float(sys.argv[1]) - real(); "
        "time.monotonic = lambda: real() + shift; "
        f"from tests.simulation.builders import rollout_trace; print(rollout_trace({seed}))"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", code, str(uptime)],
            cwd=ROOT,
            env={**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for hash_seed, uptime in children
    ]
    hashes = []
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        hashes.append(out.strip().splitlines()[-1])
    return hashes


async def test_a_fresh_process_with_another_hash_seed_gives_the_same_trace() -> None:
    here = (await rollout_run(7))[0]
    # Another hash seed than this process's, and as if on a machine up for 143
    # days (this one's uptime is another): neither may change the trace.
    assert _hashes_in_subprocesses(7, [("4242", 12_345_678.9)]) == [here]


CONTROLLERS = ("scheduler", "replicaset", "deployment", "garbagecollector", "nodelifecycle")


@st.composite
def _runs(draw: st.DrawFn) -> tuple[int, list[dict[str, Any]], FaultSchedule, list[Operation]]:
    manifests = [draw(sst.workloads("web")), draw(sst.workloads("api"))]
    names = {m["metadata"]["name"]: m["kind"] for m in manifests}
    schedule = draw(sst.fault_schedules(controllers=CONTROLLERS, max_faults=6))
    ops = draw(st.lists(sst.operations(names), max_size=6))
    return draw(st.integers(0, 2**16)), manifests, schedule, ops


async def _generated_run(
    seed: int, manifests: list[dict[str, Any]], schedule: FaultSchedule, ops: list[Operation]
) -> str:
    config = SimulationConfig(seed=seed, node_pools=(NodePool(count=3),), faults=schedule.faults)
    async with Simulation(config) as sim:
        for manifest in manifests:
            await sim.step(Apply(manifest=manifest))
        for op in ops:
            await sim.step(op)
        await sim.run_until(timeout=60)
        return sim.trace_hash()


@settings(max_examples=5)  # two simulations per example
@given(_runs())
def test_generated_workloads_faults_and_operations_replay_to_the_same_trace(
    run: tuple[int, list[dict[str, Any]], FaultSchedule, list[Operation]],
) -> None:
    assert asyncio.run(_generated_run(*run)) == asyncio.run(_generated_run(*run))


def test_first_difference_says_where_two_traces_part() -> None:
    assert first_difference(["1 a", "2 b"], ["1 a", "2 b"]) is None
    assert first_difference(["1 a", "2 b"], ["1 a", "2 c"]) == "line 1: '2 b' != '2 c'"
    assert first_difference(["1 a"], ["1 a", "2 b"]) == "one trace ends at line 1 (1 vs 2 lines)"
