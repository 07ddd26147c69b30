"""The namespace lifecycle: deleting a namespace empties it of every kind
(custom ones too), refuses new content meanwhile, and then removes it."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime, timedelta

import pytest

from controllers import namespace as namespace_controller
from controllers.namespace import (
    CONTENT_REMAINING,
    FINALIZERS_REMAINING,
    ContentReport,
    namespace_conditions,
)
from engine.api import core
from engine.api.base import KubeModel, Resource
from engine.clock import VirtualClock
from engine.errors import Forbidden, NotFound
from engine.registry import kind
from tests.controllers.gc_support import (
    Cluster,
    Widget,
    configmap,
    owner_ref,
    pod,
    running_cluster,
    widget,
)

HOLD = "test.kubeloop.dev/hold"


def running(clock: VirtualClock) -> AbstractAsyncContextManager[Cluster]:
    """A cluster running the garbage collector and the namespace controller."""
    return running_cluster(clock, namespace_controller.setup)


def new_namespace(c: Cluster, name: str) -> core.Namespace:
    return c.store.create(core.Namespace(metadata={"name": name}))


def content_of(c: Cluster, namespace: str) -> list[str]:
    names = []
    for model in (core.ConfigMap, core.Pod, Widget):
        names += [f"{model.kind_name}/{n}" for n in c.names(model, namespace)]
    return names


async def test_deleting_a_namespace_removes_everything_in_it_then_the_namespace(
    clock: VirtualClock,
) -> None:
    async with running(clock) as c:
        new_namespace(c, "team")
        owner = c.store.create(configmap("settings", namespace="team"))
        c.store.create(pod("web", owner_ref(owner), namespace="team"))
        c.store.create(pod("worker", namespace="team"))
        c.store.create(widget("gadget", namespace="team"))
        c.store.create(configmap("settings", namespace="default"))  # elsewhere: untouched
        await c.settle()

        marked = c.store.delete(core.Namespace, "team")
        assert marked is not None and marked.status.phase == "Terminating"
        await c.settle()

        assert c.store.try_get(core.Namespace, "team") is None
        assert content_of(c, "team") == []
        assert content_of(c, "default") == ["ConfigMap/settings"]
        # the namespace goes last, after all of its content
        assert c.removals.order[-1] == ("Namespace", "", "team")
        gone = {(k, n) for k, ns, n in c.removals.order if ns == "team"}
        assert gone == {
            ("ConfigMap", "settings"),
            ("Pod", "web"),
            ("Pod", "worker"),
            ("Widget", "gadget"),
        }


async def test_new_content_is_refused_in_terminating_and_missing_namespaces(
    clock: VirtualClock,
) -> None:
    async with running(clock) as c:
        names = c.names(core.Namespace)
        assert "default" in names and "kube-system" in names

        new_namespace(c, "closing")
        c.store.create(configmap("held", namespace="closing", finalizers=(HOLD,)))
        c.store.delete(core.Namespace, "closing")
        await c.clock.sleep(10)  # (it stays Terminating: the finalizer holds its content)
        assert c.store.get(core.Namespace, "closing").status.phase == "Terminating"

        with pytest.raises(Forbidden, match="closing because it is being terminated"):
            c.store.create(configmap("late", namespace="closing"))
        with pytest.raises(NotFound, match='namespaces "nowhere" not found'):
            await c.client.create(pod("lost", namespace="nowhere"))


async def test_a_finalizer_on_content_keeps_the_namespace_terminating_and_says_why(
    clock: VirtualClock,
) -> None:
    async with running(clock) as c:
        new_namespace(c, "stuck")
        c.store.create(configmap("held", namespace="stuck", finalizers=(HOLD,)))
        c.store.create(configmap("free", namespace="stuck"))
        c.store.delete(core.Namespace, "stuck")
        await c.clock.sleep(30)

        ns = c.store.get(core.Namespace, "stuck")
        assert ns.status.phase == "Terminating"
        assert ns.spec.finalizers == ["kubernetes"]
        remaining = ns.status.condition(CONTENT_REMAINING)
        assert remaining is not None and remaining.status == "True"
        assert (
            remaining.message == "Some resources are remaining: configmaps has 1 resource instances"
        )
        held_by = ns.status.condition(FINALIZERS_REMAINING)
        assert held_by is not None and held_by.status == "True"
        assert HOLD in (held_by.message or "")
        assert content_of(c, "stuck") == ["ConfigMap/held"]

        held = c.store.get(core.ConfigMap, "held", "stuck")
        c.store.update(
            held.model_copy(
                update={"metadata": held.metadata.model_copy(update={"finalizers": []})}
            )
        )
        await c.settle()
        assert c.store.try_get(core.Namespace, "stuck") is None


async def test_the_namespace_waits_for_graceful_pod_deletion(clock: VirtualClock) -> None:
    async with running(clock) as c:
        new_namespace(c, "apps")
        c.store.create(pod("bound", namespace="apps"))
        c.store.bind("bound", "apps", "node-1")
        c.store.delete(core.Namespace, "apps")
        await c.clock.sleep(10)

        terminating = c.store.get(core.Pod, "bound", "apps")
        assert terminating.metadata.deletion_timestamp is not None  # graceful: 30 s
        assert c.store.get(core.Namespace, "apps").status.phase == "Terminating"

        # What the kubelet does once the containers have stopped:
        c.store.delete(core.Pod, "bound", "apps", grace_period_seconds=0)
        await c.settle()
        assert c.store.try_get(core.Namespace, "apps") is None


class GizmoSpec(KubeModel):
    parts: int = 0


class Gizmo(Resource):
    """Registered as a kind only inside the test below, after start-up."""

    spec: GizmoSpec = GizmoSpec()


async def test_kinds_registered_after_start_are_deleted_too(clock: VirtualClock) -> None:
    async with running(clock) as c:
        kind("ns.kubeloop.dev/v1", "Gizmo")(Gizmo)  # idempotent
        new_namespace(c, "lab")
        c.store.create(Gizmo(metadata={"name": "g1", "namespace": "lab"}))
        c.store.create(Gizmo(metadata={"name": "g2", "namespace": "lab"}))
        c.store.delete(core.Namespace, "lab")
        await c.settle()
        assert c.store.try_get(core.Namespace, "lab") is None
        assert c.names(Gizmo, "lab") == []


async def test_foreground_deletion_of_a_namespace_completes(clock: VirtualClock) -> None:
    async with running(clock) as c:
        new_namespace(c, "fg")
        c.store.create(configmap("a", namespace="fg"))
        c.store.delete(core.Namespace, "fg", propagation_policy="Foreground")
        await c.settle()
        assert c.store.try_get(core.Namespace, "fg") is None


async def test_other_spec_finalizers_keep_an_emptied_namespace(clock: VirtualClock) -> None:
    async with running(clock) as c:
        c.store.create(
            core.Namespace(metadata={"name": "guarded"}, spec={"finalizers": ["example.com/guard"]})
        )
        c.store.create(configmap("a", namespace="guarded"))
        c.store.delete(core.Namespace, "guarded")
        await c.settle()
        ns = c.store.get(core.Namespace, "guarded")
        assert ns.spec.finalizers == ["example.com/guard"]
        assert content_of(c, "guarded") == []

        c.store.update(
            ns.model_copy(update={"spec": ns.spec.model_copy(update={"finalizers": []})})
        )
        await c.settle()
        assert c.store.try_get(core.Namespace, "guarded") is None


def test_conditions_keep_their_transition_time_while_their_status_holds() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    t1 = t0 + timedelta(seconds=5)
    t2 = t0 + timedelta(seconds=9)
    two_left = ContentReport(remaining={"pods": 2}, finalizers={}, failures=[], estimate=30.0)
    one_left = ContentReport(remaining={"pods": 1}, finalizers={}, failures=[], estimate=20.0)
    first = namespace_conditions([], two_left, t0)
    assert [(c.type, c.status) for c in first] == [
        ("NamespaceDeletionContentFailure", "False"),
        ("NamespaceContentRemaining", "True"),
        ("NamespaceFinalizersRemaining", "False"),
    ]
    second = namespace_conditions(first, one_left, t1)
    remaining = second[1]
    assert remaining.message == "Some resources are remaining: pods has 1 resource instances"
    assert remaining.last_transition_time == t0  # still True: no transition
    assert namespace_conditions(second, one_left, t2) == second  # nothing to write
    done = namespace_conditions(second, ContentReport(), t2)
    assert done[1].status == "False" and done[1].last_transition_time == t2
