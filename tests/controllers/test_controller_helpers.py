"""Pure helpers of the workload controllers: deletion ranking, template
hashes, deletion cost, slow start, surge/unavailability arithmetic,
proportional scaling and revision annotations."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.common import (
    compute_hash,
    deletion_cost,
    fnv32a,
    safe_encode_string,
    slow_start_batch,
    sort_for_deletion,
)
from controllers.deployment.replicas import (
    max_surge,
    max_unavailable,
    replica_set_proportion,
    resolve_fenceposts,
    round_half_away,
)
from controllers.deployment.revisions import (
    REVISION_ANNOTATION,
    REVISION_HISTORY_ANNOTATION,
    equal_ignore_hash,
    new_replica_set_annotations,
)
from engine.api import Deployment, Pod, ReplicaSet
from engine.clock import DEFAULT_EPOCH
from engine.errors import Invalid
from engine.manifests import parse_object
from tests.controllers.workloads import deployment, replica_set

NOW = DEFAULT_EPOCH + timedelta(days=1)


def pod(name: str, **facts: Any) -> Pod:
    """A pod with the facts the ranking looks at."""
    status: dict[str, Any] = {"phase": facts.get("phase", "Running")}
    ready_at = facts.get("ready_at")
    if status["phase"] == "Running":
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True" if ready_at is not None else "False",
                "lastTransitionTime": ready_at.isoformat() if ready_at else None,
            }
        ]
        status["containerStatuses"] = [
            {
                "name": "main",
                "ready": ready_at is not None,
                "restartCount": facts.get("restarts", 0),
            }
        ]
    created = facts.get("created", NOW - timedelta(hours=1))
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": name,
                "uid": facts.get("uid", name),
                "creationTimestamp": created.isoformat(),
                "annotations": facts.get("annotations", {}),
            },
            "spec": {
                "containers": [{"name": "main", "image": "nginx"}],
                **({"nodeName": node} if (node := facts.get("node", "n1")) else {}),
            },
            "status": status,
        }
    )
    assert isinstance(obj, Pod)
    return obj


LONG_AGO = NOW - timedelta(hours=10)


@pytest.mark.parametrize(
    ("first", "second", "why"),
    [
        (pod("a", node=None, phase="Pending"), pod("b", phase="Pending"), "unassigned first"),
        (pod("a", phase="Pending"), pod("b", phase="Unknown"), "Pending before Unknown"),
        (pod("a", phase="Unknown"), pod("b", ready_at=LONG_AGO), "Unknown before Running"),
        (pod("a"), pod("b", ready_at=LONG_AGO), "not ready before ready"),
        (
            pod(
                "a",
                ready_at=LONG_AGO,
                annotations={"controller.kubernetes.io/pod-deletion-cost": "-5"},
            ),
            pod("b", ready_at=NOW - timedelta(seconds=1)),
            "lower deletion cost first, before readiness time",
        ),
        (
            pod("a", ready_at=NOW - timedelta(seconds=10)),
            pod("b", ready_at=NOW - timedelta(hours=5)),
            "shorter time ready first",
        ),
        (
            pod("a", ready_at=LONG_AGO, restarts=3),
            pod("b", ready_at=LONG_AGO),
            "more restarts first",
        ),
        (
            pod("a", ready_at=LONG_AGO, created=NOW - timedelta(hours=11)),
            pod("b", ready_at=LONG_AGO, created=NOW - timedelta(days=30)),
            "newer first",
        ),
    ],
)
def test_deletion_ranking_criteria(first: Pod, second: Pod, why: str) -> None:
    for order in ([first, second], [second, first]):
        ranked = sort_for_deletion(order, [0, 0], NOW)
        assert [p.metadata.name for p in ranked] == ["a", "b"], why


def test_pods_on_crowded_nodes_go_first() -> None:
    crowded = pod("a", ready_at=LONG_AGO, node="busy")
    alone = pod("b", ready_at=NOW - timedelta(seconds=5), node="quiet")
    assert sort_for_deletion([alone, crowded], [1, 3], NOW)[0] is crowded


def test_ages_in_the_same_log2_bucket_fall_back_to_uid() -> None:
    # 70 and 100 seconds old share a power-of-two bucket of nanoseconds.
    younger = pod("a", ready_at=LONG_AGO, created=NOW - timedelta(seconds=70), uid="zzz")
    older = pod("b", ready_at=LONG_AGO, created=NOW - timedelta(seconds=100), uid="aaa")
    assert sort_for_deletion([younger, older], [0, 0], NOW)[0] is older


@pytest.mark.parametrize(
    ("value", "cost"),
    [("-5", -5), ("100", 100), ("+7", 7), ("abc", 0), ("1_000", 0), (" 3", 0), ("9999999999", 0)],
)
def test_deletion_cost_annotation(value: str, cost: int) -> None:
    annotated = pod("a", annotations={"controller.kubernetes.io/pod-deletion-cost": value})
    assert deletion_cost(annotated) == cost


def test_fnv32a_matches_the_reference_vectors() -> None:
    assert fnv32a(b"") == 0x811C9DC5
    assert fnv32a(b"a") == 0xE40C292C
    assert fnv32a(b"foobar") == 0xBF9CF968
    assert fnv32a(b"bar", fnv32a(b"foo")) == fnv32a(b"foobar")


def test_safe_encoding_has_no_vowels() -> None:
    encoded = safe_encode_string("1234567890")
    assert len(encoded) == 10 and not set(encoded) & set("aeiou013")


def test_template_hash_is_stable_across_processes_and_collision_counts() -> None:
    template = deployment("web", 1).spec.template
    here = compute_hash(template)
    code = (
        "from tests.controllers.workloads import deployment;"
        "from controllers.common import compute_hash;"
        "print(compute_hash(deployment('web', 1).spec.template))"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert here == there
    assert (
        compute_hash(template, 1)
        != here
        != compute_hash(deployment("web", 1, image="x").spec.template)
    )
    assert compute_hash(template, 0) != here  # a collision count of 0 is still mixed in


async def test_slow_start_doubles_batches_and_stops_after_a_failing_one() -> None:
    calls = 0

    async def call() -> None:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise RuntimeError("quota")

    successes, error = await slow_start_batch(20, call)
    # Batches of 1, 2, 4: the fifth call, in the third batch, fails; that batch finishes.
    assert (calls, successes, str(error)) == (7, 6, "quota")
    calls = 0
    successes, error = await slow_start_batch(20, call, initial_batch_size=100)
    assert (calls, successes) == (20, 19) and error is not None  # one batch of all 20


@pytest.mark.parametrize(
    ("surge", "unavailable", "replicas", "expected"),
    [
        ("25%", "25%", 10, (3, 2)),  # surge rounds up, unavailable down
        ("25%", "25%", 1, (1, 0)),
        ("0%", "10%", 5, (0, 1)),  # both resolved to zero: one may be unavailable
        (2, 0, 7, (2, 0)),
        ("100%", "100%", 3, (3, 3)),
    ],
)
def test_fenceposts(surge: Any, unavailable: Any, replicas: int, expected: tuple[int, int]) -> None:
    assert resolve_fenceposts(surge, unavailable, replicas) == expected
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }
    d = deployment("web", replicas, strategy=strategy)
    assert (max_surge(d), max_unavailable(d)) == (expected[0], min(expected[1], replicas))


def test_zero_surge_and_zero_unavailability_is_invalid() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}}
    with pytest.raises(Invalid, match="maxUnavailable"):
        deployment("web", 3, strategy=strategy)


def test_recreate_has_no_surge_budget() -> None:
    d = deployment("web", 4, strategy={"type": "Recreate"})
    assert (max_surge(d), max_unavailable(d)) == (0, 0)


@given(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False))
def test_round_half_away_from_zero(x: float) -> None:
    r = round_half_away(x)
    assert abs(x - r) <= 0.5 and (abs(x - r) < 0.5 or abs(r) > abs(x))


def _sized(rs: ReplicaSet, replicas: int, max_replicas: int | None) -> ReplicaSet:
    annotations = (
        {} if max_replicas is None else {"deployment.kubernetes.io/max-replicas": str(max_replicas)}
    )
    return rs.model_copy(
        update={
            "spec": rs.spec.model_copy(update={"replicas": replicas}),
            "metadata": rs.metadata.model_copy(update={"annotations": annotations}),
        }
    )


def test_proportions_follow_the_documented_example() -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    d = deployment("web", 15, strategy=strategy)
    old = _sized(replica_set("old", 1), 8, 13)
    new = _sized(replica_set("new", 1), 5, 13)
    to_add = 18 - 13
    first = replica_set_proportion(old, d, to_add, 0)
    second = replica_set_proportion(new, d, to_add, first)
    assert (first, second) == (3, 2)


def test_scaling_to_zero_takes_each_replica_set_whole() -> None:
    d = deployment("web", 0)
    assert replica_set_proportion(_sized(replica_set("a", 1), 4, 5), d, -5, 0) == -4


def test_revision_annotations_record_history_on_rollback() -> None:
    d = deployment("web", 3)
    d = d.model_copy(
        update={
            "metadata": d.metadata.model_copy(
                update={"annotations": {"team": "blue", REVISION_ANNOTATION: "7"}}
            )
        }
    )
    fresh = new_replica_set_annotations(d, {}, 1, exists=False, desired=3, max_replicas=4)
    assert fresh == {
        "team": "blue",
        REVISION_ANNOTATION: "1",
        "deployment.kubernetes.io/desired-replicas": "3",
        "deployment.kubernetes.io/max-replicas": "4",
    }
    assert new_replica_set_annotations(d, fresh, 1, exists=True, desired=0, max_replicas=0) is None
    again = new_replica_set_annotations(d, fresh, 4, exists=True, desired=0, max_replicas=0)
    assert again is not None and again[REVISION_ANNOTATION] == "4"
    assert again[REVISION_HISTORY_ANNOTATION] == "1"
    later = new_replica_set_annotations(d, again, 6, exists=True, desired=0, max_replicas=0)
    assert later is not None and later[REVISION_HISTORY_ANNOTATION] == "1,4"


def test_templates_compare_without_the_hash_label() -> None:
    template = deployment("web", 1).spec.template
    meta = template.metadata
    hashed = template.model_copy(
        update={
            "metadata": meta.model_copy(
                update={"labels": {**meta.labels, "pod-template-hash": "abc"}}
            )
        }
    )
    assert equal_ignore_hash(template, hashed)
    other = deployment("web", 1, image="other").spec.template
    assert not equal_ignore_hash(template, other)
    assert isinstance(deployment("web", 1), Deployment)
