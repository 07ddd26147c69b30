"""`Cluster.apply` merges three ways, as `kubectl apply` does: what the last
applied manifest set and the new one drops is removed, what others set is
kept, and an object created without apply gets the annotation and loses
nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from engine.api.apps import Deployment
from engine.api.core import ConfigMap
from engine.errors import Invalid
from engine.ownership import ApplyConflict
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.cluster.apply import LAST_APPLIED, load_sources

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: LABELS}
spec:
  REPLICAS
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: c
          image: IMAGE
          env: ENV
"""


def web(
    *,
    labels: str = "{app: web, tier: front}",
    replicas: str = "replicas: 2",
    image: str = "nginx:1",
    env: str = "[{name: A, value: a}, {name: B, value: b}]",
) -> str:
    return (
        WEB.replace("LABELS", labels)
        .replace("REPLICAS", replicas)
        .replace("IMAGE", image)
        .replace("ENV", env)
    )


def config() -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=1),))


async def test_the_annotation_records_the_manifest_as_written() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(web())
        live = await cluster.get(Deployment, "web")
        recorded = json.loads(live.metadata.annotations[LAST_APPLIED])
        assert recorded["spec"]["replicas"] == 2
        assert "strategy" not in recorded["spec"]  # defaulted, not written
        assert "status" not in recorded
        assert LAST_APPLIED not in recorded["metadata"].get("annotations", {})


async def test_a_field_removed_from_the_manifest_is_removed_from_the_object() -> None:
    def cm(data: dict[str, str]) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": data}

    async with Cluster(config()) as cluster:
        await cluster.apply(cm({"a": "1", "b": "2"}))
        [result] = await cluster.apply(cm({"a": "1"}))
        assert result.action == "configured"
        assert (await cluster.get(ConfigMap, "c")).data == {"a": "1"}


async def test_a_removed_env_var_and_label_go_and_what_others_set_stays() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(web())
        # A controller (or kubectl label) adds a label; an autoscaler scales.
        assert cluster.client is not None
        live = await cluster.get(Deployment, "web")
        labels = {**live.metadata.labels, "team": "x"}
        await cluster.client.update(
            live.model_copy(
                update={"metadata": live.metadata.model_copy(update={"labels": labels})}
            )
        )
        await cluster.apply(web(labels="{app: web}", env="[{name: A, value: a}]"))
        live = await cluster.get(Deployment, "web")
        assert live.metadata.labels == {"app": "web", "team": "x"}
        [container] = live.spec.template.spec.containers
        assert [(e.name, e.value) for e in container.env] == [("A", "a")]
        assert container.image == "nginx:1"


async def test_replicas_an_autoscaler_set_stay_when_the_manifest_omits_them() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(web(replicas=""))
        await cluster.scale(Deployment, "web", 3)
        await cluster.apply(web(replicas="", image="nginx:2"))
        live = await cluster.get(Deployment, "web")
        assert live.spec.replicas == 3
        assert live.spec.template.spec.containers[0].image == "nginx:2"
        # Once the manifest stops naming replicas, the field is the server's:
        # removing it again resets it to the default, as Kubernetes does.
        await cluster.apply(web(replicas="replicas: 5"))
        assert (await cluster.get(Deployment, "web")).spec.replicas == 5
        await cluster.apply(web(replicas=""))
        assert (await cluster.get(Deployment, "web")).spec.replicas == 1


async def test_status_set_by_controllers_is_kept() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(web(replicas="replicas: 1"))
        await cluster.wait_converged()
        before = (await cluster.get(Deployment, "web")).status
        assert before.ready_replicas == 1
        await cluster.apply(web(replicas="replicas: 1", labels="{app: web}"))
        assert (await cluster.get(Deployment, "web")).status.ready_replicas == 1


async def test_an_object_created_without_apply_gets_the_annotation_and_loses_nothing() -> None:
    async with Cluster(config()) as cluster:
        assert cluster.client is not None
        await cluster.client.create(load_sources(web())[0])
        [result] = await cluster.apply(web(labels="{app: web}", env="[{name: A, value: a}]"))
        assert result.action == "configured"
        live = await cluster.get(Deployment, "web")
        assert live.metadata.labels == {"app": "web", "tier": "front"}
        assert [e.name for e in live.spec.template.spec.containers[0].env] == ["A", "B"]
        assert LAST_APPLIED in live.metadata.annotations
        # From now on the annotation counts: A, applied and then dropped,
        # goes; B, never in an applied manifest, stays.
        await cluster.apply(web(labels="{app: web}", env="[{name: C, value: c}]"))
        live = await cluster.get(Deployment, "web")
        assert [e.name for e in live.spec.template.spec.containers[0].env] == ["B", "C"]


async def test_server_side_apply_through_the_cluster() -> None:
    async with Cluster(config()) as cluster:
        [created] = await cluster.apply(web(), server_side=True, field_manager="alice")
        assert created.action == "created"
        [again] = await cluster.apply(web(), server_side=True, field_manager="alice")
        assert again.action == "unchanged"
        live = await cluster.get(Deployment, "web")
        assert [e.manager for e in live.metadata.managed_fields] == ["alice"]
        assert LAST_APPLIED not in live.metadata.annotations
        # bob's conflicting apply is refused before anything is written...
        with pytest.raises(
            ApplyConflict, match=r'conflict with "alice" using apps/v1: \.spec\.replicas'
        ):
            await cluster.apply(
                [configmap_manifest("x"), web(replicas="replicas: 4")],
                server_side=True,
                field_manager="bob",
            )
        assert cluster.store is not None
        assert cluster.store.try_get(ConfigMap, "x", "default") is None
        # ...and goes through with force.
        await cluster.apply(
            web(replicas="replicas: 4"), server_side=True, field_manager="bob", force=True
        )
        assert (await cluster.get(Deployment, "web")).spec.replicas == 4


def configmap_manifest(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}


REPLICAS_ONLY = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec: {replicas: 3}
"""


async def test_server_side_apply_of_a_partial_configuration_hands_a_field_over() -> None:
    """The docs' "transferring ownership" steps: a manifest with only
    `spec.replicas` is no whole object, yet server-side apply takes it (only
    the merged object must be valid); the first manager then drops the field
    and it stays, owned by the other."""
    async with Cluster(config()) as cluster:
        await cluster.apply(web(replicas="replicas: 3"), server_side=True, field_manager="kubectl")
        [handed] = await cluster.apply(
            REPLICAS_ONLY, server_side=True, field_manager="handover-to-hpa"
        )
        assert handed.action == "configured"
        await cluster.apply(web(replicas=""), server_side=True, field_manager="kubectl")
        live = await cluster.get(Deployment, "web")
        assert live.spec.replicas == 3
        owners = {
            e.manager: set((e.fields_v1 or {}).get("f:spec", {}))
            for e in live.metadata.managed_fields
        }
        assert "f:replicas" in owners["handover-to-hpa"]
        assert "f:replicas" not in owners["kubectl"]
        # A partial configuration cannot create an object (it is no object), and
        # client-side apply sends whole objects only: both say why.
        with pytest.raises(Invalid, match=r"spec\.template\.spec\.containers: Required value"):
            await cluster.apply(
                REPLICAS_ONLY.replace("name: web", "name: other"),
                server_side=True,
                field_manager="hpa",
            )
        with pytest.raises(Invalid, match=r"spec\.template\.spec\.containers: Required value"):
            await cluster.apply(REPLICAS_ONLY)
