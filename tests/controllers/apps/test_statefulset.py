"""The StatefulSet controller on a simulated cluster (virtual clock): stable
identities and claims, OrderedReady and Parallel, scale, rolling update with
partition, OnDelete, rollback, claim retention, pod failure and node loss."""

from __future__ import annotations

from pathlib import Path

from engine.api import ControllerRevision, PersistentVolumeClaim, Pod, StatefulSet
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.controllers.apps.support import is_ready, live_pods, pod_log

EXAMPLE = Path(__file__).parents[3] / "examples" / "statefulset.yaml"


def sts_manifest(
    *,
    replicas: int = 3,
    policy: str = "OrderedReady",
    image: str = "nginx:1.27",
    extra_spec: str = "",
    claims: bool = False,
) -> str:
    claim_block = (
        """
  volumeClaimTemplates:
  - metadata: {name: data}
    spec:
      accessModes: [ReadWriteOnce]
      resources: {requests: {storage: 1Gi}}"""
        if claims
        else ""
    )
    return f"""
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db}}
spec:
  replicas: {replicas}
  serviceName: db
  podManagementPolicy: {policy}
  selector: {{matchLabels: {{app: db}}}}
{extra_spec}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers:
      - name: db
        image: {image}{claim_block}
"""


def config(nodes: int = 3) -> ClusterConfig:
    return ClusterConfig(node_pools=(NodePool(count=nodes),))


async def test_docs_example_converges_with_identities_and_claims() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(EXAMPLE)
        await cluster.wait_converged(timeout=600)
        pods = live_pods(cluster)
        assert [p.metadata.name for p in pods] == ["web-0", "web-1", "web-2"]
        sts = await cluster.get(StatefulSet, "web")
        for i, pod in enumerate(pods):
            labels = pod.metadata.labels
            assert labels["statefulset.kubernetes.io/pod-name"] == f"web-{i}"
            assert labels["apps.kubernetes.io/pod-index"] == str(i)
            assert labels["controller-revision-hash"] == sts.status.update_revision
            assert (pod.spec.hostname, pod.spec.subdomain) == (f"web-{i}", "nginx")
            volume = next(v for v in pod.spec.volumes if v.name == "www")
            assert volume.persistent_volume_claim is not None
            assert volume.persistent_volume_claim.claim_name == f"www-web-{i}"
        claims = (await cluster.list(PersistentVolumeClaim)).items
        assert sorted(c.metadata.name for c in claims) == ["www-web-0", "www-web-1", "www-web-2"]
        assert {(c.spec.storage_class_name, c.status.phase) for c in claims} == {
            ("my-storage-class", "Bound")
        }
        s = sts.status
        assert (s.replicas, s.ready_replicas, s.available_replicas) == (3, 3, 3)
        assert (s.current_replicas, s.updated_replicas) == (3, 3)
        assert s.current_revision == s.update_revision
        assert s.observed_generation == sts.metadata.generation
        reasons = {e.reason for e in await cluster.events()}
        assert "SuccessfulCreate" in reasons


async def test_ordered_ready_creates_in_order_and_scales_down_in_reverse() -> None:
    async with Cluster(config()) as cluster:
        store = cluster.store
        assert store is not None
        with pod_log(store) as log:
            await cluster.apply(sts_manifest(replicas=4))
            await cluster.wait_converged(timeout=600)
            names = [name for name, _ in log.created]
            assert names == ["db-0", "db-1", "db-2", "db-3"]
            for n, (_, ready) in enumerate(log.created[1:], start=1):
                assert ready[f"db-{n - 1}"], f"db-{n} created before db-{n - 1} was ready"
            await cluster.scale(StatefulSet, "db", 1)
            await cluster.wait_converged(timeout=600)
            assert log.deleted == ["db-3", "db-2", "db-1"]
        assert [p.metadata.name for p in live_pods(cluster)] == ["db-0"]


async def test_parallel_creates_without_waiting_and_ordinals_start() -> None:
    async with Cluster(config()) as cluster:
        store = cluster.store
        assert store is not None
        spec = "  ordinals: {start: 5}"
        with pod_log(store) as log:
            await cluster.apply(sts_manifest(replicas=3, policy="Parallel", extra_spec=spec))
            await cluster.wait_converged(timeout=600)
        assert [n for n, _ in log.created] == ["db-5", "db-6", "db-7"]
        # Parallel: the last pod was created before the first was ready.
        assert not any(log.created[-1][1].values())


async def test_rolling_update_reverse_order_partition_and_rollback() -> None:
    async with Cluster(config()) as cluster:
        store = cluster.store
        assert store is not None
        await cluster.apply(sts_manifest(replicas=3))
        await cluster.wait_converged(timeout=600)
        first = (await cluster.get(StatefulSet, "db")).status.update_revision
        with pod_log(store) as log:
            await cluster.apply(sts_manifest(replicas=3, image="nginx:1.28"))
            await cluster.wait_converged(timeout=600)
        assert log.deleted == ["db-2", "db-1", "db-0"]
        sts = await cluster.get(StatefulSet, "db")
        second = sts.status.update_revision
        assert second != first and sts.status.current_revision == second
        assert {p.spec.containers[0].image for p in live_pods(cluster)} == {"nginx:1.28"}

        partition = "  updateStrategy: {type: RollingUpdate, rollingUpdate: {partition: 2}}"
        await cluster.apply(sts_manifest(replicas=3, image="nginx:1.29", extra_spec=partition))
        await cluster.wait_converged(timeout=600)
        images = [p.spec.containers[0].image for p in live_pods(cluster)]
        assert images == ["nginx:1.28", "nginx:1.28", "nginx:1.29"]

        # Rollback: re-applying the first template reuses its revision.
        await cluster.apply(sts_manifest(replicas=3, image="nginx:1.27"))
        await cluster.wait_converged(timeout=600)
        sts = await cluster.get(StatefulSet, "db")
        assert sts.status.update_revision == first == sts.status.current_revision
        assert {p.spec.containers[0].image for p in live_pods(cluster)} == {"nginx:1.27"}
        revisions = (await cluster.list(ControllerRevision)).items
        assert max(r.revision for r in revisions) == 4
        assert next(r for r in revisions if r.metadata.name == first).revision == 4


async def test_max_unavailable_updates_several_at_once() -> None:
    async with Cluster(config()) as cluster:
        store = cluster.store
        assert store is not None
        strategy = "  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 2}}"
        await cluster.apply(sts_manifest(replicas=4, policy="Parallel", extra_spec=strategy))
        await cluster.wait_converged(timeout=600)
        unavailable_max = 0

        def watch(_record: object) -> None:
            nonlocal unavailable_max
            ready = sum(1 for p in live_pods(cluster) if is_ready(p))
            unavailable_max = max(unavailable_max, 4 - ready)

        store.observers.append(watch)
        await cluster.apply(
            sts_manifest(replicas=4, policy="Parallel", extra_spec=strategy, image="nginx:1.28")
        )
        await cluster.wait_converged(timeout=600)
        store.observers.remove(watch)
        assert unavailable_max == 2
        assert {p.spec.containers[0].image for p in live_pods(cluster)} == {"nginx:1.28"}


async def test_on_delete_updates_only_deleted_pods() -> None:
    async with Cluster(config()) as cluster:
        on_delete = "  updateStrategy: {type: OnDelete}"
        await cluster.apply(sts_manifest(replicas=2, extra_spec=on_delete))
        await cluster.wait_converged(timeout=600)
        await cluster.apply(sts_manifest(replicas=2, extra_spec=on_delete, image="nginx:1.28"))
        await cluster.wait_converged(timeout=600)
        assert [p.spec.containers[0].image for p in live_pods(cluster)] == ["nginx:1.27"] * 2
        old = await cluster.get(Pod, "db-1")
        await cluster.delete(Pod, "db-1")
        await cluster.wait_for(
            lambda: any(
                p.metadata.name == "db-1" and p.metadata.uid != old.metadata.uid
                for p in live_pods(cluster)
            ),
            timeout=600,
        )
        await cluster.wait_converged(timeout=600)
        images = [p.spec.containers[0].image for p in live_pods(cluster)]
        assert images == ["nginx:1.27", "nginx:1.28"]
        s = (await cluster.get(StatefulSet, "db")).status
        assert (s.current_replicas, s.updated_replicas) == (1, 1)


async def test_claim_retention_when_scaled_and_when_deleted() -> None:
    async with Cluster(config()) as cluster:
        policy = "  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Retain}"
        await cluster.apply(sts_manifest(replicas=3, extra_spec=policy, claims=True))
        await cluster.wait_converged(timeout=600)
        await cluster.scale(StatefulSet, "db", 1)
        await cluster.wait_converged(timeout=600)
        await cluster.wait_for(
            lambda: (
                {c.metadata.name for c in cluster.store.objects(PersistentVolumeClaim)}  # type: ignore[union-attr]
                == {"data-db-0"}
            ),
            timeout=600,
        )
        await cluster.delete(StatefulSet, "db")
        await cluster.wait_for(lambda: not live_pods(cluster), timeout=600)
        await cluster.clock.sleep(60)
        claims = (await cluster.list(PersistentVolumeClaim)).items
        assert [c.metadata.name for c in claims] == ["data-db-0"]  # whenDeleted: Retain

    async with Cluster(config()) as cluster:
        policy = "  persistentVolumeClaimRetentionPolicy: {whenScaled: Retain, whenDeleted: Delete}"
        await cluster.apply(sts_manifest(replicas=2, extra_spec=policy, claims=True))
        await cluster.wait_converged(timeout=600)
        await cluster.scale(StatefulSet, "db", 1)
        await cluster.wait_converged(timeout=600)
        await cluster.clock.sleep(60)
        assert len((await cluster.list(PersistentVolumeClaim)).items) == 2  # whenScaled: Retain
        await cluster.delete(StatefulSet, "db")
        await cluster.wait_for(
            lambda: not list(cluster.store.objects(PersistentVolumeClaim)),  # type: ignore[union-attr]
            timeout=600,
        )


async def test_claims_of_a_missing_class_hold_the_first_pod_pending() -> None:
    """As in Kubernetes: the claim waits for its class, the scheduler keeps the
    pod back ("unbound immediate PersistentVolumeClaims"), and OrderedReady
    makes no second pod; creating the class lets the set come up."""
    manifest = sts_manifest(replicas=2, claims=True).replace(
        "accessModes: [ReadWriteOnce]", "accessModes: [ReadWriteOnce]\n      storageClassName: fast"
    )
    async with Cluster(config()) as cluster:
        await cluster.apply(manifest)
        await cluster.clock.sleep(60)
        [pod] = live_pods(cluster)
        assert (pod.metadata.name, pod.spec.node_name) == ("db-0", None)
        [claim] = (await cluster.list(PersistentVolumeClaim)).items
        assert (claim.spec.storage_class_name, claim.status.phase) == ("fast", "Pending")
        [problem] = [str(p) for p in cluster.problems()]
        assert "pod has unbound immediate PersistentVolumeClaims" in problem
        await cluster.apply(
            "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\n"
            "provisioner: example.com/fast\n"
        )
        await cluster.wait_converged(timeout=600)
        assert [p.metadata.name for p in live_pods(cluster)] == ["db-0", "db-1"]


async def test_failed_pod_is_recreated_with_the_same_identity() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(sts_manifest(replicas=2))
        await cluster.wait_converged(timeout=600)
        pod = await cluster.get(Pod, "db-1")
        assert cluster.client is not None and pod.spec.node_name is not None
        # The node's kubelet stops (so nothing rewrites the pod's status) and
        # the pod is reported Failed, as when a kubelet evicts a pod.
        node = pod.spec.node_name
        await cluster.fail_node(node)
        pod = await cluster.get(Pod, "db-1")
        failed = pod.status.model_copy(update={"phase": "Failed"})
        await cluster.client.update_status(pod.model_copy(update={"status": failed}))
        await cluster.wait_for(
            lambda: any(
                p.metadata.name == "db-1" and p.metadata.uid != pod.metadata.uid
                for p in live_pods(cluster)
            ),
            timeout=600,
        )
        await cluster.restore_node(node)  # the new db-1 may have been placed there
        await cluster.wait_converged(timeout=600)
        assert [p.metadata.name for p in live_pods(cluster)] == ["db-0", "db-1"]


async def test_lost_node_blocks_the_identity_until_the_pod_is_gone() -> None:
    async with Cluster(config(nodes=2)) as cluster:
        store = cluster.store
        assert store is not None
        await cluster.apply(sts_manifest(replicas=2, policy="Parallel"))
        await cluster.wait_converged(timeout=600)
        victim = await cluster.get(Pod, "db-0")
        node = victim.spec.node_name
        assert node is not None
        with pod_log(store):
            seen: list[int] = []

            def count(_record: object) -> None:
                seen.append(sum(1 for p in store.objects(Pod) if p.metadata.name == "db-0"))

            store.observers.append(count)
            cluster.partition_node(node)
            await cluster.clock.sleep(900)  # NoExecute eviction marks it; nobody confirms
            current = await cluster.get(Pod, "db-0")
            assert current.metadata.uid == victim.metadata.uid
            assert current.metadata.deletion_timestamp is not None
            await cluster.restore_node(node)
            await cluster.wait_for(
                lambda: (
                    (p := store.try_get(Pod, "db-0", "default")) is not None
                    and p.metadata.uid != victim.metadata.uid
                    and is_ready(p)
                ),
                timeout=600,
            )
            store.observers.remove(count)
        assert max(seen) == 1
        await cluster.wait_converged(timeout=600)


async def test_min_ready_seconds_delays_availability() -> None:
    async with Cluster(config()) as cluster:
        await cluster.apply(sts_manifest(replicas=1, extra_spec="  minReadySeconds: 30"))
        await cluster.wait_for(
            lambda: all(is_ready(p) for p in live_pods(cluster)) and bool(live_pods(cluster)),
            timeout=600,
        )
        await cluster.clock.sleep(1)
        s = (await cluster.get(StatefulSet, "db")).status
        assert s.ready_replicas == 1 and s.available_replicas == 0
        assert not cluster.converged()
        await cluster.wait_converged(timeout=600)
        assert (await cluster.get(StatefulSet, "db")).status.available_replicas == 1
