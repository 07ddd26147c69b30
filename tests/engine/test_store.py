"""Store semantics on hand-written cases (the stateful model test covers the rest)."""

from __future__ import annotations

import random

import pytest

from engine.api.apps import Deployment
from engine.api.core import ConfigMap, Namespace, Node, Pod
from engine.api.scheduling import PriorityClass
from engine.clock import VirtualClock
from engine.errors import AlreadyExists, BadRequest, Conflict, Forbidden, Gone, Invalid, NotFound
from engine.mutation import MutationDetected, detector
from engine.store import Store
from engine.watch import ADDED, DELETED


def pod(name: str, node: str = "", **labels: str) -> Pod:
    return Pod.model_validate(
        {
            "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node or None, "containers": [{"name": "c", "image": "busybox"}]},
        }
    )


@pytest.fixture
def store() -> Store:
    return Store(clock=VirtualClock(), rng=random.Random(1))


def test_create_stamps_metadata(store: Store) -> None:
    created = store.create(pod("a"))
    meta = created.metadata
    assert meta.namespace == "default"
    assert meta.uid and meta.generation == 1
    assert int(meta.resource_version) == store.revision
    assert meta.creation_timestamp == store.clock.now()
    assert created.status.phase == "Pending"
    with pytest.raises(AlreadyExists):
        store.create(pod("a"))
    with pytest.raises(BadRequest, match="resourceVersion"):
        store.create(created)


def test_generate_name_uses_the_injected_rng() -> None:
    names = []
    for _ in range(2):
        s = Store(clock=VirtualClock(), rng=random.Random(7))
        obj = ConfigMap(metadata={"generate_name": "web-"})
        names.append(s.create(obj).metadata.name)
    assert names[0] == names[1]
    assert names[0].startswith("web-") and len(names[0]) == len("web-") + 5


def test_missing_name_is_invalid(store: Store) -> None:
    with pytest.raises(Invalid, match=r"metadata\.name"):
        store.create(ConfigMap())


def test_update_conflicts_on_stale_resource_version(store: Store) -> None:
    first = store.create(ConfigMap(metadata={"name": "c"}, data={"a": "1"}))
    second = store.update(first.model_copy(update={"data": {"a": "2"}}))
    with pytest.raises(Conflict, match="has been modified"):
        store.update(first.model_copy(update={"data": {"a": "3"}}))
    assert store.get(ConfigMap, "c") is second


def test_noop_update_writes_nothing(store: Store) -> None:
    created = store.create(ConfigMap(metadata={"name": "c"}, data={"a": "1"}))
    revision = store.revision
    same = store.update(created.model_copy(update={"data": {"a": "1"}}))
    assert same is created and store.revision == revision


def test_update_ignores_status_and_update_status_ignores_spec(store: Store) -> None:
    created = store.create(pod("a"))
    running = created.status.model_copy(update={"phase": "Running"})
    labelled = created.model_copy(
        update={
            "status": running,
            "metadata": created.metadata.model_copy(update={"labels": {"x": "y"}}),
        }
    )
    updated = store.update(labelled)
    assert updated.status.phase == "Pending" and updated.metadata.labels == {"x": "y"}
    spec = updated.spec.model_copy(update={"hostname": "h"})
    status_only = store.update_status(updated.model_copy(update={"status": running, "spec": spec}))
    assert status_only.status.phase == "Running"
    assert status_only.spec.hostname is None
    assert status_only.metadata.generation == updated.metadata.generation


def test_generation_follows_spec_only(store: Store) -> None:
    d = Deployment.model_validate(
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
                },
            },
        }
    )
    created = store.create(d)
    relabelled = store.update(
        created.model_copy(
            update={"metadata": created.metadata.model_copy(update={"labels": {"a": "b"}})}
        )
    )
    assert relabelled.metadata.generation == 1
    scaled = store.scale(Deployment, "web", replicas=5)
    assert scaled.metadata.generation == 2 and scaled.spec.replicas == 5
    assert store.get_scale(Deployment, "web").replicas == 5


def test_finalizers_hold_deletion_until_removed(store: Store) -> None:
    created = store.create(ConfigMap(metadata={"name": "c", "finalizers": ["example.com/hold"]}))
    marked = store.delete(ConfigMap, "c")
    assert marked is not None and marked.metadata.deletion_timestamp is not None
    with pytest.raises(Invalid, match="no new finalizers"):
        store.update(
            marked.model_copy(
                update={"metadata": marked.metadata.model_copy(update={"finalizers": ["a", "b"]})}
            )
        )
    store.update(
        marked.model_copy(
            update={"metadata": marked.metadata.model_copy(update={"finalizers": []})}
        )
    )
    with pytest.raises(NotFound):
        store.get(ConfigMap, "c")
    assert created.metadata.deletion_timestamp is None


def test_propagation_policies_add_gc_finalizers(store: Store) -> None:
    store.create(ConfigMap(metadata={"name": "fg"}))
    store.create(ConfigMap(metadata={"name": "or"}))
    store.create(ConfigMap(metadata={"name": "bg"}))
    fg = store.delete(ConfigMap, "fg", propagation_policy="Foreground")
    orphan = store.delete(ConfigMap, "or", propagation_policy="Orphan")
    assert fg is not None and fg.metadata.finalizers == ["foregroundDeletion"]
    assert orphan is not None and orphan.metadata.finalizers == ["orphan"]
    assert store.delete(ConfigMap, "bg", propagation_policy="Background") is None


def test_delete_preconditions(store: Store) -> None:
    created = store.create(ConfigMap(metadata={"name": "c"}))
    with pytest.raises(Conflict):
        store.delete(ConfigMap, "c", uid="other")
    with pytest.raises(Conflict):
        store.delete(ConfigMap, "c", resource_version="1")
    assert store.delete(ConfigMap, "c", uid=created.metadata.uid) is None


def test_bound_pods_are_deleted_gracefully(store: Store) -> None:
    store.create(pod("unbound"))
    assert store.delete(Pod, "unbound") is None
    store.create(pod("bound", node="n1"))
    marked = store.delete(Pod, "bound")
    assert marked is not None
    assert marked.metadata.deletion_grace_period_seconds == 30
    assert marked.metadata.deletion_timestamp is not None
    assert store.delete(Pod, "bound", grace_period_seconds=0) is None


def test_bind_sets_node_once(store: Store) -> None:
    store.create(pod("a"))
    bound = store.bind("a", None, "node-1")
    assert isinstance(bound, Pod) and bound.spec.node_name == "node-1"
    assert any(c.type == "PodScheduled" and c.status == "True" for c in bound.status.conditions)
    with pytest.raises(Conflict, match="already assigned"):
        store.bind("a", None, "node-2")


def test_namespace_lifecycle(store: Store) -> None:
    with pytest.raises(NotFound, match='namespaces "missing" not found'):
        store.create(ConfigMap(metadata={"name": "c", "namespace": "missing"}))
    store.create(Namespace(metadata={"name": "team"}))
    store.create(ConfigMap(metadata={"name": "c", "namespace": "team"}))
    terminating = store.delete(Namespace, "team")
    assert terminating is not None and terminating.status.phase == "Terminating"
    with pytest.raises(Forbidden, match="being terminated"):
        store.create(ConfigMap(metadata={"name": "d", "namespace": "team"}))
    spec = terminating.spec.model_copy(update={"finalizers": []})
    store.update(terminating.model_copy(update={"spec": spec}))
    assert store.try_get(Namespace, "team") is None


def test_cluster_scoped_kinds_have_no_namespace(store: Store) -> None:
    node = store.create(Node(metadata={"name": "n1", "namespace": "ignored"}))
    assert node.metadata.namespace == ""
    assert store.get(Node, "n1") is node


def test_list_selectors_and_pages(store: Store) -> None:
    for i in range(7):
        store.create(pod(f"p{i}", node="n1" if i % 2 else "", app="web" if i < 5 else "db"))
    web = store.list(Pod, label_selector="app=web").items
    assert [p.metadata.name for p in web] == ["p0", "p1", "p2", "p3", "p4"]
    unbound = store.list(Pod, field_selector="spec.nodeName=").items
    assert [p.metadata.name for p in unbound] == ["p0", "p2", "p4", "p6"]
    first = store.list(Pod, limit=3)
    store.create(pod("p00"))  # a write between pages does not show in later pages
    second = store.list(Pod, limit=3, continue_=first.continue_)
    third = store.list(Pod, limit=3, continue_=second.continue_)
    names = [p.metadata.name for page in (first, second, third) for p in page.items]
    assert names == [f"p{i}" for i in range(7)]
    assert third.continue_ is None
    assert first.resource_version == second.resource_version == third.resource_version
    with pytest.raises(Gone):
        store.list(Pod, limit=3, continue_=first.continue_)


def test_watch_with_selector_sees_objects_enter_and_leave(store: Store) -> None:
    created = store.create(pod("a", app="x"))
    watcher = store.watch(Pod, label_selector="app=y")
    relabel = created.model_copy(
        update={"metadata": created.metadata.model_copy(update={"labels": {"app": "y"}})}
    )
    in_view = store.update(relabel)
    back = in_view.model_copy(
        update={"metadata": in_view.metadata.model_copy(update={"labels": {"app": "x"}})}
    )
    store.update(back)
    events = watcher.drain()
    assert [e.type for e in events] == [ADDED, DELETED]
    assert events[1].revision == store.revision
    assert events[1].object is not None
    assert events[1].object.metadata.resource_version == str(store.revision)


def test_watch_from_a_compacted_revision_is_gone() -> None:
    store = Store(clock=VirtualClock(), history_size=2)
    start = store.revision
    for i in range(5):
        store.create(ConfigMap(metadata={"name": f"c{i}"}))
    with pytest.raises(Gone):
        store.watch(ConfigMap, since=start)
    recent = store.watch(ConfigMap, since=store.revision - 1)
    assert [e.type for e in recent.drain()] == [ADDED]


def test_slow_watcher_is_cut_off_with_gone_and_never_blocks_writers() -> None:
    store = Store(clock=VirtualClock(), watch_capacity=3)
    watcher = store.watch(ConfigMap)
    for i in range(10):
        store.create(ConfigMap(metadata={"name": f"c{i}"}))
    assert store.watcher_count(ConfigMap) == 0
    with pytest.raises(Gone):
        watcher.drain()


def test_deleted_event_carries_the_deletion_revision(store: Store) -> None:
    store.create(ConfigMap(metadata={"name": "c"}))
    watcher = store.watch(ConfigMap)
    store.delete(ConfigMap, "c")
    (event,) = watcher.drain()
    assert event.type == DELETED and event.revision == store.revision
    assert event.object is not None
    assert event.object.metadata.resource_version == str(store.revision)


def test_patch_kinds(store: Store) -> None:
    store.create(pod("a", app="web"))
    merged = store.patch(Pod, "a", None, {"metadata": {"labels": {"tier": "fe"}}})
    assert merged.metadata.labels == {"app": "web", "tier": "fe"}
    jsonp = store.patch(
        Pod, "a", None, [{"op": "remove", "path": "/metadata/labels/app"}], patch_type="json"
    )
    assert jsonp.metadata.labels == {"tier": "fe"}
    strategic = store.patch(
        Pod,
        "a",
        None,
        {"spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}},
        patch_type="strategic",
    )
    assert [c.image for c in strategic.spec.containers] == ["busybox:1.36"]
    with pytest.raises(Conflict):
        store.patch(Pod, "a", None, {"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}})
    with pytest.raises(Invalid):
        store.patch(Pod, "a", None, {"spec": {"containers": [{"name": "c", "image": 5.5j}]}})


def test_observers_see_every_write(store: Store) -> None:
    seen: list[tuple[int, str, str]] = []
    store.observers.append(lambda r: seen.append((r.revision, r.verb, r.name)))
    store.create(ConfigMap(metadata={"name": "c"}))
    store.delete(ConfigMap, "c")
    assert [(v, n) for _, v, n in seen] == [("create", "c"), ("delete", "c")]
    assert seen[0][0] < seen[1][0]


def test_mutation_detector_catches_in_place_changes(store: Store) -> None:
    created = store.create(ConfigMap(metadata={"name": "c", "labels": {"a": "1"}}))
    detector.check()
    created.metadata.labels["a"] = "2"  # the bug the detector exists for
    with pytest.raises(MutationDetected, match="ConfigMap default/c"):
        detector.check()
    detector.reset()  # keep the autouse fixture from failing this test
    with pytest.raises(Exception, match="frozen"):
        created.metadata.name = "d"  # type: ignore[misc]


def test_pod_priority_comes_from_its_priority_class(store: Store) -> None:
    store.create(PriorityClass(metadata={"name": "high"}, value=1000, preemption_policy="Never"))
    high = store.create(
        pod("a").model_copy(
            update={"spec": pod("a").spec.model_copy(update={"priority_class_name": "high"})}
        )
    )
    assert high.spec.priority == 1000 and high.spec.preemption_policy == "Never"
    assert store.create(pod("b")).spec.priority == 0
    store.create(PriorityClass(metadata={"name": "normal"}, value=10, global_default=True))
    default = store.create(pod("c"))
    assert default.spec.priority == 10 and default.spec.priority_class_name == "normal"
    missing = pod("d").model_copy(
        update={"spec": pod("d").spec.model_copy(update={"priority_class_name": "gold"})}
    )
    with pytest.raises(Forbidden) as refused:
        store.create(missing)
    # Kubernetes' words (admission.NewForbidden around the Priority plugin's error)
    assert str(refused.value) == (
        'pods "d" is forbidden: no PriorityClass with name gold was found'
    )
    wrong = pod("e").model_copy(
        update={
            "spec": pod("e").spec.model_copy(update={"priority_class_name": "high", "priority": 5})
        }
    )
    with pytest.raises(Forbidden) as refused:
        store.create(wrong)
    assert str(refused.value) == (
        'pods "e" is forbidden: the integer value of priority (5) must not be provided in pod '
        "spec; priority admission controller computed 1000 from the given PriorityClass name"
    )
    preempting = pod("f").model_copy(
        update={
            "spec": pod("f").spec.model_copy(
                update={"priority_class_name": "high", "preemption_policy": "PreemptLowerPriority"}
            )
        }
    )
    with pytest.raises(Forbidden, match=r"string value of PreemptionPolicy \(PreemptLowerPriority"):
        store.create(preempting)


def test_the_system_priority_classes_exist_from_the_start(store: Store) -> None:
    # As the apiserver bootstraps them: add-on manifests name them.
    classes = {c.metadata.name: c.value for c in store.objects(PriorityClass)}
    assert classes == {"system-node-critical": 2000001000, "system-cluster-critical": 2000000000}
    critical = pod("dns").model_copy(
        update={
            "spec": pod("dns").spec.model_copy(
                update={"priority_class_name": "system-cluster-critical"}
            )
        }
    )
    assert store.create(critical).spec.priority == 2000000000
    bare = Store(namespace_lifecycle=False)
    assert list(bare.objects(PriorityClass)) == []
