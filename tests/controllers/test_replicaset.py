"""The ReplicaSet controller: scaling, deletion order, adoption and release,
status, slow start on failing creates, and expectations under a slow informer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from controllers.common import POD_DELETION_COST_ANNOTATION, is_pod_active
from engine.api import Pod, ReplicaSet
from engine.clock import VirtualClock
from engine.expectations import Expectations
from engine.store import WriteRecord
from tests.controllers.faults import DelayedWatches, FailingCreates
from tests.controllers.workloads import bare_pod, pods_of, ready_pods, replica_set, running


async def test_scales_up_and_down_and_reports_status(clock: VirtualClock) -> None:
    async with running(clock) as c:
        rs = await c.client.create(replica_set("web", 5))
        await c.settle()
        pods = pods_of(c.store, rs)
        assert len(pods) == 5 == len(ready_pods(pods))
        for pod in pods:
            ref = pod.metadata.controller_ref()
            assert ref is not None and ref.block_owner_deletion and ref.kind == "ReplicaSet"
            assert pod.metadata.name.startswith("web-")
        status = c.store.get(ReplicaSet, "web").status
        assert (status.replicas, status.ready_replicas, status.available_replicas) == (5, 5, 5)
        assert status.fully_labeled_replicas == 5
        assert status.observed_generation == 1

        await c.client.scale(ReplicaSet, "web", 2)
        await c.settle()
        assert len(pods_of(c.store, rs)) == 2
        assert len(list(c.store.objects(Pod))) == 2  # the stand-in finished the deletions
        status = c.store.get(ReplicaSet, "web").status
        assert (status.replicas, status.ready_replicas, status.observed_generation) == (2, 2, 2)

        await c.client.scale(ReplicaSet, "web", 0)
        await c.settle()
        assert pods_of(c.store, rs) == []
        assert c.store.get(ReplicaSet, "web").status.replicas == 0


async def test_replaces_deleted_and_failed_pods(clock: VirtualClock) -> None:
    async with running(clock) as c:
        rs = await c.client.create(replica_set("web", 3))
        await c.settle()
        victim, failing, _ = pods_of(c.store, rs)
        await c.client.delete(Pod, victim.metadata.name)
        failed = failing.status.model_copy(update={"phase": "Failed"})
        await c.client.update_status(failing.model_copy(update={"status": failed}))
        await c.settle()
        active = pods_of(c.store, rs)
        assert len(active) == 3 == len(ready_pods(active))
        assert victim.metadata.name not in {p.metadata.name for p in active}
        assert failing.metadata.name not in {p.metadata.name for p in active}


def _ranked_pod(
    name: str,
    *,
    node: str | None,
    phase: str,
    ready_at: Any = None,
    restarts: int = 0,
    cost: int | None = None,
) -> Pod:
    pod = bare_pod(name, {"app": "web"}, **({"nodeName": node} if node else {}))
    if cost is not None:
        meta = pod.metadata.model_copy(
            update={"annotations": {POD_DELETION_COST_ANNOTATION: str(cost)}}
        )
        pod = pod.model_copy(update={"metadata": meta})
    status: dict[str, Any] = {"phase": phase}
    if phase == "Running":
        ready = ready_at is not None
        status["conditions"] = [
            {
                "type": "Ready",
                "status": "True" if ready else "False",
                "lastTransitionTime": ready_at,
            }
        ]
        status["containerStatuses"] = [
            {"name": "main", "ready": ready, "restartCount": restarts, "image": "nginx:1.25"}
        ]
    return pod.model_copy(update={"status": type(pod.status).model_validate(status)})


async def test_scale_down_deletes_pods_in_kubernetes_rank_order(clock: VirtualClock) -> None:
    old = clock.now() - timedelta(seconds=1000)
    recent = clock.now() - timedelta(seconds=1)
    async with running(clock, standin=False) as c:
        for pod in [
            _ranked_pod("unassigned", node=None, phase="Pending"),
            _ranked_pod("pending", node="node-a", phase="Pending"),
            _ranked_pod("not-ready", node="node-b", phase="Running"),
            _ranked_pod("cheap", node="node-c", phase="Running", ready_at=old, cost=-1),
            _ranked_pod("crowded-recent", node="node-d", phase="Running", ready_at=recent),
            _ranked_pod("crowded-old", node="node-d", phase="Running", ready_at=old),
            _ranked_pod(
                "crowded-restarts", node="node-d", phase="Running", ready_at=old, restarts=2
            ),
            _ranked_pod("restarts", node="node-e", phase="Running", ready_at=old, restarts=5),
        ]:
            await c.client.create(pod)
        await clock.sleep(100)  # the last pod is newer than the others by a log2 bucket
        await c.client.create(_ranked_pod("newest", node="node-f", phase="Running", ready_at=old))
        rs = await c.client.create(replica_set("web", 9))
        await c.settle()
        assert len(pods_of(c.store, rs)) == 9  # all adopted, none created
        assert c.store.get(ReplicaSet, "web").status.ready_replicas == 6

        deleted = []
        for replicas in range(8, 0, -1):
            before = {p.metadata.name for p in pods_of(c.store, rs)}
            await c.client.scale(ReplicaSet, "web", replicas)
            await c.settle()
            after = {p.metadata.name for p in pods_of(c.store, rs)}
            assert len(before - after) == 1
            deleted.append((before - after).pop())
        assert deleted == [
            "unassigned",
            "pending",
            "not-ready",
            "cheap",
            "crowded-recent",
            "crowded-restarts",
            "restarts",
            "newest",
        ]
        assert [p.metadata.name for p in pods_of(c.store, rs)] == ["crowded-old"]
        # Bound pods are only marked; the kubelet (absent here) would finish them.
        terminating = [p for p in c.store.objects(Pod) if not is_pod_active(p)]
        assert len(terminating) == 7


async def test_adopts_matching_orphans_and_releases_pods_that_stop_matching(
    clock: VirtualClock,
) -> None:
    async with running(clock) as c:
        orphan = await c.client.create(bare_pod("orphan", {"app": "web"}))
        stranger = await c.client.create(bare_pod("stranger", {"app": "other"}))
        rs = await c.client.create(replica_set("web", 2))
        await c.settle()
        adopted = c.store.get(Pod, "orphan")
        ref = adopted.metadata.controller_ref()
        assert ref is not None and ref.uid == rs.metadata.uid
        assert ref.controller and ref.block_owner_deletion
        assert adopted.metadata.uid == orphan.metadata.uid
        assert c.store.get(Pod, "stranger").metadata.owner_references == []
        assert stranger.metadata.uid
        assert len(pods_of(c.store, rs)) == 2  # the orphan counted: one pod created

        current = c.store.get(Pod, "orphan")
        meta = current.metadata.model_copy(update={"labels": {"app": "web-debug"}})
        await c.client.update(current.model_copy(update={"metadata": meta}))
        await c.settle()
        assert c.store.get(Pod, "orphan").metadata.owner_references == []
        pods = pods_of(c.store, rs)
        assert len(pods) == 2 and "orphan" not in {p.metadata.name for p in pods}


async def test_available_replicas_wait_for_min_ready_seconds(clock: VirtualClock) -> None:
    async with running(clock) as c:
        await c.client.create(replica_set("web", 3, minReadySeconds=30))
        await c.settle(1)
        ready_at = clock.now()
        status = c.store.get(ReplicaSet, "web").status
        assert (status.ready_replicas, status.available_replicas) == (3, 0)
        await c.settle(28)
        assert c.store.get(ReplicaSet, "web").status.available_replicas == 0
        await c.settle(3)
        assert c.store.get(ReplicaSet, "web").status.available_replicas == 3
        assert clock.now() - ready_at < timedelta(seconds=32)


async def test_failing_creates_are_tried_in_slow_start_batches(clock: VirtualClock) -> None:
    failing: list[FailingCreates] = []

    def writer(client: Any) -> FailingCreates:
        failing.append(FailingCreates(client, Pod))
        return failing[0]

    async with running(clock, writer=writer) as c:
        creates = failing[0]
        creates.failing = True
        await c.client.create(replica_set("web", 50))
        await c.settle(0.001)
        condition = c.store.get(ReplicaSet, "web").status.condition("ReplicaFailure")
        assert condition is not None and condition.reason == "FailedCreate"
        assert condition.status == "True" and "quota" in (condition.message or "")
        await c.settle(10)
        # One call per failed sync (a batch of one), syncs retried with backoff.
        retries = creates.attempts
        assert retries == c.replicasets.controller.errors
        assert retries < 20

        creates.failing = False
        await c.settle(5)
        rs = c.store.get(ReplicaSet, "web")
        assert rs.status.replicas == 50 and rs.status.condition("ReplicaFailure") is None
        # batches of 1, 2, 4, 8, 16, then the remaining 19
        assert creates.attempts == retries + 50


class _NoExpectations(Expectations):
    """A controller variant that ignores its expectations (for the test below)."""

    def satisfied(self, key: Any) -> bool:
        return True

    def pending(self, key: Any) -> tuple[int, frozenset[str]]:
        return (0, frozenset())


def _count_pod_creations(c: Any) -> list[int]:
    created = [0]

    def observe(record: WriteRecord) -> None:
        if record.kind == "Pod" and record.verb == "create":
            created[0] += 1

    c.store.observers.append(observe)
    return created


async def test_without_expectations_a_slow_informer_causes_extra_pods(clock: VirtualClock) -> None:
    def slow(client: Any) -> DelayedWatches:
        return DelayedWatches(client, clock, 2.0, (Pod,))

    async with running(
        clock, reader=slow, replicaset_options={"expectations": _NoExpectations(clock)}
    ) as c:
        created = _count_pod_creations(c)
        rs = await c.client.create(replica_set("web", 3))
        await c.settle(30)
        assert created[0] > 3  # acted twice on a cache that did not show its pods yet
        assert len(pods_of(c.store, rs)) == 3  # ... and had to delete the surplus


async def test_with_expectations_a_slow_informer_causes_no_extra_pods(clock: VirtualClock) -> None:
    def slow(client: Any) -> DelayedWatches:
        return DelayedWatches(client, clock, 2.0, (Pod,))

    async with running(clock, reader=slow) as c:
        created = _count_pod_creations(c)
        rs = await c.client.create(replica_set("web", 3))
        await c.settle(30)
        assert created[0] == 3
        assert len(ready_pods(pods_of(c.store, rs))) == 3


async def _touch(c: Any, name: str, value: str) -> None:
    rs = c.store.get(ReplicaSet, name)
    meta = rs.metadata.model_copy(update={"annotations": {"touched": value}})
    await c.client.update(rs.model_copy(update={"metadata": meta}))


async def _run_past_expectations_timeout(clock: VirtualClock, *, trust_expired: bool) -> int:
    """Pods created for a 3-replica set whose pod informer lags 400 s, beyond
    the 300 s expectations timeout, while the set keeps being synced."""

    def very_slow(client: Any) -> DelayedWatches:
        return DelayedWatches(client, clock, 400.0, (Pod,))

    async with running(clock, reader=very_slow) as c:
        if trust_expired:
            # Kubernetes' behaviour: expired expectations count as met, whatever the cache.
            expectations = c.replicasets.expectations

            def kubernetes_check(key: Any, rs: Any, pods: Any) -> bool:
                return expectations.satisfied(key)

            setattr(c.replicasets, "_cache_is_trustworthy", kubernetes_check)  # noqa: B010
        created = _count_pod_creations(c)
        rs = await c.client.create(replica_set("web", 3))
        for step in range(1, 8):
            await c.settle(60)
            await _touch(c, "web", str(step))
        await c.settle(400)
        assert len(pods_of(c.store, rs)) == 3
        return created[0]


async def test_expired_expectations_do_not_trust_a_stale_cache(clock: VirtualClock) -> None:
    """kubernetes/kubernetes#129795: Kubernetes creates extra pods here; kubeloop does not."""
    assert await _run_past_expectations_timeout(clock, trust_expired=False) == 3


async def test_trusting_expired_expectations_would_create_extra_pods(clock: VirtualClock) -> None:
    assert await _run_past_expectations_timeout(clock, trust_expired=True) > 3
