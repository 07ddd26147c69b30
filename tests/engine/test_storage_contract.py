"""The `Storage` protocol's contract, run against every implementation.

`BACKENDS` names a factory per implementation (only the in-memory one
today); a new backend (SQLite, etcd) adds one line there and must pass all of
this unchanged. The example tests pin each clause of the contract in
`engine.storage.protocol`; the state machine drives random writes,
compactions, watches and reads at past revisions against a plain model and
checks that revisions strictly increase, that a watch from revision r sees
every later change of its keyspace exactly once and in order, that a read at
a past revision sees the state then, and that compacted revisions are Gone.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from engine.api import core
from engine.api.base import Resource
from engine.errors import Conflict, Gone
from engine.registry import REGISTRY, KindInfo
from engine.storage import Change, MemoryStorage, Storage, stamped
from engine.watch import ADDED, DELETED, MODIFIED

BACKENDS: dict[str, Callable[[int], Storage]] = {
    "memory": lambda history: MemoryStorage(history_size=history),
}
"""Each implementation, made empty with a history window of about `history` changes."""

CONFIGMAPS: KindInfo = REGISTRY.info(core.ConfigMap)
SECRETS: KindInfo = REGISTRY.info(core.Secret)


@pytest.fixture(params=sorted(BACKENDS))
def make(request: pytest.FixtureRequest) -> Callable[[int], Storage]:
    return BACKENDS[request.param]


def _cm(name: str, value: str, namespace: str = "default") -> core.ConfigMap:
    return core.ConfigMap(metadata={"name": name, "namespace": namespace}, data={"value": value})


def _put(
    storage: Storage, info: KindInfo, obj: Resource, expected: Resource | None, gap: int = 1
) -> Change:
    """A write as the store makes one: stamped with a revision after the current one."""
    revision = storage.revision + gap
    return storage.keyspace(info).put(stamped(obj, revision), expected=expected, revision=revision)


def _delete(storage: Storage, info: KindInfo, current: Resource) -> Change:
    revision = storage.revision + 1
    return storage.keyspace(info).delete(
        stamped(current, revision), expected=current, revision=revision
    )


def test_writes_are_changes_at_increasing_revisions(make: Callable[[int], Storage]) -> None:
    storage = make(100)
    space = storage.keyspace(CONFIGMAPS)
    created = _put(storage, CONFIGMAPS, _cm("a", "1"), None)
    assert (created.type, created.previous) == (ADDED, None)
    assert created.revision == storage.revision
    assert created.object.metadata.resource_version == str(created.revision)
    updated = _put(storage, CONFIGMAPS, _cm("a", "2"), created.object, gap=3)
    assert (updated.type, updated.previous) == (MODIFIED, created.object)
    assert updated.revision > created.revision
    deleted = _delete(storage, CONFIGMAPS, updated.object)
    assert deleted.type == DELETED and deleted.revision > updated.revision
    assert deleted.object.metadata.resource_version == str(deleted.revision)
    assert space.get(("default", "a")) is None and len(space) == 0


def test_a_write_whose_precondition_fails_conflicts_and_changes_nothing(
    make: Callable[[int], Storage],
) -> None:
    storage = make(100)
    space = storage.keyspace(CONFIGMAPS)
    first = _put(storage, CONFIGMAPS, _cm("a", "1"), None).object
    second = _put(storage, CONFIGMAPS, _cm("a", "2"), first).object
    revision = storage.revision
    with pytest.raises(Conflict):
        _put(storage, CONFIGMAPS, _cm("a", "3"), None)  # a create of an existing key
    with pytest.raises(Conflict):
        _put(storage, CONFIGMAPS, _cm("a", "3"), first)  # from a stale read
    with pytest.raises(Conflict):
        _delete(storage, CONFIGMAPS, first)
    with pytest.raises(Conflict):
        _put(storage, CONFIGMAPS, _cm("b", "1"), second)  # b does not hold second
    assert storage.revision == revision
    assert space.get(("default", "a")) is second
    assert [c.revision for c in space.changes(0)] == [
        int(first.metadata.resource_version),
        revision,
    ]


def test_list_is_in_key_order_and_filters_a_namespace(make: Callable[[int], Storage]) -> None:
    storage = make(100)
    for namespace, name in [("b", "x"), ("a", "z"), ("a", "y"), ("c", "a")]:
        _put(storage, CONFIGMAPS, _cm(name, "v", namespace), None)
    space = storage.keyspace(CONFIGMAPS)
    assert [o.key for o in space.list()] == [("a", "y"), ("a", "z"), ("b", "x"), ("c", "a")]
    assert [o.key for o in space.list("a")] == [("a", "y"), ("a", "z")]
    assert sorted(o.key for o in space.values()) == [o.key for o in space.list()]


def test_reads_at_a_past_revision_see_the_state_then(make: Callable[[int], Storage]) -> None:
    storage = make(100)
    space = storage.keyspace(CONFIGMAPS)
    start = storage.revision
    a1 = _put(storage, CONFIGMAPS, _cm("a", "1"), None).object
    after_a1 = storage.revision
    a2 = _put(storage, CONFIGMAPS, _cm("a", "2"), a1).object
    b1 = _put(storage, CONFIGMAPS, _cm("b", "1"), None).object
    after_b1 = storage.revision
    _delete(storage, CONFIGMAPS, a2)
    assert space.get(("default", "a"), revision=start) is None
    assert space.get(("default", "a"), revision=after_a1) is a1
    assert space.get(("default", "a"), revision=after_b1) is a2
    assert space.get(("default", "a")) is None
    assert space.list(revision=after_b1) == [a2, b1]
    assert space.list(revision=after_a1) == [a1]
    assert space.list() == [b1]


def test_keyspaces_share_one_revision_counter_and_keep_their_own_changes(
    make: Callable[[int], Storage],
) -> None:
    storage = make(100)
    cm = _put(storage, CONFIGMAPS, _cm("a", "1"), None)
    secret = core.Secret(metadata={"name": "a", "namespace": "default"})
    sec = _put(storage, SECRETS, secret, None)
    assert sec.revision > cm.revision
    assert [c.object.kind for c in storage.keyspace(CONFIGMAPS).changes(0)] == ["ConfigMap"]
    assert [c.object.kind for c in storage.keyspace(SECRETS).changes(0)] == ["Secret"]


def test_watch_replays_from_a_revision_then_follows_until_cancelled(
    make: Callable[[int], Storage],
) -> None:
    storage = make(100)
    space = storage.keyspace(CONFIGMAPS)
    a1 = _put(storage, CONFIGMAPS, _cm("a", "1"), None)
    since = storage.revision
    a2 = _put(storage, CONFIGMAPS, _cm("a", "2"), a1.object)
    seen: list[Change] = []
    unwatch = space.watch(since, seen.append)
    assert seen == [a2]  # the retained change after `since`
    a3 = _put(storage, CONFIGMAPS, _cm("a", "3"), a2.object)
    _put(storage, SECRETS, core.Secret(metadata={"name": "s", "namespace": "x"}), None)
    assert seen == [a2, a3]  # live, and only its own keyspace
    unwatch()
    _delete(storage, CONFIGMAPS, a3.object)
    assert seen == [a2, a3]
    live: list[Change] = []
    space.watch(None, live.append)  # from now on: nothing replayed
    assert live == []


def test_compacted_revisions_are_gone(make: Callable[[int], Storage]) -> None:
    storage = make(100)
    space = storage.keyspace(CONFIGMAPS)
    current = _put(storage, CONFIGMAPS, _cm("a", "0"), None).object
    for value in range(1, 6):
        current = _put(storage, CONFIGMAPS, _cm("a", str(value)), current).object
    middle = storage.revision - 2
    storage.compact(middle)
    assert space.compacted >= middle
    for read in (
        lambda: space.changes(middle - 1),
        lambda: space.get(("default", "a"), revision=middle - 1),
        lambda: space.list(revision=middle - 1),
        lambda: space.watch(middle - 1, lambda change: None),
    ):
        with pytest.raises(Gone):
            read()
    assert [c.revision for c in space.changes(middle)] == [middle + 1, middle + 2]
    assert space.get(("default", "a"), revision=middle) is not None


def test_the_history_window_compacts_by_itself(make: Callable[[int], Storage]) -> None:
    storage = make(3)
    space = storage.keyspace(CONFIGMAPS)
    current = _put(storage, CONFIGMAPS, _cm("a", "0"), None).object
    for value in range(1, 100):
        current = _put(storage, CONFIGMAPS, _cm("a", str(value)), current).object
    assert 0 < space.compacted < storage.revision
    with pytest.raises(Gone):
        space.changes(0)
    assert [c.revision for c in space.changes(space.compacted)][-1] == storage.revision


def test_restore_loads_objects_without_changes_and_nothing_before_is_kept(
    make: Callable[[int], Storage],
) -> None:
    storage = make(100)
    _put(storage, CONFIGMAPS, _cm("old", "1"), None)
    loaded = [stamped(_cm("a", "1"), 40), stamped(_cm("b", "1"), 42)]
    assert storage.restore([(CONFIGMAPS, obj) for obj in loaded], 41) == 42
    space = storage.keyspace(CONFIGMAPS)
    assert storage.revision == 42
    assert space.list() == loaded
    assert list(space.changes(42)) == []
    with pytest.raises(Gone):
        space.changes(41)
    after = _put(storage, CONFIGMAPS, _cm("c", "1"), None)
    assert after.revision > 42


NAMES = st.sampled_from(["a", "b", "c"])
NAMESPACES = st.sampled_from(["default", "other"])


class StorageMachine(RuleBasedStateMachine):
    """Random writes, watches, compactions and past reads against a model."""

    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.storage = BACKENDS[self.backend](8)
        self.space = self.storage.keyspace(CONFIGMAPS)
        self.state: dict[tuple[str, str], Resource] = {}
        self.states: dict[int, dict[tuple[str, str], Resource]] = {self.storage.revision: {}}
        self.log: list[Change] = []  # every change of the keyspace, in order
        self.watches: list[tuple[int, list[Change]]] = []
        self.last_revision = self.storage.revision
        self.values = 0

    def _committed(self, change: Change) -> None:
        assert change.revision > self.last_revision, "revisions strictly increase"
        assert self.storage.revision == change.revision
        self.last_revision = change.revision
        self.log.append(change)
        key = change.object.key
        if change.type == DELETED:
            del self.state[key]
        else:
            self.state[key] = change.object
        self.states[change.revision] = dict(self.state)

    @rule(namespace=NAMESPACES, name=NAMES, gap=st.integers(1, 3))
    def put(self, namespace: str, name: str, gap: int) -> None:
        self.values += 1
        current = self.state.get((namespace, name))
        obj = _cm(name, str(self.values), namespace)
        self._committed(_put(self.storage, CONFIGMAPS, obj, current, gap))

    @rule(namespace=NAMESPACES, name=NAMES)
    def stale_put_conflicts(self, namespace: str, name: str) -> None:
        current = self.state.get((namespace, name))
        stale = _cm(name, "stale", namespace) if current is None else None
        with pytest.raises(Conflict):
            _put(self.storage, CONFIGMAPS, _cm(name, "x", namespace), stale)
        assert self.storage.revision == self.last_revision

    @precondition(lambda self: bool(self.state))
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        key = data.draw(st.sampled_from(sorted(self.state)))
        self._committed(_delete(self.storage, CONFIGMAPS, self.state[key]))

    @rule(data=st.data())
    def compact(self, data: st.DataObject) -> None:
        revision = data.draw(st.sampled_from(sorted(self.states)))
        self.storage.compact(revision)
        assert self.space.compacted >= revision

    @rule(data=st.data())
    def watch(self, data: st.DataObject) -> None:
        since = data.draw(st.sampled_from(sorted(self.states)))
        seen: list[Change] = []
        if since < self.space.compacted:
            with pytest.raises(Gone):
                self.space.watch(since, seen.append)
            return
        self.space.watch(since, seen.append)
        self.watches.append((since, seen))

    @rule(data=st.data())
    def read_in_the_past(self, data: st.DataObject) -> None:
        revision = data.draw(st.sampled_from(sorted(self.states)))
        if revision < self.space.compacted:
            with pytest.raises(Gone):
                self.space.list(revision=revision)
            return
        then = self.states[revision]
        assert self.space.list(revision=revision) == [then[key] for key in sorted(then)]
        for key in then:
            assert self.space.get(key, revision=revision) is then[key]

    @invariant()
    def current_state_matches(self) -> None:
        assert self.space.list() == [self.state[key] for key in sorted(self.state)]
        assert len(self.space) == len(self.state)

    @invariant()
    def every_watch_saw_every_later_change_once_in_order(self) -> None:
        for since, seen in self.watches:
            assert seen == [c for c in self.log if c.revision > since]


TestStorageMachine = StorageMachine.TestCase


def test_the_store_keeps_its_objects_in_the_storage_it_is_given() -> None:
    from engine.clock import VirtualClock
    from engine.store import Store

    storage = MemoryStorage(history_size=100)
    store = Store(clock=VirtualClock(), storage=storage)
    created = store.create(_cm("a", "1"))
    space = storage.keyspace(CONFIGMAPS)
    assert space.get(("default", "a")) is created
    assert storage.revision == store.revision
    before = store.revision
    store.update(created.model_copy(update={"data": {"value": "2"}}))
    assert [c.type for c in space.changes(before)] == [MODIFIED]
    storage.compact(store.revision)  # compaction in the storage is Gone to the store's watchers
    with pytest.raises(Gone):
        store.watch(core.ConfigMap, since=before)
