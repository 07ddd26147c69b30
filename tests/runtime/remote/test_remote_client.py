"""`RemoteClient` against the HTTP API: what the in-process client does, over
the wire, with the same errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from engine.api.apps import Deployment
from engine.api.core import ConfigMap, Node, Pod
from engine.clock import RealClock
from engine.errors import AlreadyExists, Conflict, Gone, Invalid, NotFound
from engine.informer import EventHandler, InformerFactory
from engine.manifests import parse_object
from engine.store import Store
from runtime.apiserver import ApiServer
from runtime.remote import Connection, RemoteClient


async def _serve(store: Store) -> AsyncIterator[RemoteClient]:
    server = ApiServer(store, tls=True)
    endpoint = await server.start()
    try:
        connection = Connection.from_kubeconfig_text(endpoint.kubeconfig_text())
        async with RemoteClient(connection) as client:
            yield client
    finally:
        await server.stop()


@pytest.fixture
async def remote() -> AsyncIterator[RemoteClient]:
    async for client in _serve(Store()):
        yield client


def _config_map(name: str, **data: str) -> ConfigMap:
    document: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": "default", "labels": {"tier": name}},
        "data": data,
    }
    made = parse_object(document)
    assert isinstance(made, ConfigMap)
    return made


def _deployment(name: str, replicas: int) -> Deployment:
    made = parse_object(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                },
            },
        }
    )
    assert isinstance(made, Deployment)
    return made


async def test_reads_and_writes_as_the_in_process_client(remote: RemoteClient) -> None:
    made = await remote.create(_config_map("a", mode="blue"))
    await remote.create(_config_map("b"))
    assert made.metadata.uid and made.data == {"mode": "blue"}
    assert (await remote.get(ConfigMap, "a")).metadata.uid == made.metadata.uid
    listed = await remote.list(ConfigMap, namespace="default", label_selector="tier=a")
    assert [c.metadata.name for c in listed.items] == ["a"]
    assert listed.resource_version >= int(made.metadata.resource_version)
    page = await remote.list(ConfigMap, namespace="default", limit=1)
    assert len(page.items) == 1 and page.continue_
    rest = await remote.list(ConfigMap, namespace="default", limit=1, continue_=page.continue_)
    assert {page.items[0].metadata.name, rest.items[0].metadata.name} == {"a", "b"}

    updated = await remote.update(made.model_copy(update={"data": {"mode": "green"}}))
    assert updated.data == {"mode": "green"}
    merged = await remote.patch(ConfigMap, "a", {"data": {"size": "2"}})
    assert merged.data == {"mode": "green", "size": "2"}
    patched = await remote.patch(
        ConfigMap, "a", [{"op": "remove", "path": "/data/size"}], patch_type="json"
    )
    assert patched.data == {"mode": "green"}
    assert await remote.delete(ConfigMap, "b") is None
    with pytest.raises(NotFound, match='configmaps "b" not found'):
        await remote.get(ConfigMap, "b")


async def test_errors_are_the_engine_s_exceptions(remote: RemoteClient) -> None:
    made = await remote.create(_config_map("a"))
    with pytest.raises(AlreadyExists):
        await remote.create(_config_map("a"))
    await remote.update(made.model_copy(update={"data": {"x": "1"}}))
    with pytest.raises(Conflict):
        await remote.update(made.model_copy(update={"data": {"x": "2"}}))  # stale
    with pytest.raises(NotFound):
        await remote.patch(Deployment, "none", {"spec": {"replicas": 1}})
    await remote.create(_deployment("web", 1))
    with pytest.raises(Invalid) as bad:
        await remote.patch(Deployment, "web", {"spec": {"replicas": -1}})
    assert [e.path for e in bad.value.errors] == ["spec.replicas"]


async def test_scale_bind_and_evict_answer_with_what_they_left(remote: RemoteClient) -> None:
    await remote.create(_deployment("web", 1))
    scaled = await remote.scale(Deployment, "web", 3, namespace="default")
    assert scaled.spec.replicas == 3
    assert (await remote.get_scale(Deployment, "web")).replicas == 3
    node = parse_object({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
    assert isinstance(node, Node)
    await remote.create(node)
    pod = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {"containers": [{"name": "app", "image": "nginx"}]},
        }
    )
    await remote.create(pod)
    bound = await remote.bind("p", "n1", namespace="default")
    assert isinstance(bound, Pod) and bound.spec.node_name == "n1"
    await remote.evict("p", namespace="default")
    after = await remote.list(Pod, namespace="default")
    assert all(p.metadata.deletion_timestamp is not None for p in after.items)


async def test_a_watch_delivers_every_change_and_an_expired_revision_is_gone() -> None:
    store = Store(history_size=5)
    async for remote in _serve(store):
        start = (await remote.list(ConfigMap)).resource_version
        async with await remote.watch(ConfigMap, since=start, bookmarks=True) as watch:
            await remote.create(_config_map("a"))
            await remote.patch(ConfigMap, "a", {"data": {"x": "1"}})
            await remote.delete(ConfigMap, "a")
            seen: list[str] = []
            with anyio.fail_after(10):
                while len(seen) < 3:
                    seen += [e.type for e in await watch.next_batch() if e.type != "BOOKMARK"]
            assert seen == ["ADDED", "MODIFIED", "DELETED"]
        for i in range(10):  # push `start` out of the five-revision history
            await remote.create(_config_map(f"c{i}"))
        stale = await remote.watch(ConfigMap, since=start)
        with anyio.fail_after(10), pytest.raises(Gone):
            while True:
                await stale.next_batch()
        with pytest.raises(Gone):  # no second request from a revision known to be gone
            await remote.watch(ConfigMap, since=start)


async def test_an_informer_over_the_wire_keeps_its_cache_current(remote: RemoteClient) -> None:
    await remote.create(_config_map("before"))
    factory = InformerFactory(remote, clock=RealClock())
    informer = factory.informer(ConfigMap)
    deleted = asyncio.Event()
    informer.add_event_handler(EventHandler(delete=lambda obj: deleted.set()))
    async with anyio.create_task_group() as group:
        factory.start(group)
        with anyio.fail_after(10):
            await factory.wait_for_sync()
        assert [c.metadata.name for c in informer.cache] == ["before"]
        await remote.create(_config_map("after"))
        await remote.delete(ConfigMap, "before")
        with anyio.fail_after(10):
            await deleted.wait()  # delivered in order: "after" was added before
        assert sorted(c.metadata.name for c in informer.cache) == ["after"]
        group.cancel_scope.cancel()
