"""ClusterConfig's PodSecurity exemptions reach the cluster's admission."""

from __future__ import annotations

import asyncio

from engine.admission.podsecurity import PodSecurityExemptions
from engine.api import core
from runtime.cluster import Cluster, ClusterConfig, NodePool

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: ops
  labels: {pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Pod
metadata: {name: tool, namespace: ops}
spec:
  hostNetwork: true
  containers: [{name: tool, image: busybox}]
"""


def test_an_exempt_namespace_admits_what_its_level_forbids() -> None:
    exemptions = PodSecurityExemptions(namespaces=frozenset({"ops"}))
    config = ClusterConfig(node_pools=(NodePool(count=1),), pod_security_exemptions=exemptions)

    async def scenario() -> None:
        async with Cluster(config) as cluster:
            await cluster.apply(MANIFEST)
            pod = await cluster.get(core.Pod, "tool", "ops")
            assert pod.spec.host_network

    asyncio.run(scenario())
