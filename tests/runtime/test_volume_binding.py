"""Claims, volumes and pods end to end on virtual time (scheduler, PersistentVolume
controller, kubelets): unbound Immediate claims hold a pod back, a volume's
node affinity picks the node, WaitForFirstConsumer provisions on the node the
pod was scheduled to, and a claim naming no class gets the cluster's default
StorageClass `standard` and a provisioned volume. Claims that must bind to a
class-less volume say `storageClassName: ""`, as they must in a cluster with a
default class."""

from __future__ import annotations

import asyncio
from typing import Any

from engine.api import StorageClass, core
from engine.api.storage import IS_DEFAULT_CLASS_ANNOTATION
from runtime.cluster import Cluster, ClusterConfig, NodePool

POD = """\
apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers: [{name: app, image: nginx}]
  volumes: [{name: data, persistentVolumeClaim: {claimName: data}}]
"""


def claim(storage_class: str | None = None) -> str:
    """A 1Gi claim `data`; `storage_class` None leaves the field out."""
    cls = "" if storage_class is None else f", storageClassName: {storage_class!r}"
    return (
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: data}\n"
        "spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}"
        f"{cls}}}\n"
    )


def local_volume(name: str, node: str, storage_class: str = "") -> str:
    cls = f"  storageClassName: {storage_class}\n" if storage_class else ""
    return (
        f"apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {name}}}\nspec:\n"
        "  capacity: {storage: 5Gi}\n  accessModes: [ReadWriteOnce]\n"
        f"  local: {{path: /mnt/disk}}\n{cls}"
        "  nodeAffinity:\n    required:\n      nodeSelectorTerms:\n"
        "      - matchExpressions: [{key: kubernetes.io/hostname, operator: In, "
        f"values: [{node}]}}]\n"
    )


def run(scenario: Any, nodes: int = 3, *, default_storage_class: bool = True) -> Any:
    config = ClusterConfig(
        node_pools=(NodePool(count=nodes),), default_storage_class=default_storage_class
    )

    async def main() -> Any:
        async with Cluster(config) as cluster:
            return await scenario(cluster)

    return asyncio.run(main())


async def _pod(cluster: Cluster) -> core.Pod:
    return await cluster.get(core.Pod, "app", "default")


async def _claim(cluster: Cluster) -> core.PersistentVolumeClaim:
    return await cluster.get(core.PersistentVolumeClaim, "data", "default")


def test_an_unbound_immediate_claim_holds_the_pod_until_a_volume_binds_it() -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.apply(claim("") + "---\n" + POD)
        await cluster.clock.sleep(10)
        pod = await _pod(cluster)
        assert not pod.spec.node_name
        [condition] = [c for c in pod.status.conditions if c.type == "PodScheduled"]
        assert condition.reason == "Unschedulable"
        assert "pod has unbound immediate PersistentVolumeClaims" in (condition.message or "")
        await cluster.apply(
            "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: disk}\n"
            "spec: {capacity: {storage: 1Gi}, accessModes: [ReadWriteOnce], "
            "hostPath: {path: /data}}\n"
        )
        await cluster.clock.sleep(10)
        assert (await _claim(cluster)).status.phase == "Bound"
        assert (await _pod(cluster)).status.phase == "Running"

    run(scenario)


def test_a_missing_claim_is_named_by_the_scheduler() -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.apply(POD)
        await cluster.clock.sleep(5)
        [condition] = [
            c for c in (await _pod(cluster)).status.conditions if c.type == "PodScheduled"
        ]
        assert 'persistentvolumeclaim "data" not found' in (condition.message or "")

    run(scenario)


def test_a_bound_volumes_node_affinity_picks_the_node() -> None:
    async def scenario(cluster: Cluster) -> None:
        nodes = [n.metadata.name for n in (await cluster.list(core.Node)).items]
        target = nodes[-1]
        await cluster.apply(local_volume("disk", target) + "---\n" + claim(""))
        await cluster.clock.sleep(5)
        await cluster.apply(POD)
        await cluster.clock.sleep(10)
        pod = await _pod(cluster)
        assert pod.spec.node_name == target and pod.status.phase == "Running"

    run(scenario)


def test_volume_node_affinity_conflict_is_reported() -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.apply(local_volume("disk", "elsewhere") + "---\n" + claim("") + "---\n" + POD)
        await cluster.clock.sleep(10)
        [condition] = [
            c for c in (await _pod(cluster)).status.conditions if c.type == "PodScheduled"
        ]
        assert "3 node(s) had volume node affinity conflict" in (condition.message or "")

    run(scenario)


def test_wait_for_first_consumer_provisions_on_the_scheduled_node() -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.apply(
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\n"
            "provisioner: example.com/local\nvolumeBindingMode: WaitForFirstConsumer\n"
        )
        await cluster.apply(claim("local"))
        await cluster.clock.sleep(10)
        assert (await _claim(cluster)).status.phase == "Pending"  # no consumer yet
        assert (await cluster.list(core.PersistentVolume)).items == []
        await cluster.apply(POD)
        await cluster.clock.sleep(10)
        pod = await _pod(cluster)
        bound = await _claim(cluster)
        assert pod.status.phase == "Running"
        assert bound.status.phase == "Bound"
        assert bound.metadata.annotations[core.ANN_SELECTED_NODE] == pod.spec.node_name
        volume = await cluster.get(core.PersistentVolume, bound.spec.volume_name or "")
        assert volume.spec.node_affinity is not None
        assert volume.spec.node_affinity.required is not None
        [term] = volume.spec.node_affinity.required.node_selector_terms
        assert term.match_expressions[0].values == [pod.spec.node_name]

    run(scenario)


def test_wait_for_first_consumer_without_provisioner_needs_a_local_volume_on_the_node() -> None:
    async def scenario(cluster: Cluster) -> None:
        nodes = [n.metadata.name for n in (await cluster.list(core.Node)).items]
        await cluster.apply(
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: local}\n"
            "provisioner: kubernetes.io/no-provisioner\nvolumeBindingMode: WaitForFirstConsumer\n"
        )
        await cluster.apply(local_volume("disk", nodes[1], "local"))
        await cluster.apply(claim("local") + "---\n" + POD)
        await cluster.clock.sleep(10)
        pod = await _pod(cluster)
        assert pod.spec.node_name == nodes[1] and pod.status.phase == "Running"
        assert (await _claim(cluster)).spec.volume_name == "disk"

    run(scenario)


def test_a_claim_without_a_class_gets_the_default_class_and_a_provisioned_volume() -> None:
    async def scenario(cluster: Cluster) -> None:
        [default] = (await cluster.list(StorageClass)).items
        assert default.metadata.name == "standard"
        assert default.metadata.annotations[IS_DEFAULT_CLASS_ANNOTATION] == "true"
        await cluster.apply(claim() + "---\n" + POD)
        await cluster.clock.sleep(10)
        bound = await _claim(cluster)
        assert bound.spec.storage_class_name == "standard"
        assert bound.status.phase == "Bound"
        volume = await cluster.get(core.PersistentVolume, bound.spec.volume_name or "")
        assert volume.metadata.annotations[core.ANN_PROVISIONED_BY] == "kubeloop.dev/simulated"
        assert volume.spec.node_affinity is None  # Immediate: not pinned to a node
        assert (await _pod(cluster)).status.phase == "Running"

    run(scenario)


def test_without_the_default_class_a_classless_claim_waits_for_a_volume() -> None:
    async def scenario(cluster: Cluster) -> None:
        assert (await cluster.list(StorageClass)).items == []
        await cluster.apply(claim() + "---\n" + POD)
        await cluster.clock.sleep(10)
        assert (await _claim(cluster)).status.phase == "Pending"
        assert (await cluster.list(core.PersistentVolume)).items == []
        assert not (await _pod(cluster)).spec.node_name

    run(scenario, default_storage_class=False)


EPHEMERAL_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: scratch}
spec:
  containers: [{name: app, image: nginx}]
  volumes:
  - name: cache
    ephemeral:
      volumeClaimTemplate:
        metadata: {labels: {type: scratch}}
        spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
"""


def test_a_generic_ephemeral_volume_gets_its_claim_and_goes_with_the_pod() -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.apply(EPHEMERAL_POD)
        await cluster.clock.sleep(10)
        pod = await cluster.get(core.Pod, "scratch", "default")
        assert pod.status.phase == "Running"
        made = await cluster.get(core.PersistentVolumeClaim, "scratch-cache", "default")
        assert made.status.phase == "Bound"
        assert made.metadata.labels == {"type": "scratch"}
        assert made.spec.storage_class_name == "standard"  # DefaultStorageClass admission
        assert made.metadata.finalizers == ["kubernetes.io/pvc-protection"]
        [owner] = made.metadata.owner_references
        assert (owner.kind, owner.name, owner.uid, owner.controller) == (
            "Pod",
            "scratch",
            pod.metadata.uid,
            True,
        )
        await cluster.delete(core.Pod, "scratch", "default")
        await cluster.clock.sleep(60)
        claims = (await cluster.list(core.PersistentVolumeClaim, namespace="default")).items
        assert claims == []  # garbage collected once the pod was gone
        assert (await cluster.list(core.PersistentVolume)).items == []  # reclaim Delete

    run(scenario)


def test_a_claim_someone_else_made_is_not_used_for_an_ephemeral_volume() -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.apply(
            claim().replace("name: data", "name: scratch-cache") + "---\n" + EPHEMERAL_POD
        )
        await cluster.clock.sleep(10)
        pod = await cluster.get(core.Pod, "scratch", "default")
        assert not pod.spec.node_name
        [condition] = [c for c in pod.status.conditions if c.type == "PodScheduled"]
        assert (
            "PVC default/scratch-cache was not created for pod default/scratch (pod is not owner)"
            in (condition.message or "")
        )

    run(scenario)


def test_a_claim_in_use_is_deleted_only_after_its_pod() -> None:
    async def scenario(cluster: Cluster) -> None:
        await cluster.apply(claim() + "---\n" + POD)
        await cluster.clock.sleep(10)
        assert (await _pod(cluster)).status.phase == "Running"
        await cluster.delete(core.PersistentVolumeClaim, "data", "default")
        await cluster.clock.sleep(10)
        held = await _claim(cluster)
        assert held.metadata.deletion_timestamp is not None and held.status.phase == "Bound"
        await cluster.delete(core.Pod, "app", "default")
        await cluster.clock.sleep(60)
        assert (await cluster.list(core.PersistentVolumeClaim, namespace="default")).items == []

    run(scenario)
