"""Each safety invariant flags a hand-made violation (written to a simulated
cluster with no controllers, or handed a hand-made write) and stays quiet on a
valid cluster going through a rollout; the registry takes users' invariants."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api import ConfigMap, ObjectMeta, OwnerReference, Pod
from engine.api.base import Resource
from engine.manifests import parse_object
from engine.store import WriteRecord
from runtime.cluster import NodePool
from runtime.simulation import (
    SAFETY,
    Apply,
    Delete,
    Scale,
    SetImage,
    Simulation,
    SimulationConfig,
)
from runtime.simulation.invariants import ResourceVersionsIncrease
from runtime.simulation.view import ClusterView
from tests.simulation.builders import deployment, replica_set

BARE = SimulationConfig(
    node_pools=(NodePool(count=1, cpu="1", pods=2),),
    controllers=(),
    fault_kinds=frozenset(),
)
"""One node (1 CPU, 2 pods), no controllers, no faults: only what a test writes."""


def _flagged(sim: Simulation, name: str) -> list[str]:
    return [v.message for v in sim.violations if v.oracle == f"safety:{name}"]


def _create(sim: Simulation, manifest: dict[str, Any]) -> Any:
    return sim.store.create(parse_object(manifest))


def _pod(name: str, node: str | None = None, cpu: str = "100m", **meta: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "containers": [{"name": "c", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}]
    }
    if node:
        spec["nodeName"] = node
    metadata = {"name": name, "namespace": "default", **meta}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def _owned_by(owner: Resource, controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": owner.api_version,
        "kind": type(owner).kind_name,
        "name": owner.metadata.name,
        "uid": owner.metadata.uid,
        "controller": controller,
    }


def _record(obj: Resource, previous: Resource | None, revision: int) -> WriteRecord:
    meta = obj.metadata
    return WriteRecord(revision, "update", "Pod", meta.namespace, meta.name, obj, previous)


async def test_no_node_overcommit_flags_requests_beyond_allocatable() -> None:
    async with Simulation(BARE) as bare:
        _create(bare, _pod("a", "node-0", cpu="600m"))
        assert not _flagged(bare, "no-node-overcommit")
        _create(bare, _pod("b", "node-0", cpu="600m"))
        assert _flagged(bare, "no-node-overcommit") == [
            "node node-0 is overcommitted: cpu requests 1200m > allocatable 1"
        ]


async def test_no_node_overcommit_counts_pods_too() -> None:
    async with Simulation(BARE) as bare:
        for name in ("a", "b"):
            _create(bare, _pod(name, "node-0", cpu="10m"))
        assert not _flagged(bare, "no-node-overcommit")
        _create(bare, _pod("c", "node-0", cpu="10m"))
        assert _flagged(bare, "no-node-overcommit") == [
            "node node-0 has 3 pods bound, allocatable 2"
        ]


async def test_bound_pod_node_exists_flags_a_pod_on_a_missing_node() -> None:
    async with Simulation(BARE) as bare:
        _create(bare, _pod("real", "node-0"))
        assert not _flagged(bare, "bound-pod-node-exists")
        _create(bare, _pod("ghost", "node-9"))
        assert _flagged(bare, "bound-pod-node-exists") == [
            "pod default/ghost is bound to node 'node-9', which does not exist, "
            "and is not being deleted"
        ]


async def test_bound_pod_node_exists_spares_pods_being_deleted() -> None:
    async with Simulation(BARE) as bare:
        pod = _create(bare, _pod("ghost", "node-9", finalizers=["example.com/hold"]))
        bare.violations.clear()
        bare.store.delete(Pod, "ghost", "default")  # marked: being deleted
        marked = bare.store.get(Pod, "ghost", "default")
        assert marked.metadata.deletion_timestamp is not None and pod.metadata.uid
        assert not _flagged(bare, "bound-pod-node-exists")


async def test_pod_bound_once_flags_a_pod_moving_between_nodes() -> None:
    async with Simulation(BARE) as bare:
        invariant = SAFETY.create(["pod-bound-once"])[0]
        view = bare.view
        assert view is not None
        unbound = parse_object(_pod("p"))
        on_a = parse_object(_pod("p", "node-a"))
        on_b = parse_object(_pod("p", "node-b"))
        assert invariant.observe(_record(on_a, unbound, 10), view) is None  # binding is fine
        assert invariant.observe(_record(on_a, on_a, 11), view) is None
        assert invariant.observe(_record(on_b, on_a, 12), view) == (
            "pod default/p moved from node 'node-a' to 'node-b'"
        )


async def test_resource_versions_increase_flags_a_revision_going_back() -> None:
    async with Simulation(BARE) as bare:
        invariant = ResourceVersionsIncrease()
        view: ClusterView | None = bare.view
        assert view is not None

        def stamped(revision: int, stamp: int) -> WriteRecord:
            meta = ObjectMeta(name="cm", namespace="default", resource_version=str(stamp))
            return _record(ConfigMap(metadata=meta), None, revision)

        assert invariant.observe(stamped(5, 5), view) is None
        assert invariant.observe(stamped(6, 6), view) is None
        assert invariant.observe(stamped(6, 6), view) == "revision 6 written after revision 6"
        assert invariant.observe(stamped(4, 4), view) == "revision 4 written after revision 6"
        assert invariant.observe(stamped(9, 8), view) == (
            "Pod default/cm written at revision 9 carries resourceVersion '8'"
        )


async def test_owner_references_acyclic_flags_a_cycle() -> None:
    async with Simulation(BARE) as bare:
        first = _create(bare, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}})
        second = _create(
            bare,
            {
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": "b", "ownerReferences": [_owned_by(first, controller=False)]},
            },
        )
        assert not _flagged(bare, "owner-references-acyclic")
        ref = OwnerReference(api_version="v1", kind="ConfigMap", name="b", uid=second.metadata.uid)
        meta = first.metadata.model_copy(update={"owner_references": [ref]})
        bare.store.update(first.model_copy(update={"metadata": meta}))  # a -> b -> a
        assert _flagged(bare, "owner-references-acyclic") == [
            "ConfigMap default/a owns itself through ownerReferences"
        ]


async def test_replicaset_within_replicas_flags_pods_beyond_the_largest_size() -> None:
    async with Simulation(BARE) as bare:
        rs = _create(bare, replica_set("web", replicas=1))
        _create(bare, _pod("web-1", labels={"app": "web"}, ownerReferences=[_owned_by(rs)]))
        assert not _flagged(bare, "replicaset-within-replicas")
        _create(bare, _pod("web-2", labels={"app": "web"}, ownerReferences=[_owned_by(rs)]))
        assert _flagged(bare, "replicaset-within-replicas") == [
            "replicaset default/web has 2 active pods after creating web-2; "
            "it never asked for more than 1"
        ]


async def test_deployment_within_surge_flags_replicasets_asking_for_too_much() -> None:
    async with Simulation(BARE) as bare:
        d = _create(bare, deployment("web", replicas=2, max_surge=1))
        old = _create(
            bare,
            {
                **replica_set("web-old", replicas=2),
                "metadata": {"name": "web-old", "ownerReferences": [_owned_by(d)]},
            },
        )
        new = _create(
            bare,
            {
                **replica_set("web-new", replicas=0),
                "metadata": {"name": "web-new", "ownerReferences": [_owned_by(d)]},
            },
        )
        bare.store.update(
            new.model_copy(update={"spec": new.spec.model_copy(update={"replicas": 1})})
        )
        assert not _flagged(bare, "deployment-within-surge")  # 3 = replicas + maxSurge
        grown = bare.store.get(type(new), "web-new", "default")
        bare.store.update(
            grown.model_copy(update={"spec": grown.spec.model_copy(update={"replicas": 2})})
        )
        assert _flagged(bare, "deployment-within-surge") == [
            "deployment default/web: its ReplicaSets ask for 4 pods after web-new grew to 2; "
            "replicas + maxSurge allows 3"
        ]
        assert old.spec.replicas == 2


async def test_every_invariant_is_quiet_on_a_valid_cluster_through_a_rollout() -> None:
    config = SimulationConfig(node_pools=(NodePool(count=2),), fault_kinds=frozenset(), seed=3)
    async with Simulation(config) as sim:
        await sim.step(Apply(manifest=deployment("web", replicas=4)))
        await sim.step(Apply(manifest=replica_set("solo", replicas=2), after=5))
        await sim.step(SetImage(kind="Deployment", name="web", image="nginx:1.27", after=10))
        await sim.step(Scale(kind="Deployment", name="web", replicas=6, after=5))
        await sim.step(Scale(kind="Deployment", name="web", replicas=2, after=20))
        await sim.step(Delete(kind="ReplicaSet", name="solo", after=10))
        assert await sim.run_until_quiescent(quiet=20, timeout=600)
        assert sim.monitor is not None
        assert {i.name for i in sim.monitor.invariants} == set(SAFETY.names())
        assert sim.monitor.checks == sim.trace.writes
        assert sim.violations == [] and sim.errors == []
        assert sim.differences() == []  # the rollout did finish


async def test_users_register_their_own_invariants() -> None:
    registry = SAFETY.copy()

    @registry.invariant("no-configmap-named-forbidden")
    def forbidden(record: WriteRecord, view: ClusterView) -> str | None:
        return "forbidden written" if record.name == "forbidden" else None

    assert "no-configmap-named-forbidden" not in SAFETY.names()
    with pytest.raises(ValueError, match="already registered"):
        registry.register("pod-bound-once", ResourceVersionsIncrease)
    with pytest.raises(ValueError, match="unknown invariant"):
        registry.create(["nope"])
    config = SimulationConfig(
        node_pools=(NodePool(count=1),),
        controllers=(),
        fault_kinds=frozenset(),
        invariant_registry=registry,
        invariants=("no-configmap-named-forbidden",),
    )
    async with Simulation(config) as sim:
        for name in ("allowed", "forbidden"):
            sim.store.create(ConfigMap(metadata=ObjectMeta(name=name, namespace="default")))
        assert [(v.oracle, v.message) for v in sim.violations] == [
            ("safety:no-configmap-named-forbidden", "forbidden written")
        ]
