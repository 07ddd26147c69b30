"""Cluster time starts at 0 for every run, on the real clock as on the virtual
one: an `at:` step of a real-time scenario waits that long in wall time."""

from __future__ import annotations

import asyncio
import time

from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.scenario import Scenario, run_scenario


def test_real_time_scenario_waits_for_at_and_counts_from_zero() -> None:
    scenario = Scenario.model_validate({"steps": [{"at": 4, "wait": 0}]})
    config = ClusterConfig(node_pools=(NodePool(count=1),), virtual_time=False)

    async def main() -> tuple[float, float, list[float]]:
        started = time.monotonic()
        async with Cluster(config) as cluster:
            at_start = cluster.clock.monotonic()
            results = await run_scenario(cluster, scenario)
            end = cluster.clock.monotonic()
        wall = time.monotonic() - started
        return wall, at_start, [results[0].started_at, end]

    wall, at_start, (step_started, end) = asyncio.run(main())
    # Cluster seconds are counted from the cluster's start, so they never
    # exceed the wall seconds of the whole run (uptime would).
    assert 0 <= at_start <= step_started <= end <= wall
    assert step_started >= 4
    assert wall >= 4
