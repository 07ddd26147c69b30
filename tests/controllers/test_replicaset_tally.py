"""The ReplicaSet controller's running pod counts (`controllers.replicaset.tally`)
equal a recount over the informer's cache after any sequence of events, and
a ReplicaSet whose syncs take the counted path reports what a full recount
reports."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from controllers.common import is_pod_active
from controllers.common.pods import is_pod_ready
from controllers.replicaset.tally import PodTally
from engine.api import Pod
from engine.informer import DeletedFinalStateUnknown

_LABEL_SETS: list[dict[str, str]] = [{"app": "web"}, {"app": "web", "tier": "x"}, {"app": "db"}]


def _pod(name: str, owner: int | None, labels: int, state: str, shared: bool) -> Pod:
    refs: list[dict[str, Any]] = []
    if owner is not None:
        refs.append(
            {
                "apiVersion": "apps/v1",
                "kind": "ReplicaSet",
                "name": f"rs{owner}",
                "uid": f"uid-{owner}",
                "controller": True,
            }
        )
    ready = "True" if state == "ready" else "False"
    phase = {"succeeded": "Succeeded", "pending": "Pending"}.get(state, "Running")
    pod = Pod.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": dict(_LABEL_SETS[labels]),
                "ownerReferences": refs,
                **(
                    {"deletionTimestamp": datetime(2026, 1, 1, tzinfo=UTC)}
                    if state == "terminating"
                    else {}
                ),
            },
            "spec": {"containers": [{"name": "c", "image": "img"}]},
            "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}]},
        }
    )
    if shared:
        # Pods of one template share one labels dict, which the tally memoises.
        meta = pod.metadata.model_copy(update={"labels": _LABEL_SETS[labels]})
        pod = pod.model_copy(update={"metadata": meta})
    return pod


_events = st.lists(
    st.tuples(
        st.sampled_from(["upsert", "upsert", "delete", "delete-unknown"]),
        st.integers(0, 4),  # pod
        st.one_of(st.none(), st.integers(0, 1)),  # owner
        st.integers(0, 2),  # label set
        st.sampled_from(["ready", "running", "pending", "terminating", "succeeded"]),
        st.booleans(),  # shares the template's labels dict
    ),
    max_size=50,
)


@given(_events)
def test_tally_equals_a_recount_after_any_events(
    events: list[tuple[str, int, int | None, int, str, bool]],
) -> None:
    tally = PodTally()
    cache: dict[str, Pod] = {}
    for action, index, owner, labels, state, shared in events:
        name = f"p{index}"
        old = cache.get(name)
        if action == "upsert":
            new = _pod(name, owner, labels, state, shared)
            cache[name] = new
            if old is None:
                tally.on_add(new, False)
            else:
                tally.on_update(old, new)
        elif old is not None:
            # A delete event carries the pod's final state, which is not what
            # the cache held when the updates in between were lost.
            del cache[name]
            final = _pod(name, owner, labels, state, shared)
            gone: Pod | DeletedFinalStateUnknown[Pod] = (
                final if action == "delete" else DeletedFinalStateUnknown(("default", name), old)
            )
            tally.on_delete(gone)
        for uid in ("uid-0", "uid-1"):
            active = [
                p
                for p in cache.values()
                if is_pod_active(p)
                and (ref := p.metadata.controller_ref()) is not None
                and ref.uid == uid
            ]
            counted = tally.owner(uid)
            if not active:
                assert counted is None
                continue
            assert counted is not None
            assert counted.active == len(active)
            assert counted.ready == sum(1 for p in active if is_pod_ready(p))
            by_set = {key: count for key, (_labels, count) in counted.label_sets.items() if count}
            expected: dict[frozenset[tuple[str, str]], int] = {}
            for p in active:
                key = frozenset(p.metadata.labels.items())
                expected[key] = expected.get(key, 0) + 1
            assert by_set == expected
