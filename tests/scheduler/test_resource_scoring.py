"""Resource scoring: the Kubernetes examples for LeastAllocated, MostAllocated,
BalancedAllocation and RequestedToCapacityRatio, through the plugins, and the
vector formulas agreeing with the one-node formulas everywhere."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.scheduler.config import Profile
from controllers.scheduler.plugins.node_resources_fit import FitArgs
from controllers.scheduler.plugins.resource_scoring import (
    balanced_allocation,
    balanced_allocation_one,
    broken_linear,
    broken_linear_one,
    least_allocated,
    least_allocated_one,
    most_allocated,
    most_allocated_one,
    requested_to_capacity_ratio,
    requested_to_capacity_ratio_one,
)
from tests.scheduler.builders import harness, node, pod


def _two_nodes(profile: Profile | None = None):  # type: ignore[no-untyped-def]
    # kube-scheduler's "nothing scheduled, resources requested, differently sized nodes".
    h = harness(profile)
    h.add_nodes(
        node("node1", cpu="4000m", memory="10000"), node("node2", cpu="6000m", memory="10000")
    )
    return h, pod("p", cpu="3000m", memory="5000")


def test_least_allocated_kubernetes_example() -> None:
    h, p = _two_nodes()
    raw, normalized = h.scores("NodeResourcesFit", p)
    # node1: cpu (4000-3000)*100/4000 = 25, memory (10000-5000)*100/10000 = 50 -> 37
    # node2: cpu (6000-3000)*100/6000 = 50, memory 50 -> 50
    assert raw == normalized == {"node1": 37, "node2": 50}


def test_most_allocated_kubernetes_example() -> None:
    profile = Profile(
        plugin_args={"NodeResourcesFit": {"scoringStrategy": {"type": "MostAllocated"}}}
    )
    h, p = _two_nodes(profile)
    # node1: cpu 3000*100/4000 = 75, memory 50 -> 62; node2: 50, 50 -> 50
    assert h.scores("NodeResourcesFit", p)[1] == {"node1": 62, "node2": 50}


def test_balanced_allocation_kubernetes_example() -> None:
    h, p = _two_nodes()
    # node1: fractions 0.75 and 0.5, std 0.125 -> 87; node2: 0.5 and 0.5 -> 100
    assert h.scores("NodeResourcesBalancedAllocation", p)[1] == {"node1": 87, "node2": 100}


def test_balanced_allocation_skips_best_effort_pods() -> None:
    h, _ = _two_nodes()
    best_effort = pod("be", cpu=None, memory=None)
    assert h.scores("NodeResourcesBalancedAllocation", best_effort)[1] == {"node1": 0, "node2": 0}


def test_requested_to_capacity_ratio_documented_example() -> None:
    # The bin packing example of the Kubernetes docs ("Resource Bin Packing"):
    # weights foo 5, memory 1, cpu 3; shape (0, 0) -> (100, 10).
    profile = Profile(
        plugin_args={
            "NodeResourcesFit": {
                "scoringStrategy": {
                    "type": "RequestedToCapacityRatio",
                    "resources": [
                        {"name": "intel.com/foo", "weight": 5},
                        {"name": "memory", "weight": 1},
                        {"name": "cpu", "weight": 3},
                    ],
                    "requestedToCapacityRatio": {
                        "shape": [{"utilization": 0, "score": 0}, {"utilization": 100, "score": 10}]
                    },
                }
            }
        }
    )
    h = harness(profile)
    h.add_nodes(
        node("node1", cpu="8", memory="1Gi", extra={"intel.com/foo": "4"}),
        node("node2", cpu="8", memory="1Gi", extra={"intel.com/foo": "8"}),
    )
    h.add_pods(
        pod(
            "used1",
            cpu="1",
            memory="256Mi",
            extra_requests={"intel.com/foo": "1"},
            node_name="node1",
        ),
        pod(
            "used2",
            cpu="6",
            memory="512Mi",
            extra_requests={"intel.com/foo": "2"},
            node_name="node2",
        ),
    )
    incoming = pod("p", cpu="2", memory="256Mi", extra_requests={"intel.com/foo": "2"})
    # node1: foo 3/4 -> 75, memory 512Mi/1Gi -> 50, cpu 3/8 -> 37: round((75*5+50+37*3)/9) = 60
    # node2: foo 4/8 -> 50, memory 768Mi/1Gi -> 75, cpu 8/8 -> 100: round((50*5+75+300)/9) = 69
    assert h.scores("NodeResourcesFit", incoming)[1] == {"node1": 60, "node2": 69}


def test_pods_without_requests_score_with_the_defaults() -> None:
    h = harness()
    h.add_nodes(node("a", cpu="1", memory="1Gi"))
    # 100m and 200Mi are assumed for a container that names no requests.
    raw, _ = h.scores("NodeResourcesFit", pod("p", cpu=None, memory=None))
    cpu = (1000 - 100) * 100 // 1000
    memory = (2**30 - 200 * 2**20) * 100 // 2**30
    assert raw == {"a": (cpu + memory) // 2}


def test_init_containers_and_overhead_count_as_kubernetes_does() -> None:
    h = harness()
    h.add_nodes(node("a", cpu="4"))
    p = pod(
        "p",
        cpu="500m",
        initContainers=[
            {"name": "init", "image": "busybox", "resources": {"requests": {"cpu": "2"}}},
        ],
        overhead={"cpu": "250m"},
    )
    info = h.info(p)
    # max(500m app, 2000m init) + 250m overhead
    assert info.requests.cpu == 2250
    sidecar = pod(
        "s",
        cpu="500m",
        initContainers=[
            {
                "name": "proxy",
                "image": "envoy",
                "restartPolicy": "Always",
                "resources": {"requests": {"cpu": "300m"}},
            },
            {"name": "init", "image": "busybox", "resources": {"requests": {"cpu": "600m"}}},
        ],
    )
    # app 500m + sidecar 300m = 800m; the later init runs beside the sidecar: 900m
    assert h.info(sidecar).requests.cpu == 900


_amount = st.integers(0, 10_000)
_alloc = st.integers(0, 10_000)


@st.composite
def _matrices(draw: st.DrawFn) -> tuple[list[list[int]], list[list[int]], list[int]]:
    resources = draw(st.integers(1, 4))
    nodes = draw(st.integers(1, 6))
    requested = [[draw(_amount) for _ in range(nodes)] for _ in range(resources)]
    allocatable = [[draw(_alloc) for _ in range(nodes)] for _ in range(resources)]
    weights = [draw(st.integers(1, 10)) for _ in range(resources)]
    return requested, allocatable, weights


def _columns(matrix: list[list[int]], node: int) -> list[int]:
    return [row[node] for row in matrix]


@given(_matrices())
def test_vector_formulas_match_the_one_node_formulas(
    data: tuple[list[list[int]], list[list[int]], list[int]],
) -> None:
    requested, allocatable, weights = data
    req = np.array(requested, np.int64)
    alloc = np.array(allocatable, np.int64)
    shape = [(0, 10), (50, 3), (100, 0)]
    vectors = {
        "least": least_allocated(req, alloc, weights),
        "most": most_allocated(req, alloc, weights),
        "ratio": requested_to_capacity_ratio(req, alloc, weights, shape),
        "balanced": balanced_allocation(req, alloc),
    }
    for n in range(req.shape[1]):
        r, a = _columns(requested, n), _columns(allocatable, n)
        assert vectors["least"][n] == least_allocated_one(r, a, weights)
        assert vectors["most"][n] == most_allocated_one(r, a, weights)
        assert vectors["ratio"][n] == requested_to_capacity_ratio_one(r, a, weights, shape)
        assert vectors["balanced"][n] == balanced_allocation_one(r, a)


@given(st.lists(st.integers(0, 100), min_size=1, max_size=30))
def test_broken_linear_interpolates_with_go_division(utilizations: list[int]) -> None:
    points = [(0, 100), (30, 20), (70, 90), (100, 0)]
    values = broken_linear(points, np.array(utilizations, np.int64))
    assert values.tolist() == [broken_linear_one(points, u) for u in utilizations]
    assert broken_linear_one(points, 15) == 100 + (20 - 100) * 15 // 30 + 0  # exact: -40
    # Go truncates toward zero: 100 + (-80 * 1) / 30 = 100 - 2 = 98 (floor would give 97)
    assert broken_linear_one(points, 1) == 98


def test_fit_args_weight_zero_or_unset_defaults_to_one_and_negative_is_rejected() -> None:
    # kube-scheduler's SetDefaults_NodeResourcesFitArgs turns weight 0 into 1;
    # validation then requires 1..100.
    args = FitArgs.parse(
        {
            "scoringStrategy": {
                "type": "MostAllocated",
                "resources": [{"name": "cpu", "weight": 0}, {"name": "memory"}],
            }
        }
    )
    assert args.resources == (("cpu", 1), ("memory", 1))
    with pytest.raises(ValueError, match=r"weight of 'cpu' must be 1\.\.100, got -1"):
        FitArgs.parse({"scoringStrategy": {"resources": [{"name": "cpu", "weight": -1}]}})
    with pytest.raises(ValueError, match="got 101"):
        FitArgs.parse({"scoringStrategy": {"resources": [{"name": "cpu", "weight": 101}]}})
