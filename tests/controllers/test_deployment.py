"""The Deployment controller: rolling updates within their budgets, Recreate,
history, rollback, pause, proportional scaling, progress deadlines, hash
collisions, and `rollout_status`."""

from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from controllers.common import compute_hash, is_pod_ready, new_controller_ref
from controllers.deployment import RolloutFailed, pause, resume, rollback, rollout_status
from controllers.deployment.revisions import REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION
from engine.api import Deployment, Pod, ReplicaSet
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.store import Store
from tests.controllers.invariants import NoOverlap, RollingBounds
from tests.controllers.workloads import (
    bare_pod,
    deployment,
    deployment_pods,
    image_of,
    owned_replica_sets,
    replica_set,
    running,
    set_image,
    with_image,
)


def _revision(rs: ReplicaSet) -> str:
    return rs.metadata.annotations.get(REVISION_ANNOTATION, "")


async def test_creates_a_replica_set_named_by_template_hash(clock: VirtualClock) -> None:
    async with running(clock) as c:
        d = await c.client.create(deployment("web", 3))
        message = await rollout_status(c.client, "web")
        assert message == 'deployment "web" successfully rolled out'
        (rs,) = owned_replica_sets(c.store, d)
        pod_hash = compute_hash(d.spec.template)
        assert rs.metadata.name == f"web-{pod_hash}"
        assert rs.spec.selector.match_labels == {"app": "web", "pod-template-hash": pod_hash}
        assert rs.spec.template.metadata.labels["pod-template-hash"] == pod_hash
        assert rs.metadata.annotations == {
            REVISION_ANNOTATION: "1",
            "deployment.kubernetes.io/desired-replicas": "3",
            "deployment.kubernetes.io/max-replicas": "4",
        }
        d = c.store.get(Deployment, "web")
        assert d.metadata.annotations[REVISION_ANNOTATION] == "1"
        status = d.status
        assert (status.replicas, status.updated_replicas, status.ready_replicas) == (3, 3, 3)
        assert (status.available_replicas, status.unavailable_replicas) == (3, 0)
        assert status.observed_generation == d.metadata.generation
        available = status.condition("Available")
        progressing = status.condition("Progressing")
        assert available is not None and available.status == "True"
        assert available.reason == "MinimumReplicasAvailable"
        assert progressing is not None and progressing.reason == "NewReplicaSetAvailable"
        pods = deployment_pods(c.store, d)
        assert len(pods) == 3 and all(is_pod_ready(p) for p in pods)


ROLLING_BUDGETS = [
    (3, 2),
    ("25%", "25%"),
    (0, 1),
    (1, 0),
    ("30%", "10%"),
    ("0%", "20%"),
]


@pytest.mark.parametrize(("surge", "unavailable"), ROLLING_BUDGETS)
async def test_rolling_update_stays_within_surge_and_unavailability(
    clock: VirtualClock, surge: Any, unavailable: Any
) -> None:
    strategy = {
        "type": "RollingUpdate",
        "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
    }
    async with running(clock, ready_after=1.0) as c:
        d = await c.client.create(deployment("web", 10, strategy=strategy, revisionHistoryLimit=2))
        await rollout_status(c.client, "web")
        bounds = RollingBounds(c.store, "web")
        images = ["nginx:1.26", "nginx:1.27", "nginx:1.28", "nginx:1.29"]
        for image in images:
            await set_image(c, "web", image)
            await rollout_status(c.client, "web")
        await c.settle(5)
        assert bounds.violations == []
        assert bounds.checks > 100
        assert bounds.max_active_seen > 10 or surge in (0, "0%")
        pods = deployment_pods(c.store, d)
        assert len(pods) == 10
        assert all(is_pod_ready(p) and image_of(p) == images[-1] for p in pods)
        replica_sets = owned_replica_sets(c.store, d)
        assert len(replica_sets) == 3  # the current one and revisionHistoryLimit old ones
        current = [rs for rs in replica_sets if rs.spec.replicas]
        assert len(current) == 1 and _revision(current[0]) == "5"
        assert sorted(_revision(rs) for rs in replica_sets) == ["3", "4", "5"]
        assert all(rs.status.replicas == 0 for rs in replica_sets if rs is not current[0])


async def test_recreate_never_runs_old_and_new_pods_together(clock: VirtualClock) -> None:
    async with running(clock, ready_after=1.0) as c:
        d = await c.client.create(deployment("web", 5, strategy={"type": "Recreate"}))
        await rollout_status(c.client, "web")
        overlap = NoOverlap(c.store, "web")
        await set_image(c, "web", "nginx:1.26")
        await rollout_status(c.client, "web")
        await set_image(c, "web", "nginx:1.27")
        await rollout_status(c.client, "web")
        assert overlap.violations == []
        assert overlap.checks > 30
        pods = deployment_pods(c.store, d)
        assert len(pods) == 5 and {image_of(p) for p in pods} == {"nginx:1.27"}


async def test_rollback_restores_an_earlier_template_as_a_new_revision(clock: VirtualClock) -> None:
    async with running(clock) as c:
        d = await c.client.create(deployment("web", 3, image="app:v1"))
        await rollout_status(c.client, "web")
        for image in ("app:v2", "app:v3"):
            await set_image(c, "web", image)
            await rollout_status(c.client, "web")

        assert await rollback(c.client, "web") == "rolled back"  # to the previous: v2
        await rollout_status(c.client, "web")
        d = c.store.get(Deployment, "web")
        assert image_of_template(d) == "app:v2"
        assert d.metadata.annotations[REVISION_ANNOTATION] == "4"
        by_image = {
            rs.spec.template.spec.containers[0].image: rs for rs in owned_replica_sets(c.store, d)
        }
        assert _revision(by_image["app:v2"]) == "4"
        assert by_image["app:v2"].metadata.annotations[REVISION_HISTORY_ANNOTATION] == "2"
        assert {image_of(p) for p in deployment_pods(c.store, d)} == {"app:v2"}
        assert len(owned_replica_sets(c.store, d)) == 3  # no new ReplicaSet

        assert await rollback(c.client, "web", to_revision=1) == "rolled back"
        await rollout_status(c.client, "web")
        d = c.store.get(Deployment, "web")
        assert image_of_template(d) == "app:v1"
        assert d.metadata.annotations[REVISION_ANNOTATION] == "5"
        assert {image_of(p) for p in deployment_pods(c.store, d)} == {"app:v1"}

        assert "already matches revision 5" in await rollback(c.client, "web", to_revision=5)
        with pytest.raises(RolloutFailed, match="unable to find specified revision 9"):
            await rollback(c.client, "web", to_revision=9)
        await pause(c.client, "web")
        with pytest.raises(RolloutFailed, match="cannot rollback a paused deployment"):
            await rollback(c.client, "web")


def image_of_template(d: Deployment) -> str:
    return d.spec.template.spec.containers[0].image or ""


async def test_pause_stops_a_rollout_midway_and_resume_finishes_it(clock: VirtualClock) -> None:
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    async with running(clock, ready_after=5.0) as c:
        d = await c.client.create(deployment("web", 6, image="app:v1", strategy=strategy))
        await rollout_status(c.client, "web")
        await set_image(c, "web", "app:v2")
        await c.settle(12)  # two or three steps of six
        await pause(c.client, "web")
        await c.settle(1)

        def state() -> tuple[list[str], dict[str, int]]:
            images = sorted(image_of(p) for p in deployment_pods(c.store, d))
            sizes = {image_of_rs(rs): rs.spec.replicas for rs in owned_replica_sets(c.store, d)}
            return images, sizes

        frozen = state()
        assert set(frozen[0]) == {"app:v1", "app:v2"}
        assert 0 < frozen[1]["app:v2"] < 6 and 0 < frozen[1]["app:v1"] < 6
        await c.settle(600)
        assert state() == frozen
        progressing = c.store.get(Deployment, "web").status.condition("Progressing")
        assert progressing is not None and progressing.reason == "DeploymentPaused"
        assert progressing.status == "Unknown"

        await resume(c.client, "web")
        await rollout_status(c.client, "web")
        pods = deployment_pods(c.store, d)
        assert len(pods) == 6 and {image_of(p) for p in pods} == {"app:v2"}
        with pytest.raises(RolloutFailed, match="is not paused"):
            await resume(c.client, "web")


async def test_a_rollout_that_never_becomes_ready_exceeds_its_deadline(clock: VirtualClock) -> None:
    async with running(clock, becomes_ready=lambda pod: image_of(pod) != "app:broken") as c:
        await c.client.create(deployment("web", 4, image="app:v1", progressDeadlineSeconds=60))
        await rollout_status(c.client, "web")
        await set_image(c, "web", "app:broken")
        started = clock.monotonic()
        messages: list[str] = []
        with pytest.raises(RolloutFailed, match='deployment "web" exceeded its progress deadline'):
            await rollout_status(c.client, "web", on_progress=messages.append)
        waited = clock.monotonic() - started
        assert 60 < waited < 63
        assert messages and all(m.startswith("Waiting for deployment") for m in messages)
        assert "2 out of 4 new replicas have been updated" in messages[-1]
        status = c.store.get(Deployment, "web").status
        progressing = status.condition("Progressing")
        assert progressing is not None
        assert (progressing.status, progressing.reason) == ("False", "ProgressDeadlineExceeded")
        available = status.condition("Available")
        assert available is not None and available.status == "True"  # old pods still serve

        await set_image(c, "web", "app:v2")  # a fix rolls out and clears the failure
        await rollout_status(c.client, "web")
        progressing = c.store.get(Deployment, "web").status.condition("Progressing")
        assert progressing is not None and progressing.reason == "NewReplicaSetAvailable"


async def test_scaling_a_stuck_rollout_is_proportional(clock: VirtualClock) -> None:
    """Kubernetes' documented example: 10 replicas, maxSurge 3, maxUnavailable 2,
    an image that never becomes ready, then scaled to 15."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 3, "maxUnavailable": 2}}
    async with running(clock, becomes_ready=lambda pod: image_of(pod) != "app:broken") as c:
        d = await c.client.create(deployment("web", 10, image="app:v1", strategy=strategy))
        await rollout_status(c.client, "web")
        await set_image(c, "web", "app:broken")
        await c.settle(30)
        sizes = {image_of_rs(rs): rs.spec.replicas for rs in owned_replica_sets(c.store, d)}
        assert sizes == {"app:v1": 8, "app:broken": 5}

        await c.client.scale(Deployment, "web", 15)
        await c.settle(30)
        sizes = {image_of_rs(rs): rs.spec.replicas for rs in owned_replica_sets(c.store, d)}
        assert sizes == {"app:v1": 11, "app:broken": 7}
        status = c.store.get(Deployment, "web").status
        assert (status.replicas, status.updated_replicas, status.available_replicas) == (18, 7, 11)

        await set_image(c, "web", "app:v2")
        await rollout_status(c.client, "web")
        pods = deployment_pods(c.store, d)
        assert len(pods) == 15 and {image_of(p) for p in pods} == {"app:v2"}


async def test_switching_a_stuck_rollout_to_recreate_and_resizing_it_at_once_converges(
    clock: VirtualClock,
) -> None:
    """kubernetes/kubernetes#125568: with two active ReplicaSets, one write that
    sets strategy Recreate, a new size and a new template is a scaling event
    nothing carries out in Kubernetes, which then stays there for ever."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    async with running(clock, becomes_ready=lambda pod: image_of(pod) != "app:broken") as c:
        d = await c.client.create(deployment("web", 3, image="app:v1", strategy=strategy))
        await rollout_status(c.client, "web")
        await set_image(c, "web", "app:broken")
        await c.settle(30)
        assert sum(1 for rs in owned_replica_sets(c.store, d) if rs.spec.replicas) == 2

        current = c.store.get(Deployment, "web")
        switched = with_image(current, "app:v2")
        spec = switched.spec.model_copy(
            update={
                "replicas": 2,
                "strategy": current.spec.strategy.model_copy(
                    update={"type": "Recreate", "rolling_update": None}
                ),
            }
        )
        await c.client.update(switched.model_copy(update={"spec": spec}))
        await c.settle(120)
        sizes = {image_of_rs(rs): rs.spec.replicas for rs in owned_replica_sets(c.store, d)}
        assert sizes == {"app:v1": 0, "app:broken": 0, "app:v2": 2}
        assert await rollout_status(c.client, "web") == 'deployment "web" successfully rolled out'
        pods = deployment_pods(c.store, d)
        assert len(pods) == 2 and {image_of(p) for p in pods} == {"app:v2"}


def image_of_rs(rs: ReplicaSet) -> str:
    return rs.spec.template.spec.containers[0].image or ""


async def test_a_hash_collision_bumps_the_collision_count(clock: VirtualClock) -> None:
    async with running(clock) as c:
        draft = deployment("web", 2)
        squatter = replica_set(f"web-{compute_hash(draft.spec.template)}", 1, app="squatter")
        await c.client.create(squatter)
        d = await c.client.create(draft)
        await rollout_status(c.client, "web")
        d = c.store.get(Deployment, "web")
        assert d.status.collision_count == 1
        (rs,) = owned_replica_sets(c.store, d)
        assert rs.metadata.name == f"web-{compute_hash(d.spec.template, 1)}"
        assert c.store.get(ReplicaSet, squatter.metadata.name).metadata.owner_references == []


async def test_rollout_status_waits_on_the_watch(clock: VirtualClock) -> None:
    async with running(clock, ready_after=2.0) as c:
        await c.client.create(deployment("web", 3))
        messages: list[str] = []
        reads = 0

        class CountingClient(LocalClient):
            async def get(self, kind: Any, name: str, *, namespace: str | None = None) -> Any:
                nonlocal reads
                reads += 1
                return await super().get(kind, name, namespace=namespace)

        watcher_client = CountingClient(c.store)
        with anyio.fail_after(60):
            final = await rollout_status(watcher_client, "web", on_progress=messages.append)
        assert final == 'deployment "web" successfully rolled out'
        assert reads == 1  # one read, then only watch events
        assert messages[0] in (
            "Waiting for deployment spec update to be observed...",
            'Waiting for deployment "web" rollout to finish: '
            "0 out of 3 new replicas have been updated...",
        )
        assert any("of 3 updated replicas are available" in m for m in messages)

    async with running(clock) as c:
        with pytest.raises(Exception, match="not found"):
            await rollout_status(c.client, "missing")


async def test_deleting_a_deployment_ends_rollout_status(clock: VirtualClock) -> None:
    async with running(clock, becomes_ready=lambda pod: False) as c:
        await c.client.create(deployment("web", 2))

        async def delete_later() -> None:
            await clock.sleep(10)
            await c.client.delete(Deployment, "web")

        async with anyio.create_task_group() as tg:
            tg.start_soon(delete_later)
            with pytest.raises(RolloutFailed, match="deleted"):
                await rollout_status(c.client, "web")


async def test_the_bounds_checker_is_not_vacuous(clock: VirtualClock) -> None:
    """Pods forced past the surge budget, and available pods taken away, are
    reported as violations (so the rollout tests above would notice them)."""
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}}
    async with running(clock) as c:
        d = await c.client.create(deployment("web", 4, strategy=strategy))
        await rollout_status(c.client, "web")
        bounds = RollingBounds(c.store, "web")
        (rs,) = owned_replica_sets(c.store, d)
        for pod in deployment_pods(c.store, d)[:2]:
            await c.client.delete(Pod, pod.metadata.name, grace_period_seconds=0)
        assert any("available < 3" in v for v in bounds.violations)
        extra = [bare_pod(f"extra-{i}", {"app": "web"}) for i in range(4)]
        for pod in extra:
            meta = pod.metadata.model_copy(update={"owner_references": [new_controller_ref(rs)]})
            await c.client.create(pod.model_copy(update={"metadata": meta}))
        assert any("pods > 5" in v for v in bounds.violations)


async def test_the_bounds_allow_only_pods_created_for_a_size_just_left(
    clock: VirtualClock,
) -> None:
    """A ReplicaSet controller on a lagging cache may create pods for a size
    the Deployment controller has just taken back: those pods are allowed over
    replicas + maxSurge while their ReplicaSet has more pods than its size;
    a pod beyond every size the ReplicaSet had is still a violation. (No
    controllers run: the writes are the test's.)"""
    store = Store(clock=clock, rng=random.Random(0))
    client = LocalClient(store)
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 1}}
    d = await client.create(deployment("web", 4, strategy=strategy))
    rs = replica_set("web-old", 3, app="web")
    meta = rs.metadata.model_copy(update={"owner_references": [new_controller_ref(d)]})
    rs = await client.create(rs.model_copy(update={"metadata": meta}))

    async def create_pod(name: str, owner: ReplicaSet) -> None:
        pod = bare_pod(name, {"app": "web"})
        meta = pod.metadata.model_copy(update={"owner_references": [new_controller_ref(owner)]})
        await client.create(pod.model_copy(update={"metadata": meta}))

    for i in range(4):
        await create_pod(f"old-{i}", rs)
    bounds = RollingBounds(store, "web")
    rs = await client.update(
        rs.model_copy(update={"spec": rs.spec.model_copy(update={"replicas": 4})})
    )
    rs = await client.update(
        rs.model_copy(update={"spec": rs.spec.model_copy(update={"replicas": 3})})
    )
    new = replica_set("web-new", 1, app="web")
    meta = new.metadata.model_copy(update={"owner_references": [new_controller_ref(d)]})
    new = await client.create(new.model_copy(update={"metadata": meta}))
    # The old ReplicaSet has 4 pods for its size 3 (it had size 4 a moment
    # ago, the 4th pod counts as a stale create only if created after that).
    await create_pod("new-0", new)
    assert any("5 pods > 4" in v for v in bounds.violations)
    bounds.violations.clear()
    await client.delete(Pod, "old-3", grace_period_seconds=0)
    # Now the stale create: a 4th old pod for the size 4 just left.
    await create_pod("old-stale", rs)
    assert bounds.violations == []
    # A 5th old pod: the old ReplicaSet never had size 5.
    await create_pod("old-extra", rs)
    assert any("6 pods > 5" in v for v in bounds.violations)
