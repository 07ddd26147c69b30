"""The fast path for plain pods places every pod exactly where the generic
framework path would (same seed, same inputs, same placements)."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.clock import VirtualClock
from tests.helpers import run_virtual
from tests.scheduler.builders import node, pod, running


def _scenario(seed: int, nodes: int, pods: int, fast: bool) -> tuple[dict[str, str | None], int]:
    async def main(clock: VirtualClock) -> tuple[dict[str, str | None], int]:
        rng = random.Random(seed)
        cluster = [
            node(f"n{i}", cpu=rng.choice(["1", "2", "4"]), memory=rng.choice(["1Gi", "4Gi"]))
            for i in range(nodes)
        ]
        async with running(clock, nodes=cluster, seed=seed) as c:
            c.scheduler.algorithm.fast = fast
            for i in range(pods):
                extra: dict[str, Any] = {}
                roll = rng.random()
                if roll < 0.2:  # some pods that are not plain
                    extra["nodeSelector"] = {"kubernetes.io/hostname": f"n{rng.randrange(nodes)}"}
                elif roll < 0.3:  # preemptors: nominated pods the others must respect
                    extra["priority"] = 100
                await c.client.create(
                    pod(
                        f"p{i}",
                        cpu=rng.choice(["100m", "300m", "700m", None]),
                        memory=rng.choice(["64Mi", "512Mi", None]),
                        **extra,
                    )
                )
                if rng.random() < 0.3:
                    await c.clock.advance(0.05)
            await c.settle(2)
            taken = sum(f.taken for f in c.scheduler.algorithm._fast.values())
            return c.placements(), taken

    return run_virtual(main)


@settings(max_examples=20)
@given(st.integers(0, 2**16), st.integers(1, 120), st.integers(1, 60))
def test_fast_and_generic_paths_place_pods_alike(seed: int, nodes: int, pods: int) -> None:
    fast, _ = _scenario(seed, nodes, pods, True)
    generic, none_taken = _scenario(seed, nodes, pods, False)
    assert fast == generic
    assert none_taken == 0


def test_the_fast_path_is_taken_for_plain_pods() -> None:
    _, taken = _scenario(1, 150, 30, True)
    assert taken > 0


def _preemption(fast: bool) -> tuple[dict[str, str | None], int, int]:
    async def main(clock: VirtualClock) -> tuple[dict[str, str | None], int, int]:
        async with running(clock, nodes=[node("a", cpu="1"), node("b", cpu="1")]) as c:
            c.scheduler.algorithm.fast = fast
            for i in range(6):
                await c.client.create(pod(f"low{i}", cpu="300m"))
            await c.settle(1)
            await c.client.create(pod("high", cpu="900m", priority=100))
            await c.settle(0.01)
            nominated = len(c.scheduler.nominator)
            before = sum(f.taken for f in c.scheduler.algorithm._fast.values())
            for i in range(3):
                await c.client.create(pod(f"plain{i}", cpu="100m"))
            await c.settle(0.01)
            taken = sum(f.taken for f in c.scheduler.algorithm._fast.values()) - before
            return c.placements(), nominated, taken

    return run_virtual(main)


def test_plain_pods_respect_nominated_room_on_the_fast_path() -> None:
    # A preemptor nominated to a node holds the room its victims free; plain
    # pods scheduled meanwhile (fast path) must leave it as the generic path does.
    fast, nominated, taken = _preemption(True)
    generic, _, none_taken = _preemption(False)
    assert nominated == 1
    assert taken > 0 and none_taken == 0  # the plain pods took the fast path
    assert fast == generic
