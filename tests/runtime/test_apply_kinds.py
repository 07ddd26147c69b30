"""`Cluster.apply` with kinds beyond the controllers' own: a file with a
ServiceAccount beside a ConfigMap and a Deployment applies whole (it used to
fail on the ServiceAccount); a CRD, then its custom objects, apply and
re-apply; a file with several bad documents names each and applies nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.api.apps import Deployment
from engine.api.core import ConfigMap
from engine.errors import ManifestErrors, NotFound
from engine.registry import REGISTRY
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.cluster.apply import ApplyError

CRD_FILE = Path(__file__).parents[1] / "engine" / "manifests" / "crd-cronjob.yaml"

APP = """\
apiVersion: v1
kind: ServiceAccount
metadata: {name: app}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: app-config}
data: {mode: production}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: app}
spec:
  replicas: 1
  selector: {matchLabels: {app: app}}
  template:
    metadata: {labels: {app: app}}
    spec:
      serviceAccountName: app
      containers: [{name: c, image: nginx}]
"""

CRONJOB = """\
apiVersion: batch.tutorial.kubebuilder.io/v1
kind: CronJob
metadata: {name: nightly}
spec:
  schedule: "0 3 * * *"
  jobTemplate: {spec: {template: {spec: {restartPolicy: Never}}}}
"""


def config() -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=1),))


async def test_a_service_account_beside_a_deployment_applies() -> None:
    async with Cluster(config()) as cluster:
        applied = [str(a) for a in await cluster.apply(APP)]
        assert applied == [
            "serviceaccount/app created",
            "configmap/app-config created",
            "deployment/app created",
        ]
        service_account = REGISTRY.lookup("v1", "ServiceAccount").model
        assert (await cluster.get(service_account, "app", "default")).metadata.name == "app"
        again = [str(a) for a in await cluster.apply(APP)]
        assert again[0] == "serviceaccount/app unchanged"


async def test_a_crd_then_its_objects_apply_and_reapply() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(CRD_FILE)
        assert [str(a) for a in await cluster.apply(CRONJOB)] == ["cronjob/nightly created"]
        changed = CRONJOB.replace('"0 3 * * *"', '"0 4 * * *"')
        # The CRD's transition rule makes the schedule immutable.
        with pytest.raises(ApplyError, match="schedule is immutable"):
            await cluster.apply(changed)
        model = REGISTRY.lookup("batch.tutorial.kubebuilder.io/v1", "CronJob").model
        stored: Any = await cluster.get(model, "nightly", "default")
        assert stored.spec["schedule"] == "0 3 * * *"
        assert stored.spec["concurrencyPolicy"] == "Allow"  # defaulted from the schema


async def test_a_file_with_bad_documents_names_each_and_applies_nothing() -> None:
    bad = APP.replace("data: {mode: production}", "data: {mode: production}\nbinaryDataz: {}")
    bad = bad.replace("apiVersion: apps/v1", "apiVersion: extensions/v1beta1")
    async with Cluster(config()) as cluster:
        with pytest.raises(ManifestErrors) as caught:
            await cluster.apply(bad)
        assert len(caught.value.errors) == 2
        assert "removed in Kubernetes 1.16; use apps/v1" in str(caught.value)
        assert "binaryDataz" in str(caught.value)
        for kind, name in ((ConfigMap, "app-config"), (Deployment, "app")):
            with pytest.raises(NotFound):
                await cluster.get(kind, name, "default")
