"""The garbage collector: cascading deletion in the three propagation modes,
blockOwnerDeletion ordering, dangling owners, cycles, several owners, and
custom kinds (including kinds registered while it runs)."""

from __future__ import annotations

import pytest

from engine.api import core
from engine.api.base import KubeModel, OwnerReference, Resource
from engine.clock import VirtualClock
from engine.registry import kind
from engine.strategies import FOREGROUND_FINALIZER, ORPHAN_FINALIZER
from tests.controllers.gc_support import (
    Widget,
    configmap,
    owner_ref,
    pod,
    running_cluster,
    widget,
)

HOLD = "test.kubeloop.dev/hold"


def owner_uids(obj: Resource) -> list[str]:
    return [ref.uid for ref in obj.metadata.owner_references]


async def test_background_deletion_collects_dependents_at_every_level(clock: VirtualClock) -> None:
    async with running_cluster(clock) as c:
        root = c.store.create(configmap("root"))
        child = c.store.create(pod("child", owner_ref(root)))
        c.store.create(widget("grandchild", owner_ref(child)))
        c.store.create(configmap("sibling", owner_ref(root, block=True)))
        c.store.create(configmap("bystander"))
        await c.settle()

        assert c.store.delete(core.ConfigMap, "root", "default") is None
        await c.settle()

        assert c.names(core.ConfigMap) == ["bystander"]
        assert c.names(core.Pod) == []
        assert c.names(Widget) == []
        # Background: the owner goes first, each level after the one above it.
        order = c.removals
        assert order.names()[0] == "root"
        assert order.index("Pod", "child") < order.index("Widget", "grandchild")


async def test_foreground_deletion_removes_the_owner_after_its_blocking_dependents(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock) as c:
        root = c.store.create(configmap("root"))
        child = c.store.create(configmap("child", owner_ref(root, block=True)))
        c.store.create(pod("grandchild", owner_ref(child, block=True)))
        c.store.create(widget("other-grandchild", owner_ref(child, block=True)))
        await c.settle()

        marked = c.store.delete(core.ConfigMap, "root", "default", propagation_policy="Foreground")
        assert marked is not None and marked.metadata.finalizers == [FOREGROUND_FINALIZER]
        await c.settle()

        assert c.names(core.ConfigMap) == []
        assert c.names(core.Pod) == []
        assert c.names(Widget) == []
        order = c.removals
        assert order.index("Pod", "grandchild") < order.index("ConfigMap", "child")
        assert order.index("Widget", "other-grandchild") < order.index("ConfigMap", "child")
        assert order.index("ConfigMap", "child") < order.index("ConfigMap", "root")


async def test_foreground_owner_waits_while_a_blocking_dependent_is_held(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock) as c:
        root = c.store.create(configmap("root"))
        c.store.create(configmap("held", owner_ref(root, block=True), finalizers=(HOLD,)))
        c.store.create(configmap("loose", owner_ref(root)))  # does not block
        await c.settle()

        c.store.delete(core.ConfigMap, "root", "default", propagation_policy="Foreground")
        await c.settle()

        # The blocking dependent is being deleted but a finalizer holds it: the
        # owner waits, Terminating, with the foregroundDeletion finalizer.
        waiting = c.store.get(core.ConfigMap, "root", "default")
        assert waiting.metadata.deletion_timestamp is not None
        assert waiting.metadata.finalizers == [FOREGROUND_FINALIZER]
        still_held = c.store.get(core.ConfigMap, "held", "default")
        assert still_held.metadata.deletion_timestamp is not None
        assert c.store.try_get(core.ConfigMap, "loose", "default") is None

        c.store.update(
            still_held.model_copy(
                update={"metadata": still_held.metadata.model_copy(update={"finalizers": []})}
            )
        )
        await c.settle()
        assert c.names(core.ConfigMap) == []
        assert c.removals.index("ConfigMap", "held") < c.removals.index("ConfigMap", "root")


async def test_orphan_deletion_keeps_dependents_and_strips_the_reference(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock) as c:
        root = c.store.create(configmap("root"))
        other = c.store.create(configmap("other"))
        child = c.store.create(configmap("child", owner_ref(root, block=True), owner_ref(other)))
        lone = c.store.create(pod("lone", owner_ref(root)))
        grandchild = c.store.create(widget("grandchild", owner_ref(child)))
        await c.settle()

        marked = c.store.delete(core.ConfigMap, "root", "default", propagation_policy="Orphan")
        assert marked is not None and marked.metadata.finalizers == [ORPHAN_FINALIZER]
        await c.settle()

        assert c.store.try_get(core.ConfigMap, "root", "default") is None
        assert owner_uids(c.store.get(core.ConfigMap, "child", "default")) == [other.metadata.uid]
        assert owner_uids(c.store.get(core.Pod, "lone", "default")) == []
        assert owner_uids(c.store.get(Widget, "grandchild", "default")) == [child.metadata.uid]
        assert c.store.get(Widget, "grandchild", "default").metadata.uid == grandchild.metadata.uid
        assert c.store.get(core.Pod, "lone", "default").metadata.uid == lone.metadata.uid


async def test_dependents_of_owners_that_do_not_exist_are_collected(clock: VirtualClock) -> None:
    async with running_cluster(clock) as c:
        real = c.store.create(configmap("real"))
        ghost = OwnerReference(api_version="v1", kind="ConfigMap", name="ghost", uid="no-such-uid")
        namesake = OwnerReference(
            api_version="v1", kind="ConfigMap", name="real", uid="not-the-real-uid"
        )
        gone_widget = OwnerReference(
            api_version="gc.kubeloop.dev/v1", kind="Widget", name="w", uid="gone"
        )
        c.store.create(configmap("of-ghost", ghost))
        c.store.create(pod("of-namesake", namesake))
        c.store.create(configmap("of-widget", gone_widget))
        c.store.create(widget("half", ghost, owner_ref(real)))
        await c.settle()

        assert c.names(core.ConfigMap) == ["real"]
        assert c.names(core.Pod) == []
        # An object with one live owner stays; its dangling reference is removed.
        assert owner_uids(c.store.get(Widget, "half", "default")) == [real.metadata.uid]
        assert c.gc.statistics().virtual_nodes == 0


async def test_an_owner_deleted_before_its_dependent_was_created_does_not_leak_it(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock) as c:
        owner = c.store.create(configmap("owner"))
        ref = owner_ref(owner)
        c.store.delete(core.ConfigMap, "owner", "default")
        await c.settle()
        c.store.create(configmap("late", ref))
        await c.settle()
        assert c.names(core.ConfigMap) == []


@pytest.mark.parametrize("policy", ["Background", "Foreground"])
async def test_ownership_cycles_are_collected_without_hanging(
    clock: VirtualClock, policy: str
) -> None:
    async with running_cluster(clock) as c:
        # a -> b -> c -> a, every reference blocking; plus a self-owner and a 2-cycle
        a = c.store.create(configmap("a"))
        b = c.store.create(configmap("b", owner_ref(a, block=True)))
        cc = c.store.create(configmap("c", owner_ref(b, block=True)))
        c.store.update(
            a.model_copy(
                update={
                    "metadata": c.store.get(core.ConfigMap, "a", "default").metadata.model_copy(
                        update={"owner_references": [owner_ref(cc, block=True)]}
                    )
                }
            )
        )
        me = c.store.create(configmap("me"))
        c.store.update(
            me.model_copy(
                update={
                    "metadata": me.metadata.model_copy(
                        update={"owner_references": [owner_ref(me, block=True)]}
                    )
                }
            )
        )
        x = c.store.create(configmap("x"))
        y = c.store.create(configmap("y", owner_ref(x, block=True)))
        c.store.update(
            x.model_copy(
                update={
                    "metadata": c.store.get(core.ConfigMap, "x", "default").metadata.model_copy(
                        update={"owner_references": [owner_ref(y, block=True)]}
                    )
                }
            )
        )
        await c.settle()
        # owned, by owners that exist: nothing is collected
        assert c.names(core.ConfigMap) == ["a", "b", "c", "me", "x", "y"]

        for name in ("a", "me", "x"):
            c.store.delete(core.ConfigMap, name, "default", propagation_policy=policy)
        await c.settle()
        assert c.names(core.ConfigMap) == []


async def test_a_dependent_with_two_owners_survives_while_one_remains(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock) as c:
        first = c.store.create(configmap("first"))
        second = c.store.create(widget("second"))
        shared = c.store.create(
            pod("shared", owner_ref(first, block=True), owner_ref(second, block=True))
        )
        await c.settle()

        c.store.delete(core.ConfigMap, "first", "default", propagation_policy="Foreground")
        await c.settle()
        assert c.store.try_get(core.ConfigMap, "first", "default") is None
        survivor = c.store.get(core.Pod, "shared", "default")
        assert survivor.metadata.uid == shared.metadata.uid
        assert owner_uids(survivor) == [second.metadata.uid]

        c.store.delete(Widget, "second", "default")
        await c.settle()
        assert c.names(core.Pod) == []


async def test_cluster_scoped_owners_collect_namespaced_dependents(clock: VirtualClock) -> None:
    async with running_cluster(clock) as c:
        node = c.store.create(core.Node(metadata={"name": "node-1"}))
        c.store.create(configmap("per-node", owner_ref(node), namespace="kube-system"))
        await c.settle()
        c.store.delete(core.Node, "node-1")
        await c.settle()
        assert c.names(core.ConfigMap, "kube-system") == []


class LateKindSpec(KubeModel):
    note: str = ""


class Latecomer(Resource):
    """Registered as a kind only inside the test below, while the collector runs."""

    spec: LateKindSpec = LateKindSpec()


async def test_kinds_registered_while_running_are_watched_and_resolved(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock) as c:
        pending = OwnerReference(
            api_version="late.kubeloop.dev/v1", kind="Latecomer", name="l", uid="never-existed"
        )
        c.store.create(configmap("waits-for-kind", pending))
        await c.settle()
        # The owner's kind is unknown: whether it exists cannot be told yet.
        assert c.names(core.ConfigMap) == ["waits-for-kind"]
        assert c.gc.statistics().unresolved_nodes == 1

        kind("late.kubeloop.dev/v1", "Latecomer")(Latecomer)  # idempotent
        await c.clock.sleep(c.gc.monitors.period + 1)  # the periodic kind scan
        await c.settle()
        assert c.names(core.ConfigMap) == []
        assert c.gc.statistics().unresolved_nodes == 0

        # ... and the new kind is collected like any other.
        owner = c.store.create(Latecomer(metadata={"name": "owner"}))
        c.store.create(Latecomer(metadata={"name": "dep", "owner_references": [owner_ref(owner)]}))
        await c.settle()
        c.store.delete(Latecomer, "owner", "default")
        await c.settle()
        assert c.names(Latecomer) == []
