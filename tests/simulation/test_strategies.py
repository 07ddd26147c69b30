"""The hypothesis strategies of the simulation: generated faults aim where the
target allows, and generated workloads are valid manifests."""

from __future__ import annotations

from typing import Any

from hypothesis import find, given
from hypothesis import strategies as st

from engine.manifests import parse_object
from runtime.simulation.faults import ALL_FAULT_KINDS, Fault
from runtime.simulation.strategies import faults, workloads

CONTROLLER_KINDS = sorted(
    set(ALL_FAULT_KINDS)
    - {"node_crash", "node_partition"}
    - {
        "node_slow_start",
        "container_crash",
    }
)


@given(faults(CONTROLLER_KINDS, controllers=("replicaset",), every_controller=False))
def test_faults_for_chosen_controllers_name_one_of_them(fault: Fault) -> None:
    assert getattr(fault, "controller", "replicaset") == "replicaset"


def test_faults_may_hit_every_controller_when_all_are_allowed() -> None:
    everyone = faults(CONTROLLER_KINDS, controllers=("replicaset", "scheduler"))
    found = find(everyone, lambda f: getattr(f, "controller", "x") is None)
    assert getattr(found, "controller", "x") is None


@given(st.sampled_from(("web", "api")).flatmap(workloads))
def test_generated_workloads_are_valid_manifests(manifest: dict[str, Any]) -> None:
    obj = parse_object(manifest)
    assert obj.metadata.name == manifest["metadata"]["name"]
