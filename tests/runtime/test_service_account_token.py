"""A pod in a new namespace of a running cluster gets the API access volume of
its ServiceAccount (`kube-api-access-*`), whose `kube-root-ca.crt` ConfigMap
the root CA publisher made, and runs; on the virtual clock."""

from __future__ import annotations

import asyncio

from engine.api import core
from runtime.cluster import Cluster, ClusterConfig, NodePool

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Pod
metadata: {name: app, namespace: team}
spec:
  containers: [{name: app, image: nginx}]
"""


def test_pods_get_the_api_access_volume_and_run() -> None:
    async def scenario() -> None:
        async with Cluster(ClusterConfig(node_pools=(NodePool(count=1),))) as cluster:
            await cluster.apply(MANIFEST)
            await cluster.clock.sleep(5)
            # The namespace's default ServiceAccount exists now: a pod made from
            # here on mounts its token.
            await cluster.apply(MANIFEST.replace("name: app", "name: api"))
            await cluster.clock.sleep(10)
            pod = await cluster.get(core.Pod, "api", "team")
            [volume] = [v for v in pod.spec.volumes if v.name.startswith("kube-api-access-")]
            [mount] = pod.spec.containers[0].volume_mounts
            assert (mount.name, mount.mount_path, mount.read_only) == (
                volume.name,
                "/var/run/secrets/kubernetes.io/serviceaccount",
                True,
            )
            assert pod.status.phase == "Running"
            ca = await cluster.get(core.ConfigMap, "kube-root-ca.crt", "team")
            assert "ca.crt" in ca.data

    asyncio.run(scenario())
