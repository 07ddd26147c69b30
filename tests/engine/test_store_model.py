"""Stateful test of the store against a plain model.

Random create / update / update_status / patch / delete / finalizer operations;
after every step: resourceVersions strictly increase, list equals the model,
generation moves only with spec, a stale update always conflicts, and
replaying the watch from any retained revision onto the state at that
revision reproduces the current state exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from pydantic import Field

from engine.api.base import KubeModel, Resource
from engine.clock import VirtualClock
from engine.errors import Conflict, NotFound
from engine.registry import kind
from engine.store import Store
from engine.watch import DELETED


class GizmoSpec(KubeModel):
    size: int = 0
    color: str = ""


class GizmoStatus(KubeModel):
    ready: int = 0


@kind("test.kubeloop.dev/v1", "Gizmo")
class Gizmo(Resource):
    spec: GizmoSpec = Field(default_factory=GizmoSpec)
    status: GizmoStatus = Field(default_factory=GizmoStatus)


@dataclass
class Expected:
    spec: GizmoSpec
    status: GizmoStatus
    labels: dict[str, str]
    finalizers: list[str]
    generation: int = 1
    deleting: bool = False
    versions: list[str] = field(default_factory=list)


NAMES = st.sampled_from(["a", "b", "c", "d"])
SPECS = st.builds(GizmoSpec, size=st.integers(0, 3), color=st.sampled_from(["", "red", "blue"]))
STATUSES = st.builds(GizmoStatus, ready=st.integers(0, 3))
LABELS = st.dictionaries(st.sampled_from(["app", "tier"]), st.sampled_from(["x", "y"]), max_size=2)


def _state(objects: list[Gizmo]) -> dict[str, Gizmo]:
    return {o.metadata.name: o for o in objects}


class StoreMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.store = Store(clock=VirtualClock(), history_size=25)
        self.model: dict[str, Expected] = {}
        self.last_revision = self.store.revision
        # state of the store after each revision, to check watch replay against
        self.snapshots: dict[int, dict[str, Gizmo]] = {self.store.revision: {}}

    def _written(self) -> None:
        assert self.store.revision > self.last_revision
        self.last_revision = self.store.revision
        self.snapshots[self.store.revision] = _state(self.store.list(Gizmo).items)

    @rule(name=NAMES, spec=SPECS, labels=LABELS, finalizer=st.booleans())
    def create(self, name: str, spec: GizmoSpec, labels: dict[str, str], finalizer: bool) -> None:
        finalizers = ["test/hold"] if finalizer else []
        obj = Gizmo(metadata={"name": name, "labels": labels, "finalizers": finalizers}, spec=spec)
        if name in self.model:
            with pytest.raises(Exception, match="already exists"):
                self.store.create(obj)
            return
        stored = self.store.create(obj)
        assert stored.metadata.generation == 1
        self.model[name] = Expected(spec, GizmoStatus(), labels, finalizers)
        self._written()

    @precondition(lambda self: self.model)
    @rule(data=st.data(), spec=SPECS, labels=LABELS)
    def update(self, data: st.DataObject, spec: GizmoSpec, labels: dict[str, str]) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        current = self.store.get(Gizmo, name)
        meta = current.metadata.model_copy(update={"labels": labels})
        new = current.model_copy(
            update={"metadata": meta, "spec": spec, "status": GizmoStatus(ready=9)}
        )
        before = self.store.revision
        self.store.update(new)
        expected = self.model[name]
        if spec != expected.spec:
            expected.generation += 1
        changed = spec != expected.spec or labels != expected.labels
        expected.spec, expected.labels = spec, labels
        if changed:
            self._written()
        else:
            assert self.store.revision == before, "a no-op update must not write"

    @precondition(lambda self: self.model)
    @rule(data=st.data(), status=STATUSES)
    def update_status(self, data: st.DataObject, status: GizmoStatus) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        current = self.store.get(Gizmo, name)
        new = current.model_copy(update={"status": status, "spec": GizmoSpec(size=99)})
        self.store.update_status(new)
        expected = self.model[name]
        if status != expected.status:
            expected.status = status
            self._written()

    @precondition(lambda self: self.model)
    @rule(data=st.data(), size=st.integers(0, 3))
    def patch(self, data: st.DataObject, size: int) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        self.store.patch(Gizmo, name, None, {"spec": {"size": size}})
        expected = self.model[name]
        if size != expected.spec.size:
            expected.spec = expected.spec.model_copy(update={"size": size})
            expected.generation += 1
            self._written()

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def stale_update_conflicts(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        current = self.store.get(Gizmo, name)
        stale_rv = str(int(current.metadata.resource_version) - 1)
        meta = current.metadata.model_copy(
            update={"resource_version": stale_rv, "labels": {"z": "z"}}
        )
        with pytest.raises(Conflict):
            self.store.update(current.model_copy(update={"metadata": meta}))

    @precondition(lambda self: self.model)
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.model)))
        result = self.store.delete(Gizmo, name)
        expected = self.model[name]
        if expected.finalizers:
            assert result is not None and result.metadata.deletion_timestamp is not None
            if not expected.deleting:
                expected.deleting = True
                self._written()
        else:
            assert result is None
            del self.model[name]
            self._written()

    @precondition(lambda self: any(e.finalizers for e in self.model.values()))
    @rule(data=st.data())
    def remove_finalizer(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(n for n, e in self.model.items() if e.finalizers)))
        current = self.store.get(Gizmo, name)
        meta = current.metadata.model_copy(update={"finalizers": []})
        self.store.update(current.model_copy(update={"metadata": meta}))
        expected = self.model[name]
        if expected.deleting:
            del self.model[name]
            with pytest.raises(NotFound):
                self.store.get(Gizmo, name)
        else:
            expected.finalizers = []
        self._written()

    @invariant()
    def list_equals_model(self) -> None:
        items = self.store.list(Gizmo).items
        assert [o.metadata.name for o in items] == sorted(self.model)
        for obj in items:
            expected = self.model[obj.metadata.name]
            assert obj.spec == expected.spec
            assert obj.status == expected.status
            assert obj.metadata.labels == expected.labels
            assert obj.metadata.finalizers == expected.finalizers
            assert obj.metadata.generation == expected.generation
            assert (obj.metadata.deletion_timestamp is not None) == expected.deleting
            assert int(obj.metadata.resource_version) <= self.store.revision

    @invariant()
    def watch_replay_reproduces_current_state(self) -> None:
        table = self.store.table(Gizmo)
        retained = [r for r in self.snapshots if r >= table.compacted]
        for since in retained[-6:]:
            state = dict(self.snapshots[since])
            watcher = self.store.watch(Gizmo, since=since)
            for event in watcher.drain():
                assert event.object is not None
                if event.type == DELETED:
                    state.pop(event.object.metadata.name)
                else:
                    state[event.object.metadata.name] = event.object
            watcher.stop()
            assert state == _state(self.store.list(Gizmo).items)


TestStoreModel = StoreMachine.TestCase
