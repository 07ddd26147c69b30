"""The cluster-autoscaler day benchmark at toy size: the diurnal schedule,
and a short run that really scales the pool up and back down."""

from __future__ import annotations

from benchmarks.autoscaling_cluster import MAX_REPLICAS, MIN_REPLICAS, _day, replicas_at


def test_the_diurnal_schedule_is_lowest_at_night_and_highest_in_the_afternoon() -> None:
    day = [replicas_at(h) for h in range(24)]
    assert min(day) == day[3] == MIN_REPLICAS
    assert max(day) == day[15] == MAX_REPLICAS
    assert day[:4] == sorted(day[:4], reverse=True)  # falling until 03:00


async def test_a_short_day_scales_the_pool_up_and_down() -> None:
    # 2 Deployments, 1..8 nodes, 4 hours from midnight: 9 replicas each at first
    # (18 pods: 3 nodes), down to 4 (8 pods: 1 node).
    figures = await _day(2, 1, 8, 4)
    assert figures["scale_ups"] >= 1 and figures["scale_downs"] >= 1
    assert figures["max_nodes"] == 3
    assert figures["min_nodes"] == 1
