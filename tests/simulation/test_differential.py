"""The differential oracle: the same desired state reached along different
paths (and seeds) normalizes to the same end state, ignoring uids, generated
names, timestamps and resourceVersions; a real difference is flagged."""

from __future__ import annotations

from typing import Any

from runtime.cluster import NodePool
from runtime.simulation import Apply, Operation, Scale, SetImage, Simulation, SimulationConfig
from runtime.simulation.differential import compare, desired_manifests, normalize
from tests.simulation.builders import deployment, replica_set

NEW = "nginx:1.27"


async def _end_state(
    seed: int, *ops: Operation
) -> tuple[dict[str, list[str]], list[dict[str, Any]]]:
    config = SimulationConfig(node_pools=(NodePool(count=2),), seed=seed, fault_kinds=frozenset())
    async with Simulation(config) as sim:
        for op in ops:
            await sim.step(op)
        assert await sim.run_until_quiescent(quiet=30, timeout=900)
        assert sim.differences() == [] and sim.violations == []
        return normalize(sim.store), desired_manifests(sim.store)


DIRECT = (
    Apply(manifest=deployment("web", replicas=3, image=NEW)),
    Apply(manifest=replica_set("solo", replicas=2)),
)
ROUNDABOUT = (
    Apply(manifest=replica_set("solo", replicas=5)),
    Apply(manifest=deployment("web", replicas=1)),
    Scale(kind="Deployment", name="web", replicas=5, after=20),
    SetImage(kind="Deployment", name="web", image=NEW, after=5),
    Scale(kind="ReplicaSet", name="solo", replicas=2, after=1),
    Scale(kind="Deployment", name="web", replicas=3, after=10),
)


async def test_different_paths_to_the_same_desired_state_are_equivalent() -> None:
    direct, _ = await _end_state(1, *DIRECT)
    roundabout, _ = await _end_state(2, *ROUNDABOUT)
    assert compare(direct, roundabout) == []
    # What was compared: the workloads and their pods, under stable names.
    assert len(direct["Pod"]) == 5 and len(direct["ReplicaSet"]) == 2
    assert all('"phase": "Running"' in line for line in direct["Pod"])
    assert not any("uid" in line or "resourceVersion" in line for line in direct["ReplicaSet"])


async def test_a_real_difference_is_flagged() -> None:
    direct, _ = await _end_state(1, *DIRECT)
    bigger, _ = await _end_state(1, *DIRECT, Scale(kind="Deployment", name="web", replicas=4))
    differences = compare(direct, bigger)
    assert differences
    kinds = {line.split(":")[0] for line in differences}
    assert {"Deployment", "ReplicaSet", "Pod"} <= kinds
    assert any(line.startswith("Pod: only in the second: ") for line in differences)
    assert any('"replicas": 4' in line for line in differences if line.startswith("Deployment"))


async def test_desired_manifests_rebuild_an_equivalent_cluster() -> None:
    roundabout, manifests = await _end_state(3, *ROUNDABOUT)
    assert sorted((m["kind"], m["metadata"]["name"]) for m in manifests) == [
        ("Deployment", "web"),
        ("ReplicaSet", "solo"),
    ]
    assert all("status" not in m and "uid" not in m["metadata"] for m in manifests)
    rebuilt, _ = await _end_state(4, *(Apply(manifest=m) for m in manifests))
    assert compare(roundabout, rebuilt) == []
