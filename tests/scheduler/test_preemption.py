"""Preemption: the fewest, lowest-priority victims on one node, the preemptor
nominated and bound once they are gone, preemptionPolicy Never, and
PodDisruptionBudgets."""

from __future__ import annotations

from typing import Any

from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.preemption import Candidate, filter_pdb_violations, pick_one_node
from engine.api import Event, Pod, PodDisruptionBudget
from engine.clock import VirtualClock
from engine.manifests import parse_object
from tests.scheduler.builders import node, pod, running


def _victim(name: str, node_name: str, cpu: str, priority: int, **extra: Any) -> Pod:
    return pod(
        name,
        cpu=cpu,
        node_name=node_name,
        priority=priority,
        labels={"app": name.rstrip("0123456789")},
        **extra,
    )


async def test_evicts_the_fewest_lowest_priority_pods_on_one_node(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a"), node("b")]) as c:
        for p in (
            _victim("low1", "a", "1", 1, terminationGracePeriodSeconds=0),
            _victim("low2", "a", "1", 1, terminationGracePeriodSeconds=0),
            _victim("mid1", "a", "2", 5, terminationGracePeriodSeconds=0),
            _victim("mid2", "b", "2", 5, terminationGracePeriodSeconds=0),
            _victim("mid3", "b", "2", 5, terminationGracePeriodSeconds=0),
        ):
            await c.client.create(p)
        await c.settle()
        await c.client.create(pod("urgent", cpu="2", priority=10))
        await c.settle(0.1)
        # On a, mid1 can stay and both low pods must go; on b one mid pod would
        # do, but its priority (5) is higher than a's victims' (1): a wins.
        remaining = {p.metadata.name for p in c.store.list(Pod).items}
        assert remaining == {"mid1", "mid2", "mid3", "urgent"}
        urgent = c.store.get(Pod, "urgent")
        assert urgent.status.nominated_node_name == "a" or urgent.spec.node_name == "a"
        await c.settle(3)
        assert c.node_of("urgent") == "a"
        assert c.scheduler.statistics().preemptions == 1
        preempted = [e for e in c.store.list(Event).items if e.reason == "Preempted"]
        assert {e.involved_object.name for e in preempted} == {"low1", "low2"}


async def test_preemptor_waits_nominated_while_victims_terminate(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a", cpu="2")]) as c:
        await c.client.create(_victim("low", "a", "2", 0))  # graceful deletion: 30 s
        await c.settle()
        await c.client.create(pod("urgent", cpu="2", priority=100))
        await c.settle(1)
        victim = c.store.get(Pod, "low")
        assert victim.metadata.deletion_timestamp is not None
        disruption = victim.status.condition("DisruptionTarget")
        assert disruption is not None and disruption.reason == "PreemptionByScheduler"
        urgent = c.store.get(Pod, "urgent")
        assert urgent.spec.node_name is None
        assert urgent.status.nominated_node_name == "a"
        # A lower-priority newcomer must not take the room being made.
        await c.client.create(pod("sneaky", cpu="100m", priority=0))
        await c.settle(5)
        # The kubelet would finish the deletion; here we do.
        await c.client.delete(Pod, "low", grace_period_seconds=0)
        await c.settle(12)
        assert c.node_of("urgent") == "a"
        assert c.node_of("sneaky") is None


async def test_preemption_policy_never_is_honoured(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a", cpu="2")]) as c:
        await c.client.create(_victim("low", "a", "2", 0, terminationGracePeriodSeconds=0))
        await c.settle()
        await c.client.create(pod("polite", cpu="2", priority=100, preemptionPolicy="Never"))
        await c.settle(2)
        assert {p.metadata.name for p in c.store.list(Pod).items} == {"low", "polite"}
        condition = c.store.get(Pod, "polite").status.condition("PodScheduled")
        assert condition is not None
        assert condition.message is not None
        assert "preemption: not eligible due to preemptionPolicy=Never" in condition.message
        assert c.scheduler.statistics().preemptions == 0


async def test_equal_or_higher_priority_pods_are_never_victims(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a", cpu="2")]) as c:
        await c.client.create(_victim("peer", "a", "2", 10, terminationGracePeriodSeconds=0))
        await c.settle()
        await c.client.create(pod("same", cpu="2", priority=10))
        await c.settle(2)
        assert c.node_of("peer") == "a"
        condition = c.store.get(Pod, "same").status.condition("PodScheduled")
        assert condition is not None and condition.message is not None
        assert "No preemption victims found for incoming pod" in condition.message


def _pdb(name: str, app: str, allowed: int) -> PodDisruptionBudget:
    obj = parse_object(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": app}}},
            "status": {"disruptionsAllowed": allowed},
        }
    )
    assert isinstance(obj, PodDisruptionBudget)
    return obj


async def test_pod_disruption_budgets_steer_the_choice(clock: VirtualClock) -> None:
    async with running(clock, nodes=[node("a", cpu="2"), node("b", cpu="2")]) as c:
        await c.client.create(_pdb("guarded", "guarded", 0))
        await c.client.create(_victim("guarded", "a", "2", 0, terminationGracePeriodSeconds=0))
        await c.client.create(_victim("free", "b", "2", 0, terminationGracePeriodSeconds=0))
        await c.settle()
        await c.client.create(pod("urgent", cpu="2", priority=10))
        await c.settle(3)
        assert c.node_of("urgent") == "b"
        assert c.node_of("guarded") == "a"


def _info(name: str, priority: int, labels: dict[str, str] | None = None) -> PodInfo:
    return PodInfo.of(pod(name, priority=priority, labels=labels or {"app": "x"}))


def test_pdb_violations_count_each_budget_down() -> None:
    pods = [_info("a", 1), _info("b", 1), _info("c", 1, {"app": "y"})]
    violating, fine = filter_pdb_violations(pods, [_pdb("x", "x", 1)])
    assert [p.name for p in violating] == ["b"]
    assert [p.name for p in fine] == ["a", "c"]


def test_pick_one_node_criteria_in_order() -> None:
    def cand(node: str, priorities: list[int], violations: int = 0) -> Candidate:
        return Candidate(
            node, 0, [_info(f"{node}{i}", p) for i, p in enumerate(priorities)], violations
        )

    assert pick_one_node([cand("a", [1], 1), cand("b", [9])]).node == "b"  # fewer PDB violations
    assert pick_one_node([cand("a", [5]), cand("b", [1, 1])]).node == "b"  # lower top priority
    assert pick_one_node([cand("a", [1, 1]), cand("b", [1, 0])]).node == "b"  # lower sum
    assert pick_one_node([cand("a", [1, 1, 1]), cand("b", [1, 1])]).node == "b"  # fewer victims


async def test_priority_comes_from_the_priority_class_when_the_spec_has_none(
    clock: VirtualClock,
) -> None:
    from engine.api import PriorityClass

    async with running(clock, nodes=[node("a", cpu="2")]) as c:
        for name, value in (("critical", 1000), ("batch", 1)):
            pc = parse_object(
                {
                    "apiVersion": "scheduling.k8s.io/v1",
                    "kind": "PriorityClass",
                    "metadata": {"name": name},
                    "value": value,
                }
            )
            assert isinstance(pc, PriorityClass)
            await c.client.create(pc)
        await c.client.create(
            pod(
                "job",
                cpu="2",
                node_name="a",
                priorityClassName="batch",
                terminationGracePeriodSeconds=0,
            )
        )
        await c.settle()
        await c.client.create(pod("api", cpu="2", priorityClassName="critical"))
        await c.settle(3)
        assert c.node_of("api") == "a"
        assert {p.metadata.name for p in c.store.list(Pod).items} == {"api"}


def test_nominated_pods_keep_their_room_from_lower_or_equal_priority_pods() -> None:
    from controllers.scheduler.cycle_state import CycleState
    from controllers.scheduler.nominator import Nominator
    from controllers.scheduler.window import Window
    from tests.scheduler.builders import harness

    results = []
    for with_table in (True, False):
        h = harness()
        h.add_nodes(node("a", cpu="2"), node("b", cpu="2"), node("c", cpu="2"))
        nominator = Nominator(h.cache.table if with_table else None)
        h.handle.nominator = nominator
        fit = h.framework.plugins["NodeResourcesFit"]
        nominator.nominate(h.info(pod("big", cpu="1500m", priority=10)), "a")
        nominator.nominate(h.info(pod("small", cpu="600m", priority=1)), "b")
        row = []
        for name, priority in (("mid", 5), ("top", 20), ("big", 10)):
            candidate = h.info(pod(name, cpu="1", priority=priority))
            state = CycleState()
            fit.pre_filter(state, candidate)
            mask = fit.filter(state, candidate, Window.range(0, h.cache.table.size))
            row.append([bool(x) for x in mask])
        results.append(row)
        assert nominator.tracks_all is with_table
    # mid (5): a is kept by big (10); b's small (1) does not count. top (20): all free.
    # big itself ignores its own nomination.
    expected = [[False, True, True], [True, True, True], [True, True, True]]
    assert results[0] == results[1] == expected
