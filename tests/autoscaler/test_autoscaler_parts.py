"""The cluster autoscaler's parts on their own: expanders, back-off,
drainability rules, options, and the scheduler's what-if simulator."""

from __future__ import annotations

import random
from typing import Any

import pytest

from controllers.clusterautoscaler.backoff import Backoff
from controllers.clusterautoscaler.drainability import Budgets, pods_to_move
from controllers.clusterautoscaler.expander import Option, choose, parse_priorities
from controllers.clusterautoscaler.options import AutoscalingOptions
from controllers.scheduler import SchedulingSimulator
from engine.api.core import Node, Pod
from engine.api.policy import PodDisruptionBudget


def node(name: str, cpu: str = "4", memory: str = "16Gi", **spec: Any) -> Node:
    allocatable = {"cpu": cpu, "memory": memory, "pods": "110"}
    return Node.model_validate(
        {
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
            "spec": spec,
            "status": {
                "capacity": allocatable,
                "allocatable": allocatable,
                "conditions": [{"type": "Ready", "status": "True"}],
            },
        }
    )


def pod(
    name: str,
    cpu: str = "1",
    memory: str = "1Gi",
    *,
    node_name: str | None = None,
    owner: str | None = "ReplicaSet",
    namespace: str = "default",
    annotations: dict[str, str] | None = None,
    volumes: list[dict[str, Any]] | None = None,
    labels: dict[str, str] | None = None,
) -> Pod:
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "uid": f"uid-{name}",
        "labels": labels or {"app": "web"},
        "annotations": annotations or {},
    }
    if owner:
        meta["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": owner, "name": "o", "uid": "o", "controller": True}
        ]
    return Pod.model_validate(
        {
            "metadata": meta,
            "spec": {
                "nodeName": node_name,
                "volumes": volumes or [],
                "containers": [
                    {
                        "name": "c",
                        "image": "nginx",
                        "resources": {"requests": {"cpu": cpu, "memory": memory}},
                    }
                ],
            },
            "status": {"phase": "Running" if node_name else "Pending"},
        }
    )


def option(group: str, nodes: int, pods: list[Pod], cpu: str = "4") -> Option:
    return Option(group, nodes, node(f"t-{group}", cpu=cpu), pods)


# -- expanders -------------------------------------------------------------------------


def test_least_waste_prefers_the_option_leaving_the_least_idle() -> None:
    pods = [pod(f"p{i}", cpu="2", memory="8Gi") for i in range(2)]
    small = option("small", 1, pods, cpu="4")  # 4 cpu / 16Gi for 4 cpu / 16Gi: no waste
    big = option("big", 1, pods, cpu="16")
    assert choose([big, small], ["least-waste"], random.Random(1)) is small


def test_most_pods_prefers_the_option_scheduling_more() -> None:
    a = option("a", 1, [pod("p1")])
    b = option("b", 2, [pod("p1"), pod("p2")])
    assert choose([a, b], ["most-pods"], random.Random(1)) is b


def test_priority_picks_the_highest_matching_and_falls_through_ties() -> None:
    priorities = parse_priorities("10:\n  - .*\n50:\n  - ^gpu-.*\n  - ^fast$\n")
    options = [option("cheap", 1, [pod("p")]), option("fast", 1, [pod("p")])]
    assert choose(options, ["priority"], random.Random(1), priorities).group == "fast"  # type: ignore[union-attr]
    # two at the top priority: the next expander decides
    options.append(option("gpu-a", 3, [pod("p"), pod("q")]))
    chosen = choose(options, ["priority", "most-pods"], random.Random(1), priorities)
    assert chosen is not None and chosen.group == "gpu-a"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: [x]", "'a' is not an integer"),
        ("10: x", "expected a list of strings"),
        ("10: ['(']", "bad regex"),
        ("[1, 2]", "expected a map"),
    ],
)
def test_bad_priorities_are_refused_naming_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_priorities(text)


def test_random_expander_uses_the_injected_rng() -> None:
    options = [option(name, 1, [pod("p")]) for name in "abcdef"]
    first = [choose(options, ["random"], random.Random(7)).group for _ in range(3)]  # type: ignore[union-attr]
    again = [choose(options, ["random"], random.Random(7)).group for _ in range(3)]  # type: ignore[union-attr]
    assert first == again
    picks = {choose(options, ["random"], random.Random(s)).group for s in range(30)}  # type: ignore[union-attr]
    assert len(picks) > 1


# -- back-off --------------------------------------------------------------------------


def test_backoff_doubles_up_to_the_maximum_and_resets() -> None:
    backoff = Backoff(300, 1800, 3 * 3600)
    assert backoff.failed("g", 0) == 300
    assert backoff.backed_off_until("g", 100) == 300
    assert backoff.backed_off_until("g", 300) is None
    assert [backoff.failed("g", t) for t in (400, 1000, 3000, 6000)] == [600, 1200, 1800, 1800]
    assert backoff.failed("g", 6000 + 3 * 3600 + 1) == 300  # forgotten after 3 h
    backoff.succeeded("g")
    assert backoff.backed_off_until("g", 6000 + 3 * 3600 + 2) is None


# -- drainability ----------------------------------------------------------------------


def _blocked(*pods: Pod, budgets: list[PodDisruptionBudget] | None = None) -> str | None:
    _, blocking = pods_to_move(pods, Budgets.of(budgets or []))
    return None if blocking is None else blocking.reason


def pdb(allowed: int, labels: dict[str, str] | None = None) -> PodDisruptionBudget:
    return PodDisruptionBudget.model_validate(
        {
            "metadata": {"name": "b", "namespace": "kube-system"},
            "spec": {"selector": {"matchLabels": labels or {"app": "web"}}, "minAvailable": 1},
            "status": {"disruptionsAllowed": allowed},
        }
    )


def test_drainability_rule_by_rule() -> None:
    safe_false = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "false"}
    safe_true = {"cluster-autoscaler.kubernetes.io/safe-to-evict": "true"}
    empty_dir = [{"name": "v", "emptyDir": {}}]
    host_path = [{"name": "v", "hostPath": {"path": "/x"}}]
    assert _blocked(pod("a", node_name="n")) is None
    assert _blocked(pod("a", node_name="n", owner=None)) == "NotReplicated"
    assert _blocked(pod("a", node_name="n", annotations=safe_false)) == "NotSafeToEvictAnnotation"
    assert _blocked(pod("a", node_name="n", owner=None, annotations=safe_true)) is None
    assert _blocked(pod("a", node_name="n", volumes=empty_dir)) == "LocalStorageRequested"
    assert _blocked(pod("a", node_name="n", volumes=host_path)) == "LocalStorageRequested"
    assert _blocked(pod("a", node_name="n", volumes=empty_dir, annotations=safe_true)) is None
    system = pod("dns", node_name="n", namespace="kube-system")
    assert _blocked(system) == "UnmovableKubeSystemPod"
    assert _blocked(system, budgets=[pdb(1)]) is None
    assert _blocked(system, budgets=[pdb(0)]) == "NotEnoughPdb"
    ds_pod = pod("ds", node_name="n", owner="DaemonSet", volumes=empty_dir)
    assert pods_to_move([ds_pod], Budgets()) == ([], None)  # goes with the node
    mirror = pod("m", node_name="n", owner=None, annotations={"kubernetes.io/config.mirror": "x"})
    assert pods_to_move([mirror], Budgets()) == ([], None)


def test_budgets_are_shared_across_the_nodes_of_one_loop() -> None:
    budgets = Budgets.of([pdb(1)])
    first = pod("a", node_name="n1", namespace="kube-system")
    second = pod("b", node_name="n2", namespace="kube-system")
    assert pods_to_move([first], budgets) == ([first], None)
    moving, blocking = pods_to_move([second], budgets)
    assert moving == [] and blocking is not None and blocking.reason == "NotEnoughPdb"


# -- options ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"expander": "cheapest"}, "unknown expander 'cheapest'"),
        ({"scale_down_utilization_threshold": 1.5}, "within \\[0, 1\\]"),
        ({"scan_interval": 0}, "scan_interval must be > 0"),
        ({"scale_down_unneeded_time": -1}, "scale_down_unneeded_time must be >= 0"),
    ],
)
def test_bad_options_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        AutoscalingOptions(**kwargs)


# -- the scheduler's what-if simulator ---------------------------------------------------


def test_simulator_fits_with_the_scheduler_filters_and_reverts() -> None:
    sim = SchedulingSimulator()
    sim.add_node(node("a", cpu="2"))
    sim.add_node(node("b", cpu="4", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]))
    big = pod("big", cpu="3")
    assert sim.fits(big, "a") is not None and "Insufficient cpu" in (sim.fits(big, "a") or "")
    assert "untolerated taint" in (sim.fits(big, "b") or "")
    assert sim.find_node(pod("small", cpu="1")) == "a"
    sim.fork()
    sim.add_node(node("c", cpu="8"))
    sim.place(big, "c")
    assert sim.utilization("c") == (3 / 8, 1 / 16)
    assert sim.find_node(pod("p5", cpu="5")) == "c"
    mark = sim.mark()
    sim.place(pod("p5", cpu="5"), "c")
    assert sim.find_node(pod("p6", cpu="5")) is None
    sim.revert(mark)
    assert sim.find_node(pod("p6", cpu="5")) == "c"
    sim.revert()
    assert sim.node("c") is None and sim.find_node(pod("p6", cpu="5")) is None
    assert sim.find_node(pod("small", cpu="1"), exclude={"a"}) is None


def test_simulator_moves_bound_pods_only_without_their_node_name() -> None:
    sim = SchedulingSimulator()
    sim.add_node(node("a"))
    sim.add_node(node("b"))
    bound = pod("web", node_name="a")
    sim.add_pod(bound)
    assert sim.utilization("a") == (0.25, 1 / 16)
    assert sim.find_node(bound, exclude={"a"}) is None  # NodeName holds it to a
    sim.fork()
    sim.remove_pod(bound)
    sim.place(sim.unbound(bound), "b")
    assert sim.utilization("a") == (0.0, 0.0) and sim.utilization("b") == (0.25, 1 / 16)
    sim.revert()
    assert sim.utilization("a") == (0.25, 1 / 16) and sim.utilization("b") == (0.0, 0.0)
    assert [p.metadata.name for p in sim.pods_on("a")] == ["web"]
