"""The resource quota controller: `status.hard` follows `spec.hard`, and
`status.used` is recounted from the namespace's objects, giving back what
deleted and finished pods held."""

from __future__ import annotations

from typing import Any

from controllers import resourcequota
from engine.api import core
from engine.clock import VirtualClock
from engine.registry import REGISTRY
from tests.controllers.gc_support import running_cluster

QUOTA = REGISTRY.lookup("v1", "ResourceQuota").model


def status(cluster: Any, name: str) -> dict[str, Any]:
    result: dict[str, Any] = getattr(cluster.store.get(QUOTA, name, "default"), "status")  # noqa: B009
    return result


def pod(name: str, cpu: str = "250m") -> core.Pod:
    return core.Pod.model_validate(
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "containers": [
                    {"name": "app", "image": "nginx", "resources": {"requests": {"cpu": cpu}}}
                ]
            },
        }
    )


async def test_status_counts_what_is_there_and_gives_back_what_goes(clock: VirtualClock) -> None:
    async with running_cluster(clock, resourcequota.setup) as cluster:
        store = cluster.store
        store.create(pod("before"))
        store.create(core.ConfigMap.model_validate({"metadata": {"name": "settings"}}))
        store.create(
            QUOTA.model_validate(
                {
                    "metadata": {"name": "q", "namespace": "default"},
                    "spec": {"hard": {"requests.cpu": "2", "pods": "4", "count/configmaps": "9"}},
                }
            )
        )
        await clock.sleep(5)
        assert status(cluster, "q") == {
            "hard": {"count/configmaps": "9", "pods": "4", "requests.cpu": "2"},
            "used": {"count/configmaps": "1", "pods": "1", "requests.cpu": "250m"},
        }
        store.create(pod("after"))
        assert status(cluster, "q")["used"]["requests.cpu"] == "500m"  # charged at admission
        store.delete(core.Pod, "before", "default")
        done = store.get(core.Pod, "after", "default")
        store.update_status(
            done.model_copy(
                update={"status": done.status.model_copy(update={"phase": "Succeeded"})}
            )
        )
        await clock.sleep(5)
        assert status(cluster, "q")["used"] == {
            "count/configmaps": "1",
            "pods": "0",
            "requests.cpu": "0",
        }


async def test_a_changed_limit_shows_in_status(clock: VirtualClock) -> None:
    async with running_cluster(clock, resourcequota.setup) as cluster:
        store = cluster.store
        created = store.create(
            QUOTA.model_validate(
                {"metadata": {"name": "q", "namespace": "default"}, "spec": {"hard": {"pods": "1"}}}
            )
        )
        await clock.sleep(5)
        current = store.get(QUOTA, "q", "default")
        store.update(current.model_copy(update={"spec": {"hard": {"pods": "3", "secrets": "2"}}}))
        await clock.sleep(5)
        assert status(cluster, "q")["hard"] == {"pods": "3", "secrets": "2"}
        assert status(cluster, "q")["used"] == {"pods": "0", "secrets": "0"}
        assert created.metadata.name == "q"
