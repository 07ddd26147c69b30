"""The garbage collector against a model of Kubernetes' semantics, on random
ownership graphs (each object owned by up to two earlier ones, sometimes by an
owner that never existed) and random deletions in every propagation mode.

The model: after a Background or Foreground delete of X, X is gone, and so is
every object all of whose owners are gone (transitively); survivors lose their
references to gone owners. After an Orphan delete of X only X is gone, and its
dependents lose their reference to it. Objects whose owners never existed are
gone from the start. In Foreground mode, an owner that waits for its dependents
goes only after every dependent whose reference to it blocks.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from engine.api import core
from engine.api.base import OwnerReference, Resource
from engine.clock import VirtualClock
from engine.errors import NotFound
from tests.controllers.gc_support import Cluster, Widget, configmap, pod, running_cluster, widget
from tests.helpers import run_virtual

KINDS: tuple[type[Resource], ...] = (core.ConfigMap, core.Pod, Widget)
MAKERS = (configmap, pod, widget)


@dataclass(frozen=True)
class Item:
    kind: int  # index into KINDS
    owners: tuple[int, ...]  # indices of earlier items
    blocking: tuple[bool, ...]  # per owner: blockOwnerDeletion
    ghost_owner: bool  # also owned by an owner that never existed


@dataclass(frozen=True)
class Scenario:
    items: tuple[Item, ...]
    deletions: tuple[tuple[int, str], ...]
    one_at_a_time: bool  # settle after each delete (else all are issued at once)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    count = draw(st.integers(1, 10))
    items = []
    for i in range(count):
        # mostly one owner each (chains and trees), sometimes none or two
        wanted = min(i, draw(st.sampled_from((1, 1, 1, 0, 2))))
        owners = tuple(
            draw(st.lists(st.integers(0, i - 1), unique=True, min_size=wanted, max_size=wanted))
            if i
            else ()
        )
        # (hypothesis favours small draws: 0 stands for the common case)
        blocking = tuple(draw(st.integers(0, 3)) != 3 for _ in owners)  # mostly blocking
        ghost = draw(st.integers(0, 9)) == 9  # now and then
        items.append(Item(draw(st.integers(0, 2)), owners, blocking, ghost))
    one_at_a_time = draw(st.booleans())
    # Orphaning races with concurrent deletes of the same objects (the outcome
    # depends on which lands first), so the all-at-once runs do not orphan.
    policies = (
        ["Background", "Foreground", "Foreground", "Orphan"]
        if one_at_a_time
        else ["Background", "Foreground"]
    )
    # Deleting owners is where the semantics live: aim there more often than not.
    owners_of_something = sorted({j for item in items for j in item.owners})
    targets = st.integers(0, count - 1)
    if owners_of_something:
        targets = st.one_of(st.sampled_from(owners_of_something), targets)
    deletions = draw(
        st.lists(st.tuples(targets, st.sampled_from(policies)), min_size=1, max_size=4)
    )
    return Scenario(tuple(items), tuple(deletions), one_at_a_time)


class Model:
    """Which items exist, and which owners each has, per Kubernetes semantics."""

    def __init__(self, items: tuple[Item, ...]) -> None:
        self.items = items
        self.owners: dict[int, set[int]] = {}
        for i, item in enumerate(items):
            live = {j for j in item.owners if j in self.owners}
            had_owner = bool(item.owners) or item.ghost_owner
            if had_owner and not live:
                continue  # every owner gone (or never there): collected
            self.owners[i] = live

    def copy(self) -> Model:
        clone = Model(())
        clone.items = self.items
        clone.owners = {i: set(owners) for i, owners in self.owners.items()}
        return clone

    def delete(self, target: int, policy: str) -> set[int]:
        """Apply one deletion; returns what it removes."""
        if target not in self.owners:
            return set()
        removed = {target}
        if policy != "Orphan":
            for i in sorted(self.owners):
                owners = self.owners[i]
                if i not in removed and owners and owners <= removed:
                    removed.add(i)
        for i in removed:
            del self.owners[i]
        for owners in self.owners.values():
            owners -= removed
        return removed

    def dependents(self, i: int) -> list[int]:
        return [k for k, owners in self.owners.items() if i in owners]

    def blocks(self, dependent: int, owner: int) -> bool:
        item = self.items[dependent]
        return item.blocking[item.owners.index(owner)]


def name(i: int) -> str:
    return f"o{i}"


async def create_items(c: Cluster, items: tuple[Item, ...]) -> dict[int, Resource]:
    created: dict[int, Resource] = {}
    for i, item in enumerate(items):
        refs = []
        for owner, block in zip(item.owners, item.blocking):
            o = created[owner]
            refs.append(
                OwnerReference(
                    api_version=o.api_version,
                    kind=o.kind,
                    name=o.metadata.name,
                    uid=o.metadata.uid,
                    block_owner_deletion=block,
                )
            )
        if item.ghost_owner:
            refs.append(
                OwnerReference(api_version="v1", kind="ConfigMap", name="ghost", uid=f"ghost-{i}")
            )
        created[i] = c.store.create(MAKERS[item.kind](name(i), *refs))
    return created


def sole_blocking_owner(model: Model, i: int) -> int | None:
    """The owner of `i` if it has exactly one and its reference blocks."""
    owners = model.owners[i]
    if len(owners) != 1:
        return None
    (owner,) = owners
    return owner if model.blocks(i, owner) else None


def foreground_waiters(model: Model, target: int, removed: set[int]) -> set[int]:
    """Owners that surely go in Foreground, waiting for their blocking
    dependents: the target, and each removed object with dependents whose only
    owner is such a waiter and blocks it. (An object with another owner may be
    processed while that owner still stands and just drop its reference to the
    waiting one, as Kubernetes does; then nothing waits for it.)"""
    waiters = {target}
    for i in sorted(removed):
        if i != target and model.dependents(i) and sole_blocking_owner(model, i) in waiters:
            waiters.add(i)
    return waiters


async def run_scenario(clock: VirtualClock, scenario: Scenario) -> None:
    model = Model(scenario.items)
    async with running_cluster(clock) as c:
        created = await create_items(c, scenario.items)
        if scenario.one_at_a_time:
            await c.settle()
        for target, policy in scenario.deletions:
            kind = KINDS[scenario.items[target].kind]
            if scenario.one_at_a_time:
                assert_matches(c, model, created)
                if target not in model.owners:
                    continue
                before = len(c.removals.order)
                before_delete = model.copy()
                removed = model.delete(target, policy)
                c.store.delete(kind, name(target), "default", propagation_policy=policy)
                await c.settle()
                if policy == "Foreground":
                    order = [n for _, _, n in c.removals.order[before:]]
                    waiters = foreground_waiters(before_delete, target, removed)
                    for d in removed:
                        o = sole_blocking_owner(before_delete, d)
                        if o is not None and o in waiters:
                            assert order.index(name(d)) < order.index(name(o)), (d, o, order)
            else:
                model.delete(target, policy)
                with contextlib.suppress(NotFound):
                    c.store.delete(kind, name(target), "default", propagation_policy=policy)
        await c.settle()
        assert_matches(c, model, created)


def assert_matches(c: Cluster, model: Model, created: dict[int, Resource]) -> None:
    present = {}
    for model_kind in KINDS:
        for obj in c.store.list(model_kind, "default").items:
            present[int(obj.metadata.name[1:])] = obj
    assert sorted(present) == sorted(model.owners)
    for i, obj in present.items():
        assert obj.metadata.uid == created[i].metadata.uid
        owner_uids = sorted(ref.uid for ref in obj.metadata.owner_references)
        assert owner_uids == sorted(created[j].metadata.uid for j in model.owners[i]), i


@given(scenarios())
def test_collector_agrees_with_the_model(scenario: Scenario) -> None:
    run_virtual(lambda clock: run_scenario(clock, scenario))
