"""The garbage collector's dependency graph on its own: which nodes exist, who
depends on whom, and which checks each change queues."""

from __future__ import annotations

from datetime import UTC, datetime

from controllers.garbagecollector import DependencyGraph, Node
from engine.api import core
from engine.api.base import OwnerReference, Resource
from engine.registry import REGISTRY
from engine.strategies import FOREGROUND_FINALIZER, ORPHAN_FINALIZER

WHEN = datetime(2026, 1, 1, tzinfo=UTC)


class Recorder:
    def __init__(self) -> None:
        self.deletes: list[str] = []
        self.orphans: list[str] = []
        self.graph = DependencyGraph(
            REGISTRY,
            attempt_to_delete=lambda node: self.deletes.append(node.identity.name),
            attempt_to_orphan=lambda node: self.orphans.append(node.identity.name),
        )

    def take(self) -> tuple[list[str], list[str]]:
        taken = (self.deletes, self.orphans)
        self.deletes, self.orphans = [], []
        return taken


def cm(
    name: str,
    uid: str,
    *owners: OwnerReference,
    deleting: bool = False,
    finalizers: tuple[str, ...] = (),
) -> core.ConfigMap:
    return core.ConfigMap(
        metadata={
            "name": name,
            "namespace": "default",
            "uid": uid,
            "owner_references": list(owners),
            "deletion_timestamp": WHEN if deleting else None,
            "finalizers": list(finalizers),
        }
    )


def ref(name: str, uid: str, *, block: bool = False, kind: str = "ConfigMap") -> OwnerReference:
    return OwnerReference(
        api_version="v1", kind=kind, name=name, uid=uid, block_owner_deletion=block
    )


def dependents(node: Node | None) -> list[str]:
    assert node is not None
    return [dep.identity.name for dep in node.dependents.values()]


def test_an_unseen_owner_becomes_a_virtual_node_that_is_checked() -> None:
    r = Recorder()
    r.graph.observe(cm("child", "c", ref("parent", "p")))
    parent = r.graph.get("p")
    assert parent is not None and not parent.observed
    assert dependents(parent) == ["child"]
    assert r.take() == (["parent"], [])

    r.graph.observe(cm("parent", "p"))  # the informer shows it: no longer virtual
    assert parent.observed and r.graph.get("p") is parent
    assert r.graph.named(core.ConfigMap, "default", "parent") == [parent]
    assert r.take() == ([], [])


def test_forgetting_an_absent_owner_rechecks_its_dependents() -> None:
    r = Recorder()
    r.graph.observe(cm("a", "a1", ref("ghost", "g")))
    r.graph.observe(cm("b", "b1", ref("ghost", "g")))
    r.take()
    ghost = r.graph.get("g")
    assert ghost is not None
    r.graph.forget(ghost, ghost.identity)
    assert "g" not in r.graph
    assert r.take() == (["a", "b"], [])


def test_deleting_an_owner_rechecks_dependents_and_waiting_owners() -> None:
    r = Recorder()
    r.graph.observe(cm("top", "t", deleting=True, finalizers=(FOREGROUND_FINALIZER,)))
    r.graph.observe(cm("mid", "m", ref("top", "t", block=True)))
    r.graph.observe(cm("leaf", "l", ref("mid", "m")))
    r.take()
    r.graph.observe_deleted(cm("mid", "m"))
    assert dependents(r.graph.get("t")) == []
    assert r.take() == (["top", "leaf"], [])


def test_foreground_deletion_queues_every_dependent_once_it_starts() -> None:
    r = Recorder()
    r.graph.observe(cm("owner", "o"))
    r.graph.observe(cm("a", "a1", ref("owner", "o", block=True)))
    r.graph.observe(cm("b", "b1", ref("owner", "o")))
    r.take()
    r.graph.observe(cm("owner", "o", deleting=True, finalizers=(FOREGROUND_FINALIZER,)))
    owner = r.graph.get("o")
    assert owner is not None and owner.deleting_dependents
    assert r.take() == (["a", "b", "owner"], [])
    assert [n.identity.name for n in owner.blocking_dependents()] == ["a"]


def test_orphan_deletion_queues_the_owner_for_orphaning() -> None:
    r = Recorder()
    r.graph.observe(cm("owner", "o"))
    r.graph.observe(cm("owner", "o", deleting=True, finalizers=(ORPHAN_FINALIZER,)))
    assert r.take() == ([], ["owner"])


def test_unblocking_or_dropping_a_reference_rechecks_the_owner() -> None:
    r = Recorder()
    r.graph.observe(cm("owner", "o"))
    r.graph.observe(cm("dep", "d", ref("owner", "o", block=True)))
    r.take()
    r.graph.observe(cm("dep", "d", ref("owner", "o", block=False)))
    assert r.take() == (["owner"], [])
    r.graph.observe(cm("dep", "d"))
    assert dependents(r.graph.get("o")) == []


def test_an_object_never_blocks_its_own_deletion() -> None:
    r = Recorder()
    r.graph.observe(cm("me", "m", ref("me", "m", block=True)))
    me = r.graph.get("m")
    assert me is not None and me.observed
    assert dependents(me) == ["me"]
    assert me.blocking_dependents() == []


def test_owners_of_unregistered_kinds_wait_for_their_kind() -> None:
    r = Recorder()
    r.graph.observe(cm("dep", "d", ref("x", "x1", kind="NotRegisteredYet")))
    assert r.take() == ([], [])  # cannot be looked up: parked
    assert list(r.graph.unresolved) == ["x1"]
    assert r.graph.resolve_kinds() == []  # still unknown


def test_a_reference_by_wrong_coordinates_has_the_dependent_rechecked() -> None:
    r = Recorder()
    r.graph.observe(cm("real", "r"))
    r.graph.observe(cm("dep", "d", ref("other-name", "r")))
    assert r.take() == (["dep"], [])


def test_quick_path_changes_nothing_for_updates_that_move_nothing() -> None:
    r = Recorder()
    owner = ref("owner", "o")
    r.graph.observe(cm("owner", "o"))
    first: Resource = cm("dep", "d", owner)
    r.graph.observe(first)
    r.take()
    relabelled = first.model_copy(
        update={"metadata": first.metadata.model_copy(update={"labels": {"a": "b"}})}
    )
    r.graph.observe(relabelled)
    assert r.take() == ([], [])
    assert len(r.graph) == 2
