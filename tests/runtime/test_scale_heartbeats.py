"""Acceptance 6: 5,000 simulated nodes heartbeat for 10 virtual minutes, every Lease
renewed on schedule, no node ever marked unready.

Runs the node lifecycle controllers next to a `NodeAgentPool` of 5,000 kubelets
on one store. `KUBELOOP_SCALE_NODES` lowers the node count for a quick run.
The mutation detector is off here: it would snapshot each of the ~300,000
writes; every other test keeps it on.
"""

from __future__ import annotations

import gc
import os

from controllers.nodelifecycle import setup as setup_node_lifecycle
from engine.api import core
from engine.api.coordination import Lease
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.mutation import detector
from engine.store import Store, WriteRecord
from runtime.kubelet import NodeAgentPool

NODES = int(os.environ.get("KUBELOOP_SCALE_NODES", "5000"))
MINUTES = 10
RENEW_INTERVAL = 10.0
JITTER = 0.04


async def test_five_thousand_nodes_heartbeat_on_schedule(clock: VirtualClock) -> None:
    detector.enabled = False
    store = Store(clock=clock)
    client = LocalClient(store)
    manager = Manager(client, clock=clock)
    lifecycle = setup_node_lifecycle(manager)
    pool = NodeAgentPool(client, clock=clock, pod_informer=manager.factory.informer(core.Pod))
    pool.add_nodes(NODES)

    last_renewal: dict[str, float] = {}
    longest_gap = 0.0
    renewals = 0
    unready_writes: list[str] = []

    def observe(write: WriteRecord) -> None:
        nonlocal longest_gap, renewals
        obj = write.object
        if isinstance(obj, Lease):
            assert obj.spec.renew_time is not None
            now = clock.monotonic()
            previous = last_renewal.get(write.name)
            if previous is not None:
                longest_gap = max(longest_gap, now - previous)
                renewals += 1
            last_renewal[write.name] = now
        elif isinstance(obj, core.Node) and (not obj.is_ready or obj.spec.taints):
            unready_writes.append(write.name)

    store.observers.append(observe)
    async with manager, pool:
        # Long-lived objects of the set-up need no more collecting, and the writes
        # make little cyclic garbage: keep the cyclic collector's passes short and rare.
        gc.collect()
        gc.freeze()
        thresholds = gc.get_threshold()
        gc.set_threshold(50_000, 50, 100)
        try:
            await clock.advance(MINUTES * 60)
            end = clock.monotonic()
        finally:
            gc.set_threshold(*thresholds)
            gc.unfreeze()
        stats = lifecycle.lifecycle.statistics()
        nodes = store.list(core.Node).items

    assert len(last_renewal) == NODES
    assert longest_gap <= RENEW_INTERVAL * (1 + JITTER) + 1e-6
    assert all(end - t <= RENEW_INTERVAL * (1 + JITTER) + 1e-6 for t in last_renewal.values())
    expected = NODES * int(MINUTES * 60 / (RENEW_INTERVAL * (1 + JITTER)))
    assert renewals >= expected
    assert unready_writes == []
    assert stats.unknown_marked == 0 and stats.no_execute_tainted == 0
    assert len(nodes) == NODES and all(n.is_ready and not n.spec.taints for n in nodes)
