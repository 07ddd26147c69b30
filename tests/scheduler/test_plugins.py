"""Each default plugin's Filter and Score on hand-computed cases, including
normalisation and the weighted sum."""

from __future__ import annotations

from typing import Any

from controllers.scheduler.config import Profile
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.window import Window
from tests.scheduler.builders import harness, node, pod

OK = "ok"
GPU_TAINT = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}


def test_node_unschedulable() -> None:
    h = harness()
    h.add_nodes(node("a"), node("cordoned", unschedulable=True))
    assert h.filter("NodeUnschedulable", pod("p")) == {
        "a": OK,
        "cordoned": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) were unschedulable",
    }
    tolerant = pod(
        "t",
        tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}],
    )
    assert h.filter("NodeUnschedulable", tolerant) == {"a": OK, "cordoned": OK}


def test_node_name() -> None:
    h = harness()
    h.add_nodes(node("a"), node("b"))
    assert h.filter("NodeName", pod("p", nodeName="b"))["a"].endswith(
        "node(s) didn't match the requested node name"
    )
    assert h.filter("NodeName", pod("p", nodeName="b"))["b"] == OK
    assert h.filter("NodeName", pod("q")) == {"a": OK, "b": OK}


def test_taint_toleration_filter() -> None:
    h = harness()
    soft = {"key": "spot", "value": "true", "effect": "PreferNoSchedule"}
    h.add_nodes(node("plain"), node("gpu", taints=[GPU_TAINT]), node("spot", taints=[soft]))
    result = h.filter("TaintToleration", pod("p"))
    assert result == {
        "plain": OK,
        "gpu": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) had untolerated taint(s)",
        "spot": OK,
    }
    tolerant = pod("t", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu"}])
    assert set(h.filter("TaintToleration", tolerant).values()) == {OK}
    wrong_value = pod("w", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "tpu"}])
    assert h.filter("TaintToleration", wrong_value)["gpu"] != OK


def test_taint_toleration_score_prefers_fewer_untolerated_soft_taints() -> None:
    h = harness()
    soft = [
        {"key": "a", "value": "1", "effect": "PreferNoSchedule"},
        {"key": "b", "value": "1", "effect": "PreferNoSchedule"},
    ]
    h.add_nodes(node("none"), node("one", taints=soft[:1]), node("two", taints=soft))
    raw, normalized = h.scores("TaintToleration", pod("p"))
    assert raw == {"none": 0, "one": 1, "two": 2}
    # DefaultNormalizeScore, reversed: 100 - count * 100 / max
    assert normalized == {"none": 100, "one": 50, "two": 0}
    tolerates_a = pod("t", tolerations=[{"key": "a", "operator": "Exists"}])
    assert h.scores("TaintToleration", tolerates_a)[1] == {"none": 100, "one": 100, "two": 0}


def test_node_affinity_filter_selector_and_required_terms() -> None:
    h = harness()
    h.add_nodes(
        node("z1", labels={"zone": "z1", "gen": "3"}),
        node("z2", labels={"zone": "z2", "gen": "5"}),
        node("bare"),
    )
    reason = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match Pod's node affinity/selector"
    assert h.filter("NodeAffinity", pod("s", nodeSelector={"zone": "z2"})) == {
        "z1": reason,
        "z2": OK,
        "bare": reason,
    }
    required = pod(
        "r",
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "gen", "operator": "Gt", "values": ["4"]}]},
                        {"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]},
                    ]
                }
            }
        },
    )
    assert h.filter("NodeAffinity", required) == {"z1": reason, "z2": OK, "bare": OK}
    by_name = pod(
        "n",
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchFields": [
                                {"key": "metadata.name", "operator": "In", "values": ["z1"]}
                            ]
                        }
                    ]
                }
            }
        },
    )
    assert h.filter("NodeAffinity", by_name) == {"z1": OK, "z2": reason, "bare": reason}


def test_node_affinity_score_sums_preferred_weights_normalised() -> None:
    h = harness()
    h.add_nodes(
        node("both", labels={"zone": "z1", "ssd": "true"}),
        node("zone", labels={"zone": "z1"}),
        node("none"),
    )
    preferred = pod(
        "p",
        affinity={
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 60,
                        "preference": {
                            "matchExpressions": [
                                {"key": "zone", "operator": "In", "values": ["z1"]}
                            ]
                        },
                    },
                    {
                        "weight": 20,
                        "preference": {"matchExpressions": [{"key": "ssd", "operator": "Exists"}]},
                    },
                ]
            }
        },
    )
    raw, normalized = h.scores("NodeAffinity", preferred)
    assert raw == {"both": 80, "zone": 60, "none": 0}
    assert normalized == {"both": 100, "zone": 75, "none": 0}


def test_node_ports() -> None:
    h = harness()
    h.add_nodes(node("a"), node("b"), node("c"))
    h.add_pods(pod("web", host_port=80, node_name="a"))
    h.add_pods(
        pod(
            "ip",
            node_name="b",
            containers=[
                {
                    "name": "c",
                    "image": "x",
                    "ports": [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.1"}],
                }
            ],
        )
    )
    reason = "UNSCHEDULABLE: node(s) didn't have free ports for the requested pod ports"
    # 0.0.0.0 conflicts with any IP
    assert h.filter("NodePorts", pod("p", host_port=80)) == {"a": reason, "b": reason, "c": OK}
    other_ip = pod(
        "q",
        containers=[
            {
                "name": "c",
                "image": "x",
                "ports": [{"containerPort": 80, "hostPort": 80, "hostIP": "10.0.0.2"}],
            }
        ],
    )
    assert h.filter("NodePorts", other_ip) == {"a": reason, "b": OK, "c": OK}
    assert set(h.filter("NodePorts", pod("udp", host_port=81)).values()) == {OK}


def test_node_resources_fit_filter_reasons_and_codes() -> None:
    h = harness()
    h.add_nodes(
        node("roomy"),
        node("busy", cpu="2", memory="1Gi"),
        node("tiny", cpu="500m"),
        node("full", pods="1"),
        node("gpu", extra={"nvidia.com/gpu": "2"}),
    )
    h.add_pods(pod("x", cpu="1500m", memory="900Mi", node_name="busy"))
    h.add_pods(pod("y", cpu="10m", node_name="full"))
    result = h.filter("NodeResourcesFit", pod("p", cpu="1", memory="256Mi"))
    assert result == {
        "roomy": OK,
        "busy": "UNSCHEDULABLE: Insufficient cpu, Insufficient memory",
        # asking for more than the node has at all: preemption cannot help
        "tiny": "UNSCHEDULABLE_AND_UNRESOLVABLE: Insufficient cpu",
        "full": "UNSCHEDULABLE: Too many pods",
        "gpu": OK,
    }
    gpu = pod("g", extra_requests={"nvidia.com/gpu": "1"})
    assert h.filter("NodeResourcesFit", gpu)["gpu"] == OK
    assert h.filter("NodeResourcesFit", gpu)["roomy"] == (
        "UNSCHEDULABLE_AND_UNRESOLVABLE: Insufficient nvidia.com/gpu"
    )


def test_image_locality_scores_by_scaled_image_size() -> None:
    mb = 1024 * 1024
    h = harness()
    h.add_nodes(
        node("big", images=[{"names": ["repo/app:1"], "sizeBytes": 500 * mb}]),
        node("small", images=[{"names": ["repo/app:1"], "sizeBytes": 500 * mb}]),
        node("none"),
        node("other", images=[{"names": ["repo/other:latest"], "sizeBytes": 800 * mb}]),
    )
    raw, _ = h.scores("ImageLocality", pod("p", image="repo/app:1"))
    # 500MB scaled by 2 of 4 nodes = 250MB; (250 - 23) * 100 / (1000 - 23) = 23
    assert raw == {"big": 23, "small": 23, "none": 0, "other": 0}
    # An untagged image is :latest: 800MB * 1/4 = 200MB -> (200 - 23) * 100 / 977 = 18
    assert h.scores("ImageLocality", pod("q", image="repo/other"))[0]["other"] == 18


def _spread_pod(
    name: str, when: str = "DoNotSchedule", constraint: dict[str, Any] | None = None, **spec: Any
) -> Any:
    return pod(
        name,
        labels={"app": "web"},
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"app": "web"}},
                **(constraint or {}),
            }
        ],
        **spec,
    )


def test_pod_topology_spread_filter_respects_max_skew() -> None:
    h = harness()
    h.add_nodes(
        node("a1", labels={"zone": "a"}),
        node("a2", labels={"zone": "a"}),
        node("b1", labels={"zone": "b"}),
        node("nolabel"),
    )
    h.add_pods(
        pod("w1", labels={"app": "web"}, node_name="a1"),
        pod("w2", labels={"app": "web"}, node_name="a2"),
        pod("w3", labels={"app": "web"}, node_name="b1"),
        pod("other", labels={"app": "db"}, node_name="b1"),
    )
    # zone a has 2, zone b has 1: min 1; a: 2+1-1 = 2 > 1; b: 1+1-1 = 1
    assert h.filter("PodTopologySpread", _spread_pod("p")) == {
        "a1": "UNSCHEDULABLE: node(s) didn't match pod topology spread constraints",
        "a2": "UNSCHEDULABLE: node(s) didn't match pod topology spread constraints",
        "b1": OK,
        "nolabel": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match pod topology "
        "spread constraints (missing required label)",
    }
    # minDomains 3 with only 2 domains: the global minimum counts as 0
    assert h.filter("PodTopologySpread", _spread_pod("q", constraint={"minDomains": 3}))["b1"] != OK


def test_pod_topology_spread_honours_node_affinity_for_domains() -> None:
    h = harness()
    h.add_nodes(node("a1", labels={"zone": "a"}), node("b1", labels={"zone": "b", "pool": "x"}))
    h.add_pods(pod("w1", labels={"app": "web"}, node_name="b1"))
    only_b = _spread_pod("p", nodeSelector={"pool": "x"})
    # With nodeAffinityPolicy Honor zone a is not a domain, so b's skew is 1+1-1 = 1.
    assert h.filter("PodTopologySpread", only_b)["b1"] == OK
    ignore = pod(
        "q",
        labels={"app": "web"},
        nodeSelector={"pool": "x"},
        topologySpreadConstraints=[
            {
                "maxSkew": 1,
                "topologyKey": "zone",
                "whenUnsatisfiable": "DoNotSchedule",
                "labelSelector": {"matchLabels": {"app": "web"}},
                "nodeAffinityPolicy": "Ignore",
            }
        ],
    )
    assert h.filter("PodTopologySpread", ignore)["b1"] != OK


def test_pod_topology_spread_score() -> None:
    h = harness()
    h.add_nodes(
        node("a1", labels={"zone": "a"}),
        node("b1", labels={"zone": "b"}),
        node("c1", labels={"zone": "c"}),
    )
    h.add_pods(
        pod("w1", labels={"app": "web"}, node_name="a1"),
        pod("w2", labels={"app": "web"}, node_name="a1"),
        pod("w3", labels={"app": "web"}, node_name="b1"),
    )
    raw, normalized = h.scores("PodTopologySpread", _spread_pod("p", "ScheduleAnyway"))
    # weight log(3 + 2); score = count * w + maxSkew - 1, rounded
    w = 1.6094379124341003
    assert raw == {"a1": round(2 * w), "b1": round(w), "c1": 0}
    # raw 3, 2, 0; 100 * (max + min - s) / max with max 3, min 0
    assert normalized == {"a1": 0, "b1": 33, "c1": 100}


def _anti(label: str, key: str = "kubernetes.io/hostname") -> dict[str, Any]:
    return {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {"labelSelector": {"matchLabels": {"app": label}}, "topologyKey": key}
            ]
        }
    }


def test_inter_pod_affinity_filter() -> None:
    h = harness()
    h.add_nodes(
        node("a1", labels={"zone": "a"}),
        node("a2", labels={"zone": "a"}),
        node("b1", labels={"zone": "b"}),
    )
    h.add_pods(
        pod("db", labels={"app": "db"}, node_name="a1"),
        pod("guard", labels={"app": "guard"}, node_name="b1", affinity=_anti("web")),
    )
    with_db = pod(
        "p",
        labels={"app": "web"},
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone"}
                ]
            }
        },
    )
    assert h.filter("InterPodAffinity", with_db) == {
        "a1": OK,
        "a2": OK,
        # b1 has no db in zone b, and the guard there repels app=web anyway;
        # affinity is checked first
        "b1": "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match pod affinity rules",
    }
    away_from_db = pod("q", labels={"app": "cache"}, affinity=_anti("db", "zone"))
    assert h.filter("InterPodAffinity", away_from_db) == {
        "a1": "UNSCHEDULABLE: node(s) didn't match pod anti-affinity rules",
        "a2": "UNSCHEDULABLE: node(s) didn't match pod anti-affinity rules",
        "b1": OK,
    }
    plain_web = pod("r", labels={"app": "web"})
    assert h.filter("InterPodAffinity", plain_web) == {
        "a1": OK,
        "a2": OK,
        "b1": "UNSCHEDULABLE: node(s) didn't satisfy existing pods anti-affinity rules",
    }


def test_inter_pod_affinity_first_pod_of_a_group_may_go_anywhere() -> None:
    h = harness()
    h.add_nodes(node("a1", labels={"zone": "a"}), node("nolabel"))
    first = pod(
        "first",
        labels={"app": "web"},
        affinity={
            "podAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "zone"}
                ]
            }
        },
    )
    result = h.filter("InterPodAffinity", first)
    assert result["a1"] == OK
    assert result["nolabel"] != OK  # the topology label is still required


def test_inter_pod_affinity_namespace_selector() -> None:
    labels = {"team-a": {"team": "a"}, "team-b": {"team": "b"}}
    from controllers.scheduler.handle import Listers

    h = harness(listers=Listers(namespace_labels=labels.get))
    h.cache.namespace_labels = labels.get
    h.add_nodes(node("n1"), node("n2"))
    h.store.create(_namespace("team-a"))
    h.store.create(_namespace("team-b"))
    h.add_pods(pod("x", namespace="team-a", labels={"app": "web"}, node_name="n1"))
    h.add_pods(pod("y", namespace="team-b", labels={"app": "web"}, node_name="n2"))
    spec = {
        "podAntiAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": [
                {
                    "labelSelector": {"matchLabels": {"app": "web"}},
                    "namespaceSelector": {"matchLabels": {"team": "a"}},
                    "topologyKey": "kubernetes.io/hostname",
                }
            ]
        }
    }
    result = h.filter("InterPodAffinity", pod("p", affinity=spec))
    assert result["n1"] != OK and result["n2"] == OK


def _namespace(name: str) -> Any:
    from engine.api import Namespace
    from engine.api.base import ObjectMeta

    return Namespace(metadata=ObjectMeta(name=name))


def test_inter_pod_affinity_score_both_directions() -> None:
    h = harness()
    h.add_nodes(node("a"), node("b"), node("c"))
    likes_web = {
        "podAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {
                    "weight": 10,
                    "podAffinityTerm": {
                        "labelSelector": {"matchLabels": {"app": "web"}},
                        "topologyKey": "kubernetes.io/hostname",
                    },
                }
            ]
        }
    }
    h.add_pods(
        pod("web1", labels={"app": "web"}, node_name="a"),
        pod("web2", labels={"app": "web"}, node_name="a"),
        pod("fan", labels={"app": "fan"}, node_name="b", affinity=likes_web),
    )
    raw, normalized = h.scores(
        "InterPodAffinity", pod("p", labels={"app": "web"}, affinity=likes_web)
    )
    # own term: +10 per web pod on a (2 pods); fan's term matches p: +10 on b
    assert raw == {"a": 20, "b": 10, "c": 0}
    assert normalized == {"a": 100, "b": 50, "c": 0}


def test_weighted_sum_of_normalised_scores() -> None:
    h = harness()
    h.add_nodes(
        node("preferred", labels={"disk": "ssd"}, cpu="4"),
        node("plain", cpu="4"),
    )
    p = pod(
        "p",
        cpu="2",
        memory="16Gi",
        affinity={
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 1,
                        "preference": {
                            "matchExpressions": [
                                {"key": "disk", "operator": "In", "values": ["ssd"]}
                            ]
                        },
                    }
                ]
            }
        },
    )
    info = h.info(p)
    state = CycleState()
    slots = Window.of([h.slot("preferred"), h.slot("plain")]).slots
    h.framework.run_pre_filter(state, info)
    h.framework.run_pre_score(state, info, slots)
    totals = h.framework.run_score(state, info, slots)
    # NodeAffinity 100 * 2 on "preferred"; Fit 50 and Balanced 100 on both;
    # TaintToleration (100 * 3) and ImageLocality (0) are the same everywhere.
    assert totals.tolist() == [2 * 100 + 50 + 100, 50 + 100]


def test_score_weights_come_from_the_profile() -> None:
    from controllers.scheduler.config import DEFAULT_PLUGINS, PluginSpec

    plugins = tuple(
        PluginSpec(p.name, 5) if p.name == "NodeAffinity" else p for p in DEFAULT_PLUGINS
    )
    h = harness(Profile(plugins=plugins))
    entry = next(e for e in h.framework.score if e.name == "NodeAffinity")
    assert entry.weight == 5
    assert {e.name: e.weight for e in h.framework.score} == {
        "TaintToleration": 3,
        "NodeAffinity": 5,
        "NodeResourcesFit": 1,
        "PodTopologySpread": 2,
        "InterPodAffinity": 2,
        "NodeResourcesBalancedAllocation": 1,
        "ImageLocality": 1,
    }
