"""lightkube and kr8s against a served cluster: the same basics as the official
clients (create, get, list with a selector, patch, watch, delete)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kr8s
import lightkube
from lightkube.config.kubeconfig import KubeConfig
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from engine.api.apps import Deployment
from tests.runtime.apiserver.conftest import deployment


def test_lightkube_basics(kubeconfig: Path) -> None:
    client: Any = lightkube.Client(config=KubeConfig.from_file(kubeconfig))
    made = client.create(
        ConfigMap.from_dict(
            {"metadata": {"name": "light", "labels": {"by": "lightkube"}}, "data": {"a": "1"}}
        ),
        namespace="default",
    )
    revision = made.metadata.resourceVersion
    assert client.get(ConfigMap, "light", namespace="default").data == {"a": "1"}
    listed = list(client.list(ConfigMap, namespace="default", labels={"by": "lightkube"}))
    assert [c.metadata.name for c in listed] == ["light"]
    client.patch(
        ConfigMap,
        "light",
        {"data": {"a": "2"}},
        namespace="default",
        patch_type=PatchType.MERGE,
    )
    client.delete(ConfigMap, "light", namespace="default")
    seen = []
    for kind, obj in client.watch(ConfigMap, namespace="default", resource_version=revision):
        seen.append((kind, obj.data))
        if len(seen) == 2:
            break
    assert seen == [("MODIFIED", {"a": "2"}), ("DELETED", {"a": "2"})]


def test_kr8s_basics(kubeconfig: Path, kubeloop_served: Any) -> None:
    api: Any = kr8s.api(kubeconfig=str(kubeconfig))
    web: Any = kr8s.objects.Deployment(deployment("kr8s-web", 1), api=api)
    web.create()
    web.scale(2)

    async def replicas(cluster: Any) -> int:
        found = await cluster.get(Deployment, "kr8s-web", "default")
        return int(found.spec.replicas)

    assert kubeloop_served.call(replicas) == 2
    names = [d.name for d in api.get("deployments", namespace="default")]
    assert names == ["kr8s-web"]
    web.label({"team": "blue"})
    web.refresh()
    assert web.labels["team"] == "blue"
    web.delete()
