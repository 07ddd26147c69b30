"""Kubelet: node registration, Lease heartbeats and NodeStatus reporting."""

from __future__ import annotations

import itertools

from engine.api import core
from engine.api.coordination import Lease
from engine.clock import VirtualClock
from engine.quantity import Quantity
from runtime.kubelet import KubeletConfig
from tests.runtime.kubelet_env import set_node_ready, simulated_nodes


async def test_registers_node_with_capacity_labels_taints_and_info(clock: VirtualClock) -> None:
    config = KubeletConfig(
        node_name="worker-a",
        capacity={"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "2"},
        labels={"team": "ml"},
        taints=(core.Taint(key="gpu", value="true", effect="NoSchedule"),),
        zone="eu-west-1a",
        region="eu-west-1",
        internal_ip="192.168.1.10",
        pod_cidr="10.1.2.0/24",
    )
    async with simulated_nodes(clock, configs=[config]) as env:
        node = env.store.get(core.Node, "worker-a")
    labels = node.metadata.labels
    assert labels["kubernetes.io/hostname"] == "worker-a"
    assert labels["kubernetes.io/os"] == "linux"
    assert labels["topology.kubernetes.io/zone"] == "eu-west-1a"
    assert labels["topology.kubernetes.io/region"] == "eu-west-1"
    assert labels["team"] == "ml"
    assert node.spec.taints == [core.Taint(key="gpu", value="true", effect="NoSchedule")]
    assert node.spec.pod_cidr == "10.1.2.0/24"
    assert node.status.capacity["nvidia.com/gpu"] == Quantity("2")
    assert node.status.allocatable["cpu"] == Quantity("8")
    assert node.status.allocatable["pods"] == Quantity("110")
    assert {(a.type, a.address) for a in node.status.addresses} == {
        ("InternalIP", "192.168.1.10"),
        ("Hostname", "worker-a"),
    }
    assert node.status.node_info is not None
    assert node.status.node_info.container_runtime_version == "simulated://0.1.0"
    assert node.is_ready
    assert {c.type: c.status for c in node.status.conditions} == {
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
        "Ready": "True",
    }


async def test_default_node_has_110_pods_and_no_zone_labels(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        node = env.store.get(core.Node, "node-0")
    assert node.status.capacity["pods"] == Quantity("110")
    assert "topology.kubernetes.io/zone" not in node.metadata.labels


async def test_lease_renewed_every_ten_seconds_with_forty_second_duration(
    clock: VirtualClock,
) -> None:
    async with simulated_nodes(clock, 3) as env:
        await clock.advance(120)
        renewals = [
            (w.name, w.object) for w in env.writes if w.kind == "Lease" and w.name == "node-1"
        ]
    lease = renewals[-1][1]
    assert isinstance(lease, Lease)
    assert lease.metadata.namespace == "kube-node-lease"
    assert lease.spec.holder_identity == "node-1"
    assert lease.spec.lease_duration_seconds == 40
    assert lease.metadata.owner_references[0].kind == "Node"
    times = [obj.spec.renew_time for _, obj in renewals if isinstance(obj, Lease)]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times) if a and b]
    assert len(gaps) >= 10
    assert all(10.0 <= gap <= 10.4 + 1e-6 for gap in gaps)


async def test_node_status_posted_every_five_minutes_when_nothing_changes(
    clock: VirtualClock,
) -> None:
    async with simulated_nodes(clock) as env:
        await clock.advance(1000)
        posts = [
            w for w in env.writes if w.kind == "Node" and w.verb in ("create", "update_status")
        ]
    # registration at 0, then a report on the first check (every 10 s) after 5 min
    times = [p.revision for p in posts]
    assert len(times) == 4
    nodes = [p.object for p in posts]
    assert all(isinstance(n, core.Node) and n.is_ready for n in nodes)
    beats = [
        c.last_heartbeat_time
        for n in nodes
        if isinstance(n, core.Node)
        for c in n.status.conditions
        if c.type == "Ready"
    ]
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(beats) if a and b]
    assert all(300 <= gap <= 311 for gap in gaps), gaps


async def test_node_status_reposted_when_someone_else_changed_it(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        set_node_ready(env, "Unknown")
        await clock.advance(11)
        assert env.store.get(core.Node, "node-0").is_ready


async def test_restarted_kubelet_keeps_taints_added_by_others(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        node = env.store.get(core.Node, "node-0")
        taint = core.Taint(key="maintenance", effect="NoSchedule")
        env.store.update(
            node.model_copy(update={"spec": node.spec.model_copy(update={"taints": [taint]})})
        )
        kubelet = env.kubelet()
        await kubelet.crash()
        await kubelet.restore()
        node = env.store.get(core.Node, "node-0")
        assert node.spec.taints == [taint]
        assert node.is_ready
