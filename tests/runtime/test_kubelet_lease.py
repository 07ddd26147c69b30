"""Kubelet Lease renewal from the Lease it last wrote: someone else's write or a
deletion in between costs one read (or a re-create), never a missed renewal."""

from __future__ import annotations

from typing import Any

from engine.api.coordination import Lease
from engine.clock import VirtualClock
from engine.store import Store
from tests.runtime.kubelet_env import simulated_nodes


def _lease(store: Store, name: str = "node-0") -> Lease:
    return store.get(Lease, name, namespace="kube-node-lease")


async def test_renewals_write_without_reading_first(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        reads = 0
        get = env.client.get

        async def counting_get(kind: type[Any], name: str, **kw: Any) -> Any:
            nonlocal reads
            if kind is Lease:
                reads += 1
            return await get(kind, name, **kw)

        env.client.get = counting_get  # type: ignore[method-assign]
        await clock.advance(60)
        kubelet = env.kubelet()
    assert kubelet.statistics().lease_renewals >= 6
    assert reads == 0


async def test_another_writer_in_between_costs_a_read_not_a_renewal(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        await clock.advance(15)
        lease = _lease(env.store)
        taken = lease.spec.model_copy(update={"holder_identity": "someone-else"})
        env.store.update(lease.model_copy(update={"spec": taken}))
        renewals = env.kubelet().statistics().lease_renewals
        await clock.advance(11)
        after = _lease(env.store)
        stats = env.kubelet().statistics()
    assert stats.lease_renewals == renewals + 1
    assert stats.errors == 0
    assert after.spec.holder_identity == "node-0"


async def test_a_deleted_lease_is_created_again(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        await clock.advance(15)
        env.store.delete(Lease, "node-0", namespace="kube-node-lease")
        await clock.advance(11)
        lease = _lease(env.store)
        stats = env.kubelet().statistics()
    assert lease.spec.holder_identity == "node-0"
    assert lease.metadata.owner_references[0].kind == "Node"
    assert stats.errors == 0
