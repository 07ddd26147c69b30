"""Leader election through a Lease (engine.leaderelection), on the virtual
clock, with client-go's defaults: one leader at a time; a dead leader's Lease
is taken over within leaseDuration + retryPeriod (with jitter); a partitioned
leader stops leading before anyone else can start; a deposed leader's write
is refused; release on cancel hands over at once; transitions are counted."""

from __future__ import annotations

import itertools
import random
from typing import Any

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.api.coordination import Lease
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.errors import Conflict, ServiceUnavailable
from engine.leaderelection import JITTER_FACTOR, LeaderElector, LeaseTiming
from engine.store import Store
from tests.helpers import run_virtual

TIMING = LeaseTiming()


class Partitionable(LocalClient):
    """A client whose requests fail while `cut` is set (a network partition)."""

    cut = False

    async def get(self, *args: Any, **kwargs: Any) -> Any:
        if self.cut:
            raise ServiceUnavailable("partitioned")
        return await super().get(*args, **kwargs)

    async def update(self, *args: Any, **kwargs: Any) -> Any:
        if self.cut:
            raise ServiceUnavailable("partitioned")
        return await super().update(*args, **kwargs)


class Log:
    """Who led when: (identity, start, end) per term, on cluster time."""

    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.terms: list[tuple[str, float, float | None]] = []

    def lead(self, identity: str) -> Any:
        async def leading() -> None:
            self.terms.append((identity, self.clock.monotonic(), None))
            try:
                await anyio.sleep_forever()
            finally:
                index = max(i for i, t in enumerate(self.terms) if t[0] == identity)
                self.terms[index] = (identity, self.terms[index][1], self.clock.monotonic())

        return leading

    def never_overlap(self) -> None:
        ordered = sorted(self.terms, key=lambda t: t[1])
        for (_, _, end), (_, start, _) in itertools.pairwise(ordered):
            assert end is not None and end <= start, self.terms


def _elector(client: LocalClient, clock: VirtualClock, identity: str, **kw: Any) -> LeaderElector:
    return LeaderElector(
        client,
        clock=clock,
        rng=random.Random(identity),
        name="controllers",
        identity=identity,
        **kw,
    )


def test_timing_rules_are_client_gos() -> None:
    with pytest.raises(ValueError, match="lease_duration must be greater than renew_deadline"):
        LeaseTiming(lease_duration=10, renew_deadline=10)
    with pytest.raises(ValueError, match="renew_deadline must be greater than retry_period"):
        LeaseTiming(renew_deadline=2, retry_period=2)


def test_a_dead_leaders_lease_is_taken_over_within_duration_plus_retry() -> None:
    async def scenario(clock: VirtualClock) -> None:
        store = Store(clock=clock)
        log = Log(clock)
        a, b = LocalClient(store), LocalClient(store)
        async with anyio.create_task_group() as group:
            first = _elector(a, clock, "a")
            second = _elector(b, clock, "b")
            a_scope = anyio.CancelScope()
            group.start_soon(_run_in, a_scope, first, log.lead("a"))
            await clock.sleep(1)
            group.start_soon(second.run, log.lead("b"))
            await clock.sleep(30)
            assert [t[0] for t in log.terms] == ["a"] and first.is_leader
            assert not second.is_leader and second.leader == "a"
            died = clock.monotonic()
            a_scope.cancel()  # the process dies: no release
            await clock.sleep(40)
            assert [t[0] for t in log.terms] == ["a", "b"]
            took_over = log.terms[1][1] - died
            bound = TIMING.lease_duration + TIMING.retry_period * (1 + JITTER_FACTOR)
            assert took_over <= bound + TIMING.retry_period * (1 + JITTER_FACTOR)
            lease = store.get(Lease, "controllers", "kube-system")
            assert lease.spec.holder_identity == "b"
            assert lease.spec.lease_transitions == 1 and second.term == 1
            group.cancel_scope.cancel()

    run_virtual(scenario)


async def _run_in(scope: anyio.CancelScope, elector: LeaderElector, lead: Any) -> None:
    with scope:
        await elector.run(lead)


def test_a_partitioned_leader_stops_before_another_starts() -> None:
    async def scenario(clock: VirtualClock) -> None:
        store = Store(clock=clock)
        log = Log(clock)
        a, b = Partitionable(store), LocalClient(store)
        first, second = _elector(a, clock, "a"), _elector(b, clock, "b")
        async with anyio.create_task_group() as group:
            group.start_soon(first.run, log.lead("a"))
            await clock.sleep(1)
            group.start_soon(second.run, log.lead("b"))
            await clock.sleep(20)
            a.cut = True
            await clock.sleep(60)
            assert [t[0] for t in log.terms] == ["a", "b"]
            log.never_overlap()
            assert not first.is_leader and second.is_leader
            # The deposed leader's view of the Lease is stale: writing it is refused.
            stale = first._observed
            assert stale is not None
            a.cut = False
            with pytest.raises(Conflict):
                await a.update(stale)
            group.cancel_scope.cancel()

    run_virtual(scenario)


def test_release_on_cancel_hands_over_without_waiting_for_expiry() -> None:
    async def scenario(clock: VirtualClock) -> None:
        store = Store(clock=clock)
        log = Log(clock)
        first = _elector(LocalClient(store), clock, "a", release_on_cancel=True)
        second = _elector(LocalClient(store), clock, "b")
        async with anyio.create_task_group() as group:
            a_scope = anyio.CancelScope()
            group.start_soon(_run_in, a_scope, first, log.lead("a"))
            await clock.sleep(1)
            group.start_soon(second.run, log.lead("b"))
            await clock.sleep(10)
            stopped = clock.monotonic()
            a_scope.cancel()
            await clock.sleep(10)
            assert [t[0] for t in log.terms] == ["a", "b"]
            assert log.terms[1][1] - stopped <= TIMING.retry_period * (1 + JITTER_FACTOR)
            group.cancel_scope.cancel()

    run_virtual(scenario)


@settings(max_examples=15)
@given(
    candidates=st.integers(2, 4),
    deaths=st.lists(st.tuples(st.integers(0, 3), st.floats(1, 60)), min_size=1, max_size=4),
)
def test_never_two_leaders_at_once(candidates: int, deaths: list[tuple[int, float]]) -> None:
    async def scenario(clock: VirtualClock) -> None:
        store = Store(clock=clock)
        log = Log(clock)
        clients = [Partitionable(store) for _ in range(candidates)]
        electors = [_elector(c, clock, f"c{i}") for i, c in enumerate(clients)]
        async with anyio.create_task_group() as group:
            for i, elector in enumerate(electors):

                async def forever(elector: LeaderElector = elector, name: str = f"c{i}") -> None:
                    while True:  # a restarted process runs for the lease again
                        await elector.run(log.lead(name))

                group.start_soon(forever)
            for who, after in deaths:
                await clock.sleep(after)
                victim = clients[who % candidates]
                victim.cut = not victim.cut
            await clock.sleep(60)
            group.cancel_scope.cancel()
        log.never_overlap()
        assert log.terms, "someone led"

    run_virtual(scenario)
