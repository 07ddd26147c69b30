"""NodeAffinity against the situations of Kubernetes' node_affinity_test.go:
requirement values parsed as `labels.NewRequirement` parses them, PreFilter
narrowing from `metadata.name` fields (intersection within a term, union
across terms, "pod affinity terms conflict"), preferred terms that do not
parse (PreScore Error), and the plugin's `addedAffinity` argument."""

from __future__ import annotations

from typing import Any

import pytest

from controllers.scheduler.config import Profile, SchedulerConfig
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.interfaces import PreFilterResult
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.status import Code, Status
from engine.api import Pod
from engine.clock import VirtualClock
from tests.scheduler.builders import Harness, harness, node, pod, running

OK = "ok"
REASON = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match Pod's node affinity/selector"
ENFORCED = "UNSCHEDULABLE_AND_UNRESOLVABLE: node(s) didn't match scheduler-enforced node affinity"


def _required(*terms: dict[str, Any]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


def _expr(key: str, op: str, *values: str) -> dict[str, Any]:
    return {"key": key, "operator": op, "values": list(values)}


def _names(*names: str) -> dict[str, Any]:
    return {"key": "metadata.name", "operator": "In", "values": list(names)}


def _h(**profile: Any) -> Harness:
    h = harness(Profile(**profile)) if profile else harness()
    h.add_nodes(
        node("node1", labels={"foo": "bar", "gen": "5"}),
        node("node2", labels={"foo": "bar"}),
        node("node3"),
    )
    return h


def _pre_filter(h: Harness, p: Pod) -> PreFilterResult | Status | None:
    result: PreFilterResult | Status | None = h.framework.plugins["NodeAffinity"].pre_filter(
        CycleState(), PodInfo.of(p)
    )
    return result


@pytest.mark.parametrize(
    ("expression", "matches"),
    [
        # "Pod with an invalid value in Affinity term won't be scheduled onto the node"
        (_expr("foo", "In", "invalid value: ___@#$%^"), set()),
        (_expr("foo", "NotIn", "bad value!"), set()),
        # A value longer than 63 characters is not a label value.
        (_expr("foo", "NotIn", "x" * 64), set()),
        # Gt/Lt: the bound must be an int64 and also a valid label value, so a
        # negative bound does not parse.
        (_expr("gen", "Gt", "-1"), set()),
        (_expr("gen", "Gt", "4"), {"node1"}),
        (_expr("gen", "Gt", "99999999999999999999"), set()),
        # The empty string is a valid label value.
        (_expr("foo", "NotIn", ""), {"node1", "node2", "node3"}),
        (_expr("foo", "In", "bar", "baz"), {"node1", "node2"}),
    ],
)
def test_required_requirement_values_are_parsed_like_new_requirement(
    expression: dict[str, Any], matches: set[str]
) -> None:
    h = _h()
    result = h.filter(
        "NodeAffinity", pod("p", affinity=_required({"matchExpressions": [expression]}))
    )
    assert {n for n, r in result.items() if r == OK} == matches
    assert {r for n, r in result.items() if n not in matches} <= {REASON}


def test_a_term_that_does_not_parse_leaves_other_terms_in_force() -> None:
    h = _h()
    p = pod(
        "p",
        affinity=_required(
            {"matchExpressions": [_expr("foo", "In", "@@")]},
            {"matchExpressions": [_expr("gen", "Exists")]},
        ),
    )
    assert h.filter("NodeAffinity", p) == {"node1": OK, "node2": REASON, "node3": REASON}


def test_match_fields_take_exactly_one_value() -> None:
    h = _h()
    two = pod("p", affinity=_required({"matchFields": [_names("node1", "node2")]}))
    assert set(h.filter("NodeAffinity", two).values()) == {REASON}
    not_in = pod(
        "q",
        affinity=_required(
            {"matchFields": [{"key": "metadata.name", "operator": "NotIn", "values": ["node1"]}]}
        ),
    )
    assert h.filter("NodeAffinity", not_in) == {"node1": REASON, "node2": OK, "node3": OK}


def test_pre_filter_intersects_name_fields_within_a_term_even_with_expressions() -> None:
    h = _h()
    # "Pod with one term: matchFields does not match, but matchExpressions matches"
    p = pod(
        "p",
        affinity=_required(
            {"matchFields": [_names("node1")], "matchExpressions": [_expr("foo", "In", "bar")]}
        ),
    )
    assert _pre_filter(h, p) == PreFilterResult(frozenset({"node1"}))
    assert h.filter("NodeAffinity", p) == {"node1": OK, "node2": REASON, "node3": REASON}


def test_pre_filter_unites_terms_and_leaves_all_nodes_when_a_term_names_none() -> None:
    h = _h()
    # "Pod with two terms of node.Name affinity"
    both = pod(
        "p",
        affinity=_required({"matchFields": [_names("node1")]}, {"matchFields": [_names("node2")]}),
    )
    assert _pre_filter(h, both) == PreFilterResult(frozenset({"node1", "node2"}))
    # "Pod with two terms: matchFields does not match, but matchExpressions matches"
    mixed = pod(
        "q",
        affinity=_required(
            {"matchFields": [_names("node1")]}, {"matchExpressions": [_expr("foo", "In", "bar")]}
        ),
    )
    assert _pre_filter(h, mixed) is None


def test_pre_filter_conflicting_name_fields_is_unresolvable() -> None:
    h = _h()
    # "Pod with two conflicting mach field requirements"
    p = pod("p", affinity=_required({"matchFields": [_names("node1"), _names("node2")]}))
    status = _pre_filter(h, p)
    assert status == Status.unresolvable("pod affinity terms conflict")


async def test_conflicting_name_fields_leave_the_pod_pending_with_the_reason(
    clock: VirtualClock,
) -> None:
    nodes = [node("node1"), node("node2")]
    async with running(clock, nodes=nodes) as c:
        await c.client.create(
            pod("p", affinity=_required({"matchFields": [_names("node1"), _names("node2")]}))
        )
        await c.settle()
        condition = c.store.get(Pod, "p").status.condition("PodScheduled")
        assert condition is not None and condition.reason == "Unschedulable"
        assert condition.message is not None
        assert "pod affinity terms conflict" in condition.message


def _preferred(*terms: tuple[int, dict[str, Any]]) -> dict[str, Any]:
    return {
        "nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": w, "preference": t} for w, t in terms
            ]
        }
    }


def test_preferred_terms_that_do_not_parse_make_pre_score_an_error() -> None:
    h = _h()
    bad = pod("p", affinity=_preferred((10, {"matchExpressions": [_expr("foo", "In", "a b")]})))
    plugin = h.framework.plugins["NodeAffinity"]
    status = plugin.pre_score(CycleState(), PodInfo.of(bad), h.cache.table.valid.nonzero()[0])
    assert status is not None and status.code is Code.ERROR
    assert 'matchExpressions[0].values[0]: Invalid value: "a b"' in status.message()
    # Empty terms are dropped before parsing, as in Kubernetes (so are weight-0
    # ones, which API validation rejects anyway).
    ignored = pod("q", affinity=_preferred((5, {})))
    assert (
        plugin.pre_score(CycleState(), PodInfo.of(ignored), h.cache.table.valid.nonzero()[0])
        == Status.skip()
    )


async def test_a_pod_with_unparsable_preferred_terms_is_not_scheduled(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a"), node("b")]) as c:
        bad = _preferred((10, {"matchExpressions": [_expr("foo", "In", "a b")]}))
        await c.client.create(pod("p", affinity=bad))
        await c.settle()
        assert c.node_of("p") is None
        condition = c.store.get(Pod, "p").status.condition("PodScheduled")
        assert condition is not None and condition.reason == "SchedulerError"


ADDED = {
    "addedAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [_expr("foo", "Exists")]}]
        },
        "preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 5, "preference": {"matchExpressions": [_expr("gen", "Exists")]}}
        ],
    }
}


def test_added_affinity_filters_every_pod_first() -> None:
    h = _h(plugin_args={"NodeAffinity": ADDED})
    # A pod with no node affinity of its own is held to the added one.
    assert h.filter("NodeAffinity", pod("p")) == {"node1": OK, "node2": OK, "node3": ENFORCED}
    # Both apply; the enforced reason comes first where both fail.
    own = pod("q", nodeSelector={"gen": "5"})
    assert h.filter("NodeAffinity", own) == {"node1": OK, "node2": REASON, "node3": ENFORCED}


def test_added_affinity_preferred_terms_add_to_the_score() -> None:
    h = _h(plugin_args={"NodeAffinity": ADDED})
    raw, _ = h.scores("NodeAffinity", pod("p"))
    assert raw == {"node1": 5, "node2": 0, "node3": 0}
    own = pod("q", affinity=_preferred((3, {"matchExpressions": [_expr("foo", "In", "bar")]})))
    raw, normalized = h.scores("NodeAffinity", own)
    assert raw == {"node1": 8, "node2": 3, "node3": 0}
    assert normalized == {"node1": 100, "node2": 37, "node3": 0}


def test_added_affinity_that_does_not_parse_is_a_configuration_error() -> None:
    bad = {
        "addedAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {
                "nodeSelectorTerms": [{"matchExpressions": [_expr("foo", "In")]}]
            }
        }
    }
    with pytest.raises(ValueError, match=r"addedAffinity\.requiredDuringScheduling"):
        _h(plugin_args={"NodeAffinity": bad})


async def test_added_affinity_places_pods_end_to_end(clock: VirtualClock) -> None:
    config = SchedulerConfig(profiles=(Profile(plugin_args={"NodeAffinity": ADDED}),))
    nodes = [node("plain"), node("labelled", labels={"foo": "x"})]
    async with running(clock, nodes=nodes, config=config) as c:
        for i in range(4):
            await c.client.create(pod(f"p{i}"))
        await c.settle()
        assert set(c.placements().values()) == {"labelled"}
