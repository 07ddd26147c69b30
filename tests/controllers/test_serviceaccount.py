"""The service account controller: every active namespace gets a `default`
ServiceAccount, made again if deleted; terminating namespaces get none."""

from __future__ import annotations

from controllers import namespace as namespace_controller
from controllers import serviceaccount
from engine.api import core
from engine.clock import VirtualClock
from engine.registry import REGISTRY
from tests.controllers.gc_support import running_cluster

SERVICE_ACCOUNT = REGISTRY.lookup("v1", "ServiceAccount").model


def pod(name: str, ns: str) -> core.Pod:
    return core.Pod.model_validate(
        {
            "metadata": {"name": name, "namespace": ns},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        }
    )


def namespace(name: str) -> core.Namespace:
    return core.Namespace.model_validate({"metadata": {"name": name}})


async def test_every_namespace_gets_a_default_service_account(clock: VirtualClock) -> None:
    async with running_cluster(clock, serviceaccount.setup) as cluster:
        await cluster.client.create(namespace("team"))
        await cluster.settle()
        for ns in ("default", "kube-system", "kube-public", "kube-node-lease", "team"):
            assert cluster.names(SERVICE_ACCOUNT, ns) == ["default"]


async def test_pods_in_a_fresh_namespace_use_its_default_account(clock: VirtualClock) -> None:
    async with running_cluster(clock, serviceaccount.setup) as cluster:
        await cluster.client.create(namespace("team"))
        # admitted before the controller made the account (see the plugin's docstring)
        early = await cluster.client.create(pod("early", "team"))
        await cluster.settle()
        assert cluster.names(SERVICE_ACCOUNT, "team") == ["default"]
        assert early.spec.service_account_name == "default"


async def test_a_deleted_default_service_account_comes_back(clock: VirtualClock) -> None:
    async with running_cluster(clock, serviceaccount.setup) as cluster:
        await cluster.settle()
        first = cluster.store.get(SERVICE_ACCOUNT, "default", "default")
        await cluster.client.delete(SERVICE_ACCOUNT, "default", namespace="default")
        await cluster.settle()
        again = cluster.store.get(SERVICE_ACCOUNT, "default", "default")
        assert again.metadata.uid != first.metadata.uid


async def test_a_terminating_namespace_is_emptied_of_its_service_account(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock, serviceaccount.setup, namespace_controller.setup) as cluster:
        await cluster.client.create(namespace("team"))
        await cluster.settle()
        await cluster.client.delete(core.Namespace, "team")
        await cluster.settle()
        assert cluster.store.try_get(core.Namespace, "team") is None
        assert cluster.names(SERVICE_ACCOUNT, "team") == []
