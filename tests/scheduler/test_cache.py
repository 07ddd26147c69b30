"""The scheduler cache and its columnar node table: incremental updates from
node and pod changes, assume / confirm / forget / expire, ghost nodes, label
and taint columns, derived columns refreshed on changed nodes only."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from controllers.scheduler.affinity import NodeRequirement
from controllers.scheduler.cache.cache import SchedulerCache
from controllers.scheduler.cache.derived import DerivedColumns
from controllers.scheduler.cache.snapshot import CPU, MEMORY, PODS
from controllers.scheduler.podinfo import PodInfo
from engine.api import Node, Pod
from engine.api.core import NodeSelectorRequirement
from engine.store import Store
from tests.scheduler.builders import node, pod


def _bound(store: Store, p: Pod, node_name: str) -> Pod:
    stored = store.create(p)
    return store.bind(stored.metadata.name, "default", node_name)  # type: ignore[return-value]


def test_pods_count_on_their_node_and_leave_without_a_trace() -> None:
    store = Store()
    cache = SchedulerCache()
    cache.add_node(node("a", cpu="4", memory="8Gi"))
    table = cache.table
    slot = table.slot_of["a"]
    first = _bound(store, pod("x", cpu="500m", memory="1Gi"), "a")
    second = _bound(store, pod("y", cpu="250m", memory=None), "a")
    cache.add_pod(first)
    cache.add_pod(second)
    assert table.requested[CPU, slot] == 750
    assert table.requested[MEMORY, slot] == 2**30
    assert table.requested[PODS, slot] == 2
    assert table.free[CPU, slot] == 3250
    # "non-zero" memory counts 200Mi for the container that requests none
    assert table.nonzero[MEMORY, slot] == 2**30 + 200 * 2**20
    cache.remove_pod(first)
    cache.remove_pod(second)
    assert table.requested[:, slot].tolist() == [0] * len(table.resource_names)
    assert table.free[CPU, slot] == 4000


def test_assume_confirm_forget_and_expire() -> None:
    store = Store()
    cache = SchedulerCache(assumed_ttl=30)
    cache.add_node(node("a"))
    slot = cache.table.slot_of["a"]
    created = store.create(pod("p", cpu="1"))
    info = PodInfo.of(created)
    cache.assume(info, "a")
    assert cache.is_assumed(info.key) and cache.table.requested[CPU, slot] == 1000
    # The informer shows the binding: the assumption becomes fact, nothing recounted.
    bound = store.bind("p", "default", "a")
    assert isinstance(bound, Pod)
    cache.add_pod(bound)
    assert not cache.is_assumed(info.key) and cache.table.requested[CPU, slot] == 1000

    other = PodInfo.of(store.create(pod("q", cpu="1")))
    cache.assume(other, "a")
    cache.forget(other.key)
    assert cache.table.requested[CPU, slot] == 1000

    lost = PodInfo.of(store.create(pod("r", cpu="1")))
    cache.assume(lost, "a")
    cache.finish_binding(lost.key, now=100.0)
    assert cache.cleanup_expired(now=129.0) == []
    assert cache.cleanup_expired(now=131.0) == [lost.key]
    assert cache.table.requested[CPU, slot] == 1000


def test_a_confirmation_on_another_node_moves_the_pod() -> None:
    store = Store()
    cache = SchedulerCache()
    cache.add_node(node("a"))
    cache.add_node(node("b"))
    info = PodInfo.of(store.create(pod("p", cpu="1")))
    cache.assume(info, "a")
    cache.add_pod(store.bind("p", "default", "b"))  # type: ignore[arg-type]
    table = cache.table
    assert table.requested[CPU, table.slot_of["a"]] == 0
    assert table.requested[CPU, table.slot_of["b"]] == 1000


def test_pods_on_an_unknown_node_wait_in_a_ghost_slot() -> None:
    store = Store()
    cache = SchedulerCache()
    early = _bound(store, pod("early", cpu="1"), "late-node")
    cache.add_pod(early)
    table = cache.table
    slot = table.slot_of["late-node"]
    assert not table.valid[slot] and table.count == 0
    cache.add_node(node("late-node", cpu="4"))
    assert table.valid[slot] and table.free[CPU, slot] == 3000
    cache.remove_node("late-node")
    assert not table.valid[slot] and "late-node" in table.slot_of  # the pod is still there
    cache.remove_pod(early)
    assert "late-node" not in table.slot_of  # the slot is free for reuse
    cache.add_node(node("other"))
    assert table.slot_of["other"] == slot


def test_terminal_pods_hold_nothing() -> None:
    store = Store()
    cache = SchedulerCache()
    cache.add_node(node("a"))
    bound = _bound(store, pod("p", cpu="1"), "a")
    cache.add_pod(bound)
    done = bound.model_copy(
        update={"status": bound.status.model_copy(update={"phase": "Succeeded"})}
    )
    cache.update_pod(done)
    assert cache.table.requested[CPU, cache.table.slot_of["a"]] == 0
    assert bound.metadata.name not in {k[1] for k in cache.pods}


def test_label_and_taint_columns_follow_node_updates() -> None:
    cache = SchedulerCache()
    cache.add_node(node("a", labels={"zone": "z1", "gen": "3"}))
    cache.add_node(node("b", labels={"zone": "z2"}))
    table = cache.table

    def match(key: str, op: str, *values: str) -> list[bool]:
        req = NodeRequirement.of(NodeSelectorRequirement(key=key, operator=op, values=list(values)))
        return [bool(x) for x in table.match_requirement(req)]

    assert match("zone", "In", "z1") == [True, False]
    assert match("zone", "NotIn", "z1") == [False, True]
    assert match("gen", "Gt", "2") == [True, False]
    assert match("gen", "DoesNotExist") == [False, True]
    assert match("missing", "Exists") == [False, False]
    version = table.labels_version
    cache.update_node(node("b", labels={"zone": "z1", "gen": "10"}))
    assert table.labels_version > version
    assert match("zone", "In", "z1") == [True, True]
    assert match("gen", "Gt", "5") == [False, True]

    assert table.hard_taint_nodes == 0
    cache.update_node(node("a", taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]))
    assert table.hard_taint_nodes == 1
    bits = table.untolerated_bits((), frozenset({"NoSchedule", "NoExecute"}))
    assert ((table.taint_words[0, :2] & bits[0]) != 0).tolist() == [True, False]
    cache.update_node(node("a"))
    assert table.hard_taint_nodes == 0


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 2000), st.booleans()), max_size=40))
def test_derived_columns_equal_a_fresh_computation(changes: list[tuple[int, int, bool]]) -> None:
    store = Store()
    cache = SchedulerCache()
    for i in range(4):
        cache.add_node(node(f"n{i}", cpu="4"))
    table = cache.table
    columns = DerivedColumns(table)

    def vector(_: None) -> np.ndarray:
        return table.free[CPU, : table.size] * 2 + table.requested[PODS, : table.size]

    def scalar(_: None, slot: int) -> int:
        return int(table.free[CPU, slot] * 2 + table.requested[PODS, slot])

    placed: list[Pod] = []
    for i, (target, millis, remove) in enumerate(changes):
        if remove and placed:
            cache.remove_pod(placed.pop())
        else:
            bound = _bound(store, pod(f"p{i}", cpu=f"{millis}m"), f"n{target}")
            cache.add_pod(bound)
            placed.append(bound)
        assert columns.get("k", vector, scalar, None).tolist() == vector(None).tolist()


def test_node_removal_keeps_unrelated_slots() -> None:
    cache = SchedulerCache()
    for name in ("a", "b", "c"):
        cache.add_node(node(name))
    slots = dict(cache.table.slot_of)
    cache.remove_node("b")
    assert cache.table.count == 2
    assert cache.table.slot_of["a"] == slots["a"] and cache.table.slot_of["c"] == slots["c"]
    assert isinstance(cache.node("a"), Node) and cache.node("b") is None


@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "remove", "relabel", "drop-node"]), st.integers(0, 4)),
        max_size=40,
    )
)
def test_incremental_domain_counts_equal_a_recount(steps: list[tuple[str, int]]) -> None:
    from controllers.scheduler.cache.counters import CounterKey, domain_sums
    from engine.selectors import selector_from_set

    store = Store()
    cache = SchedulerCache()
    zones = ["a", "b", None, "a", "c"]
    for i, zone in enumerate(zones):
        cache.add_node(node(f"n{i}", labels={"zone": zone} if zone else {}))
    key = CounterKey.for_spread("default", selector_from_set({"app": "web"}))
    placed: list[Pod] = []
    for i, (action, target) in enumerate(steps):
        if action == "add":
            bound = _bound(store, pod(f"p{i}", labels={"app": "web"}), f"n{target}")
            cache.add_pod(bound)
            placed.append(bound)
        elif action == "remove" and placed:
            cache.remove_pod(placed.pop(0))
        elif action == "relabel":
            cache.update_node(node(f"n{target}", labels={"zone": "d"}))
        elif action == "drop-node":
            cache.remove_node(f"n{target}")
        table = cache.table
        incremental = cache.counters.domain_counts(key, "zone")
        column = table.label_column("zone")
        assert column is not None
        fresh = domain_sums(
            column, cache.counters.counts(key), table.value_count("zone"), table.valid[: table.size]
        )
        fresh[0] = 0
        assert incremental.tolist() == fresh.tolist()


def test_many_extended_resources_keep_allocatable_minus_requested() -> None:
    # Nodes each with their own extended resource (scheduler_perf's
    # SchedulingWithExtendedResource): rows grow in a doubling buffer, node
    # updates rewrite only the rows they had or have, and the table must still
    # equal a recomputation.
    store = Store()
    cache = SchedulerCache()
    table = cache.table
    for i in range(300):
        cache.add_node(node(f"n{i}", extra={f"example.com/r{i}": "2"}))
    for i in range(0, 300, 3):
        cache.add_pod(
            _bound(
                store, pod(f"p{i}", cpu=None, extra_requests={f"example.com/r{i}": "1"}), f"n{i}"
            )
        )
    # A node that changes its extended resource, and one that goes away.
    cache.update_node(node("n0", extra={"example.com/other": "5"}))
    cache.remove_node("n3")
    size = table.size
    free = table.allocatable[:, :size] - table.requested[:, :size]
    assert np.array_equal(table.free[:, :size], free)
    row = table.resources["example.com/r0"]
    slot = table.slot_of["n0"]
    assert (table.allocatable[row, slot], table.requested[row, slot]) == (0, 1)
    assert table.free[table.resources["example.com/other"], slot] == 5
    assert table.free[table.resources["example.com/r3"], table.slot_of["n3"]] == -1
    assert table.free[table.resources["example.com/r1"], table.slot_of["n1"]] == 2


@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "remove", "ask"]), st.integers(0, 2), st.integers(0, 3)),
        max_size=40,
    )
)
def test_counters_equal_a_recount_while_pods_share_label_maps(
    steps: list[tuple[str, int, int]],
) -> None:
    # Pods of one template share their labels dict, which the registry's
    # matching memo is keyed on; counters asked for midway must start right
    # and every counter must follow later adds and removes.
    from controllers.scheduler.cache.counters import CounterKey
    from engine.selectors import selector_from_set

    store = Store()
    cache = SchedulerCache()
    for i in range(3):
        cache.add_node(node(f"n{i}"))
    label_sets = [{"app": "web"}, {"app": "db"}, {"app": "web", "tier": "x"}]
    templates = [_bound(store, pod(f"t{i}", labels=s), "n0") for i, s in enumerate(label_sets)]
    wanted = [{"app": "web"}, {"app": "db"}, {"tier": "x"}, {"app": "web", "tier": "x"}]
    keys = [CounterKey.for_spread("default", selector_from_set(w)) for w in wanted]
    asked: set[int] = set()
    placed: list[Pod] = []
    for i, (action, which, target) in enumerate(steps):
        if action == "add":
            template = templates[which]
            meta = template.metadata.model_copy(update={"name": f"p{i}", "uid": f"uid-{i}"})
            spec = template.spec.model_copy(update={"node_name": f"n{target % 3}"})
            placed_pod = template.model_copy(update={"metadata": meta, "spec": spec})
            assert placed_pod.metadata.labels is template.metadata.labels
            cache.add_pod(placed_pod)
            placed.append(placed_pod)
        elif action == "remove" and placed:
            cache.remove_pod(placed.pop(target % len(placed)))
        elif action == "ask":
            asked.add(target)
        table = cache.table
        for k in asked:
            expected = [0] * table.size
            for p in placed:
                if all(p.metadata.labels.get(name) == v for name, v in wanted[k].items()):
                    expected[table.slot_of[p.spec.node_name or ""]] += 1
            assert cache.counters.counts(keys[k])[: table.size].tolist() == expected
