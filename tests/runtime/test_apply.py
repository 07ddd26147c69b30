"""`Cluster.apply` as `kubectl apply`: metadata given in the manifest is kept
on an existing object, dicts and lists of dicts apply, everything a write
needs is checked before anything is written, and a write that fails anyway
is reported per object while the others are written."""

from __future__ import annotations

from typing import Any, TypeVar

import pytest

from engine.api.base import Resource
from engine.api.core import ConfigMap, Namespace
from engine.client import LocalClient
from engine.errors import Conflict, Forbidden, Invalid, NotFound
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.cluster.apply import ApplyError, apply_objects, load_sources

R = TypeVar("R", bound=Resource)


def config() -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=1),))


def configmap(name: str, namespace: str = "default", **metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, **metadata},
        "data": {"k": "v"},
    }


DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: NS}
spec:
  replicas: 1
  selector: {matchLabels: {app: LABEL}}
  template:
    metadata: {labels: {app: LABEL}}
    spec:
      containers:
        - name: c
          image: nginx
          resources: RESOURCES
"""


def deployment(namespace: str = "default", label: str = "web", resources: str = "{}") -> str:
    return (
        DEPLOYMENT.replace("NS", namespace).replace("LABEL", label).replace("RESOURCES", resources)
    )


async def test_apply_keeps_owner_references_finalizers_labels_and_annotations() -> None:
    """Metadata others set (here: the object was created without apply) is
    kept; the manifest's is merged in."""
    async with Cluster(config()) as cluster:
        await cluster.apply(configmap("owner"))
        assert cluster.client is not None
        await cluster.client.create(
            load_sources(configmap("child", labels={"a": "1"}, finalizers=["example.com/x"]))[0]
        )
        owner_uid = (await cluster.get(ConfigMap, "owner")).metadata.uid
        ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner_uid}
        [applied] = await cluster.apply(
            configmap(
                "child",
                labels={"b": "2"},
                annotations={"note": "yes"},
                ownerReferences=[ref],
                finalizers=["example.com/y"],
            )
        )
        assert applied.action == "configured"
        child = await cluster.get(ConfigMap, "child")
        assert [r.uid for r in child.metadata.owner_references] == [owner_uid]
        assert child.metadata.finalizers == ["example.com/x", "example.com/y"]
        assert child.metadata.labels == {"a": "1", "b": "2"}
        assert child.metadata.annotations.get("note") == "yes"
        manifest = configmap(
            "child",
            labels={"b": "2"},
            annotations={"note": "yes"},
            ownerReferences=[ref],
            finalizers=["example.com/y"],
        )
        [again] = await cluster.apply(manifest)
        assert again.action == "unchanged"
        # What the last manifest set and this one drops goes; the rest stays.
        fewer = configmap(
            "child", labels={"c": "3"}, finalizers=["example.com/z"], ownerReferences=[ref]
        )
        [changed] = await cluster.apply(fewer)
        assert changed.action == "configured"
        child = await cluster.get(ConfigMap, "child")
        assert child.metadata.finalizers == ["example.com/x", "example.com/z"]
        assert child.metadata.labels == {"a": "1", "c": "3"}
        assert "note" not in child.metadata.annotations
        assert [r.uid for r in child.metadata.owner_references] == [owner_uid]


async def test_apply_takes_dicts_lists_of_dicts_and_model_objects() -> None:
    async with Cluster(config()) as cluster:
        assert [str(a) for a in await cluster.apply(configmap("one"))] == ["configmap/one created"]
        applied = await cluster.apply([configmap("two"), configmap("three")])
        assert [a.name for a in applied] == ["two", "three"]
        model = ConfigMap.model_validate(configmap("four"))
        assert [a.action for a in await cluster.apply(model)] == ["created"]
        with pytest.raises(Invalid, match=r"metadata\.name"):
            await cluster.apply(ConfigMap.model_validate(configmap("Bad_Name")))


def test_a_dict_is_one_object_not_its_keys() -> None:
    [obj] = load_sources(configmap("one"))
    assert isinstance(obj, ConfigMap) and obj.metadata.name == "one"


async def names(cluster: Cluster) -> list[str]:
    """The ConfigMaps applied (the root CA publisher's `kube-root-ca.crt` aside)."""
    items = (await cluster.list(ConfigMap)).items
    return sorted(c.metadata.name for c in items if c.metadata.name != "kube-root-ca.crt")


@pytest.mark.parametrize(
    ("third", "error", "says"),
    [
        (deployment("missing"), NotFound, 'namespaces "missing" not found'),
        (deployment(label="other"), Invalid, "spec.selector: field is immutable"),
        (
            deployment(resources="{limits: {cpu: 100m}, requests: {cpu: '1'}}"),
            Invalid,
            "must be less than or equal to cpu limit",
        ),
    ],
    ids=["missing namespace", "immutable field", "invalid once merged"],
)
async def test_a_check_the_write_needs_fails_before_anything_is_written(
    third: str, error: type[Exception], says: str
) -> None:
    async with Cluster(config()) as cluster:
        # limits given now, requests above them given by the next apply
        await cluster.apply(deployment(resources="{limits: {cpu: 100m}}"))
        before = await names(cluster)
        source: list[str | dict[str, Any]] = [configmap("a"), configmap("b"), third]
        with pytest.raises(error, match=says.replace(".", r"\.")):
            await cluster.apply(source)
        assert await names(cluster) == before


async def test_a_namespace_created_in_the_same_apply_is_fine() -> None:
    async with Cluster(config()) as cluster:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
        applied = await cluster.apply([configmap("a", "shop"), deployment("shop"), namespace])
        assert [(a.kind, a.action) for a in applied] == [
            ("Namespace", "created"),
            ("ConfigMap", "created"),
            ("Deployment", "created"),
        ]


async def test_a_terminating_namespace_refuses_new_objects_before_any_write() -> None:
    async with Cluster(config()) as cluster:
        ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old"}}
        await cluster.apply([ns, configmap("keep", "old")])  # its finalizer keeps it Terminating
        await cluster.delete(Namespace, "old")
        terminating = await cluster.get(Namespace, "old")
        assert terminating.metadata.deletion_timestamp is not None
        with pytest.raises(Forbidden, match="being terminated"):
            await cluster.apply([configmap("a"), configmap("b", "old")])
        assert "a" not in await names(cluster)


class FlakyClient(LocalClient):
    """Refuses to create one named object, as a concurrent writer could make it."""

    async def create(self, obj: R) -> R:
        if obj.metadata.name == "b":
            raise Conflict('configmaps "b": the object has been modified')
        return await super().create(obj)


async def test_a_write_error_is_reported_per_object_and_the_others_are_written() -> None:
    async with Cluster(config()) as cluster:
        assert cluster.store is not None
        client = FlakyClient(cluster.store)
        objects = load_sources([configmap("a"), configmap("b"), configmap("c")])
        with pytest.raises(ApplyError) as caught:
            await apply_objects(client, objects)
        results = caught.value.results
        assert [(r.name, r.action) for r in results] == [
            ("a", "created"),
            ("b", "failed"),
            ("c", "created"),
        ]
        assert results[1].error is not None and "modified" in results[1].error
        assert str(results[1]).startswith("configmap/b failed: Conflict: ")
        assert "1 of 3 object(s) failed" in str(caught.value)
        assert await names(cluster) == ["a", "c"]


async def test_objects_named_by_generate_name_are_each_created() -> None:
    async with Cluster(config()) as cluster:
        generated = configmap("")
        generated["metadata"] = {"generateName": "job-", "namespace": "default"}
        applied = await cluster.apply([generated, generated])
        assert [a.action for a in applied] == ["created", "created"]
        assert len({a.name for a in applied}) == 2
