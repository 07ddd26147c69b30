"""The store on a real etcd (`engine.storage.etcd`): kube-apiserver's keys and
revisions, several stores on one etcd, restarts, and a member lost.

Skipped with the reason where no etcd binary is installed (Debian's
`etcd-server` package provides it; `.ci/run` installs it)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from engine.api.core import ConfigMap
from engine.errors import AlreadyExists, Conflict, Gone
from engine.manifests import parse_object
from engine.registry import Registry, builtin_registry
from engine.storage.etcd import EtcdStorage, registry_key
from engine.store import Store
from runtime.etcdserver import EtcdCluster, etcd_binary

T = TypeVar("T")
BINARY, WHY = etcd_binary()
pytestmark = pytest.mark.skipif(BINARY is None, reason=WHY)


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    cluster = EtcdCluster.start(tmp_path, members=1)
    try:
        yield cluster
    finally:
        cluster.stop()


def _open(urls: list[str], registry: Registry | None = None) -> Store:
    registry = registry or builtin_registry()
    storage = EtcdStorage(urls, registry=registry)
    store = Store(storage=storage, registry=registry)
    storage.load(store)
    return store


def _close(*stores: Store) -> None:
    for store in stores:
        storage = store._storage
        assert isinstance(storage, EtcdStorage)
        storage.close()


def _config_map(name: str, **data: str) -> ConfigMap:
    made = parse_object(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": "default"},
            "data": data,
        }
    )
    assert isinstance(made, ConfigMap)
    return made


def _eventually(read: Callable[[], T | None], timeout: float = 10.0) -> T:
    """What `read` gives once it gives something: another store's writes
    reach this one through etcd's watch, a moment later."""
    deadline = time.monotonic() + timeout
    while (found := read()) is None:
        assert time.monotonic() < deadline, "the other store's write never arrived"
        time.sleep(0.01)
    return found


def _raw(urls: list[str], key: bytes) -> Any:
    import aetcd

    async def read() -> Any:
        host, port = urls[0].removeprefix("http://").split(":")
        async with aetcd.Client(host=host, port=int(port)) as client:
            return await client.get(key)

    return asyncio.run(read())


def test_objects_are_kept_as_kube_apiserver_keeps_them(etcd: EtcdCluster) -> None:
    store = _open(etcd.client_urls)
    try:
        made = store.create(_config_map("settings", mode="blue"))
        info = store.registry.info(ConfigMap)
        stored = _raw(etcd.client_urls, registry_key(info, made.key))
        assert registry_key(info, made.key) == b"/registry/core/configmaps/default/settings"
        document = json.loads(stored.value)
        assert document["data"] == {"mode": "blue"}
        assert "resourceVersion" not in document["metadata"]
        assert int(made.metadata.resource_version) == stored.mod_revision
        assert store.revision == stored.mod_revision
    finally:
        _close(store)


def test_two_stores_on_one_etcd_see_each_other_and_conflict(etcd: EtcdCluster) -> None:
    first = _open(etcd.client_urls)
    second = _open(etcd.client_urls)
    try:
        made = first.create(_config_map("shared", v="1"))
        watch = first.watch(ConfigMap, "default", since=int(made.metadata.resource_version))
        seen = _eventually(lambda: second.try_get(ConfigMap, "shared", "default"))
        assert seen.metadata.uid == made.metadata.uid
        changed = second.update(seen.model_copy(update={"data": {"v": "2"}}))
        with pytest.raises(Conflict):
            first.update(made.model_copy(update={"data": {"v": "stale"}}))
        with pytest.raises(AlreadyExists):
            second.create(_config_map("shared"))
        assert _eventually(
            lambda: first.get(ConfigMap, "shared", "default").data == {"v": "2"} or None
        )
        events = watch.drain()
        assert [(e.type, e.revision) for e in events] == [
            ("MODIFIED", int(changed.metadata.resource_version))
        ]
    finally:
        _close(first, second)


def test_a_restarted_store_has_the_same_objects_uids_and_revisions(etcd: EtcdCluster) -> None:
    store = _open(etcd.client_urls)
    made = [store.create(_config_map(f"c{i}", n=str(i))) for i in range(5)]
    store.delete(ConfigMap, "c4", "default")
    revision = store.revision
    _close(store)
    again = _open(etcd.client_urls)
    try:
        loaded = {c.metadata.name: c for c in again.list(ConfigMap, "default").items}
        assert sorted(loaded) == ["c0", "c1", "c2", "c3"]
        for before in made[:4]:
            after = loaded[before.metadata.name]
            assert after.metadata.uid == before.metadata.uid
            assert after.metadata.resource_version == before.metadata.resource_version
        assert again.revision >= revision
        with pytest.raises(Gone):
            again.watch(ConfigMap, "default", since=int(made[0].metadata.resource_version))
        watch = again.watch(ConfigMap, "default", since=again.revision)
        again.create(_config_map("later"))
        assert [e.object.metadata.name for e in watch.drain() if e.object] == ["later"]
    finally:
        _close(again)


def test_a_member_killed_mid_run_loses_nothing_acknowledged(tmp_path: Path) -> None:
    etcd = EtcdCluster.start(tmp_path, members=3)
    try:
        store = _open(etcd.client_urls)
        acknowledged = [store.create(_config_map(f"before-{i}")) for i in range(20)]
        etcd.kill(0)  # the member the store talks to first
        acknowledged += [store.create(_config_map(f"after-{i}")) for i in range(20)]
        _close(store)
        survivors = etcd.client_urls[1:]
        check = _open(survivors)
        try:
            names = {c.metadata.name for c in check.list(ConfigMap, "default").items}
            assert {c.metadata.name for c in acknowledged} <= names
        finally:
            _close(check)
    finally:
        etcd.stop()


def test_custom_objects_load_after_their_definition(etcd: EtcdCluster) -> None:
    definition = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"size": {"type": "integer"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"size": 3},
    }
    registry = builtin_registry()
    store = _open(etcd.client_urls, registry)
    store.create(parse_object(definition, registry))
    made = store.create(parse_object(widget, registry))
    _close(store)
    fresh = builtin_registry()
    again = _open(etcd.client_urls, fresh)
    try:
        model = fresh.lookup("example.com/v1", "Widget").model
        loaded = again.get(model, "w1", "default")
        assert loaded.metadata.uid == made.metadata.uid
    finally:
        _close(again)
