"""The cluster autoscaler in the deterministic simulation: scale-up and
scale-down under watch and write faults and an autoscaler crash, with the
autoscaler's safety invariants (pool bounds, drain before delete) checked
after every write, the desired state reached afterwards, and the same seed
giving the same trace."""

from __future__ import annotations

from engine.api.core import Node, Pod, Taint
from engine.store import WriteRecord
from runtime.cluster import NodePool
from runtime.simulation import Apply, Scale, Simulation, SimulationConfig
from runtime.simulation.faults import ControllerCrash, WatchDrop, WriteErrors
from runtime.simulation.oracles_autoscaler import (
    AutoscalerDrainsBeforeDelete,
    NodePoolWithinBounds,
)
from runtime.simulation.view import ClusterView
from tests.simulation.builders import deployment

POOL = NodePool(name="pool", count=1, min_count=1, max_count=4, cpu="2", provisioning_delay=30)
CONTROLLERS = (
    "scheduler",
    "replicaset",
    "deployment",
    "disruption",
    "garbagecollector",  # a deleted node's Lease goes with it
    "nodelifecycle",
    "clusterautoscaler",
)
FAULTS = (
    WatchDrop(at=5, duration=60, probability=0.3, controller="clusterautoscaler", informer="Pod"),
    WriteErrors(at=0, duration=120, probability=0.2, controller="clusterautoscaler"),
    ControllerCrash(at=100, controller="clusterautoscaler", restart_after=20.0),
)


async def _run(seed: int) -> tuple[str, list[int]]:
    config = SimulationConfig(
        seed=seed,
        node_pools=(POOL,),
        controllers=CONTROLLERS,
        faults=FAULTS,
        fault_kinds=frozenset({"watch_drop", "write_errors", "controller_crash"}),
    )
    counts: list[int] = []
    async with Simulation(config) as sim:
        sim.store.observers.append(
            lambda r: (
                counts.append(sum(1 for _ in sim.store.objects(Node)))
                if r.kind == "Node" and (r.removed or r.type == "ADDED")
                else None
            )
        )
        await sim.step(Apply(manifest=deployment("web", replicas=6, cpu="900m")))
        await sim.run_until(at=600)
        await sim.step(Scale(kind="Deployment", name="web", replicas=1))
        await sim.run_until(at=3000)
        report = await sim.check_esr(bound=600, window=60)
        assert report.ok, report.message
        assert sim.violations == [], sim.violations
        return sim.trace_hash(), counts


async def test_autoscaler_scales_up_and_down_under_faults_within_its_invariants() -> None:
    trace, counts = await _run(seed=3)
    assert max(counts) == 3  # 6 pods of 900m, 2 per 2-cpu node
    assert counts[-1] == 1  # back to min after the scale-in
    again, _ = await _run(seed=3)
    assert again == trace


def _node_record(name: str, *, removed: bool, taints: tuple[Taint, ...] = ()) -> WriteRecord:
    node = Node.model_validate({"metadata": {"name": name}, "spec": {"taints": list(taints)}})
    return WriteRecord(
        1, "delete" if removed else "create", "Node", "", name, node, None,
        "DELETED" if removed else "ADDED",
    )  # fmt: skip


class _Store:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def objects(self, kind: type[Node]) -> list[Node]:
        return [Node.model_validate({"metadata": {"name": n}}) for n in self.names]


def test_pool_bounds_invariant_catches_too_many_and_too_few_nodes() -> None:
    invariant = NodePoolWithinBounds((POOL,))
    view = ClusterView.__new__(ClusterView)
    view.store = _Store(["pool-0", "pool-1", "pool-2", "pool-3", "pool-4"])  # type: ignore[assignment]
    message = invariant.observe(_node_record("pool-4", removed=False), view)
    assert message == "node pool pool has 5 node(s) after adding pool-4, max 4"
    view.store = _Store([])  # type: ignore[assignment]
    message = invariant.observe(_node_record("pool-0", removed=True), view)
    assert message == "node pool pool has 0 node(s) after deleting pool-0, min 1"
    view.store = _Store(["other-0"] * 9)  # type: ignore[assignment]
    assert invariant.observe(_node_record("other-0", removed=False), view) is None


def test_drain_invariant_catches_a_node_deleted_with_pods_to_move() -> None:
    invariant = AutoscalerDrainsBeforeDelete()
    taint = Taint(key="ToBeDeletedByClusterAutoscaler", value="1", effect="NoSchedule")
    view = ClusterView.__new__(ClusterView)
    pod = _bound_pod("web-1", "pool-1")
    view.pods_on = lambda node: [pod] if node == "pool-1" else []  # type: ignore[method-assign]
    message = invariant.observe(_node_record("pool-1", removed=True, taints=(taint,)), view)
    assert (
        message == "node pool-1 deleted by the autoscaler with pods still on it: ['default/web-1']"
    )
    # a node nobody tainted (a node failure, a user's delete) is not the autoscaler's doing
    assert invariant.observe(_node_record("pool-1", removed=True), view) is None


def _bound_pod(name: str, node: str) -> Pod:
    return Pod.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": "default",
                "ownerReferences": [
                    {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web", "uid": "u",
                     "controller": True}
                ],
            },
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "nginx"}]},
            "status": {"phase": "Running"},
        }
    )  # fmt: skip
