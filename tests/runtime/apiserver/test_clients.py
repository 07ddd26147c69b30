"""The official `kubernetes` client and `kubernetes_asyncio` against a served
cluster: CRUD, list and watch with resourceVersion resume, patches, status,
scale and delete options."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes
import kubernetes_asyncio
import pytest

from tests.runtime.apiserver.conftest import deployment

NS = "default"


def configmap(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


@pytest.fixture
def client(kubeconfig: Path) -> Any:
    """An API client of the official library; its objects are typed `Any` here,
    as the tests hand it plain dicts where its stubs want its models."""
    new_client: Any = kubernetes.config.new_client_from_config
    return new_client(config_file=str(kubeconfig))


def test_official_client_crud_and_errors(client: Any) -> None:
    core: Any = kubernetes.client.CoreV1Api(client)
    created = core.create_namespaced_config_map(NS, configmap("settings", a="1"))
    assert created.metadata.uid and created.data == {"a": "1"}
    read = core.read_namespaced_config_map("settings", NS)
    read.data["b"] = "2"
    replaced = core.replace_namespaced_config_map("settings", NS, read)
    assert replaced.data == {"a": "1", "b": "2"}
    with pytest.raises(kubernetes.client.ApiException) as conflict:
        core.replace_namespaced_config_map("settings", NS, read)
    assert conflict.value.status == 409
    patched = core.patch_namespaced_config_map("settings", NS, {"data": {"c": "3"}})
    assert patched.data["c"] == "3"
    ops = [{"op": "remove", "path": "/data/a"}]
    patched = core.patch_namespaced_config_map("settings", NS, ops)
    assert "a" not in patched.data
    listed = core.list_namespaced_config_map(NS, label_selector="missing=label")
    assert listed.items == []
    core.delete_namespaced_config_map(
        "settings", NS, body=kubernetes.client.V1DeleteOptions(propagation_policy="Foreground")
    )
    with pytest.raises(kubernetes.client.ApiException) as missing:
        core.read_namespaced_config_map("settings", NS)
    assert missing.value.status == 404


def test_official_client_list_then_watch_resumes_from_the_lists_revision(
    client: Any,
) -> None:
    core: Any = kubernetes.client.CoreV1Api(client)
    core.create_namespaced_config_map(NS, configmap("before"))
    listed = core.list_namespaced_config_map(NS)
    revision = listed.metadata.resource_version
    for i in range(3):
        core.create_namespaced_config_map(NS, configmap(f"after-{i}"))
    core.delete_namespaced_config_map("after-0", NS)
    seen: list[tuple[str, str]] = []
    watch: Any = kubernetes.watch.Watch()  # type: ignore[no-untyped-call]
    for event in watch.stream(
        core.list_namespaced_config_map, NS, resource_version=revision, timeout_seconds=10
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 4:
            watch.stop()
    assert seen == [
        ("ADDED", "after-0"),
        ("ADDED", "after-1"),
        ("ADDED", "after-2"),
        ("DELETED", "after-0"),
    ]


def test_official_client_scale_status_and_rollout(client: Any, kubeloop_served: Any) -> None:
    apps: Any = kubernetes.client.AppsV1Api(client)
    apps.create_namespaced_deployment(NS, deployment("web", 2))
    scale = apps.read_namespaced_deployment_scale("web", NS)
    assert scale.spec.replicas == 2
    apps.patch_namespaced_deployment_scale("web", NS, {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("web", NS).spec.replicas == 3

    async def rolled_out(cluster: Any) -> None:
        await cluster.wait_converged(timeout=60)

    kubeloop_served.call(rolled_out)
    status = apps.read_namespaced_deployment_status("web", NS)
    assert status.status.ready_replicas == 3
    pods = kubernetes.client.CoreV1Api(client).list_namespaced_pod(NS, label_selector="app=web")
    assert len(pods.items) == 3


async def test_kubernetes_asyncio_crud_watch_and_status(kubeconfig: Path) -> None:
    api_client = await kubernetes_asyncio.config.new_client_from_config(config_file=str(kubeconfig))
    async with api_client:
        core: Any = kubernetes_asyncio.client.CoreV1Api(api_client)
        await core.create_namespaced_config_map(NS, configmap("a", x="1"))
        listed = await core.list_namespaced_config_map(NS)
        revision = listed.metadata.resource_version
        await core.patch_namespaced_config_map("a", NS, {"data": {"x": "2"}})
        await core.delete_namespaced_config_map("a", NS)
        watch: Any = kubernetes_asyncio.watch.Watch()
        seen: list[tuple[str, Any]] = []
        async with watch.stream(
            core.list_namespaced_config_map, NS, resource_version=revision, timeout_seconds=10
        ) as stream:
            async for event in stream:
                seen.append((event["type"], event["object"].data))
                if len(seen) == 2:
                    watch.stop()
        assert seen == [("MODIFIED", {"x": "2"}), ("DELETED", {"x": "2"})]
        apps: Any = kubernetes_asyncio.client.AppsV1Api(api_client)
        await apps.create_namespaced_deployment(NS, deployment("api", 1))
        scaled = await apps.replace_namespaced_deployment_scale(
            "api", NS, {"spec": {"replicas": 2}, "metadata": {"name": "api"}}
        )
        assert scaled.spec.replicas == 2
        status = await apps.patch_namespaced_deployment_status(
            "api", NS, {"status": {"observedGeneration": 99}}
        )
        assert status.status.observed_generation == 99
