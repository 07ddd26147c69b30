"""The PersistentVolume controller on virtual time: static binding (class,
access modes, smallest fitting capacity, selector, volumeMode), pre-binding
both ways, dynamic provisioning (Immediate and WaitForFirstConsumer),
reclaiming (Delete, Retain) and lost claims."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from controllers import storageprotection
from controllers import volume as volume_controller
from engine.api import StorageClass, core
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store


@asynccontextmanager
async def running(clock: VirtualClock) -> AsyncIterator[Store]:
    store = Store(clock=clock)
    manager = Manager(LocalClient(store), clock=clock)
    volume_controller.setup(manager)
    # Claims and volumes carry the protection finalizers (admission): their
    # controllers let them go.
    storageprotection.setup_pvc_protection(manager)
    storageprotection.setup_pv_protection(manager)
    async with manager:
        yield store


def pv(name: str, size: str = "1Gi", **spec: Any) -> core.PersistentVolume:
    labels = spec.pop("labels", {})
    body = {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"]}
    body.update(spec)
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": name, "labels": labels},
            "spec": {"hostPath": {"path": f"/data/{name}"}, **body},
        }
    )
    assert isinstance(obj, core.PersistentVolume)
    return obj


def pvc(name: str, size: str = "1Gi", **spec: Any) -> core.PersistentVolumeClaim:
    body = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    body.update(spec)
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": body,
        }
    )
    assert isinstance(obj, core.PersistentVolumeClaim)
    return obj


def storage_class(name: str, **fields: Any) -> StorageClass:
    obj = parse_object(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": name},
            "provisioner": "example.com/simulated",
            **fields,
        }
    )
    assert isinstance(obj, StorageClass)
    return obj


def claim(store: Store, name: str) -> core.PersistentVolumeClaim:
    return store.get(core.PersistentVolumeClaim, name, "default")


def volume(store: Store, name: str) -> core.PersistentVolume:
    return store.get(core.PersistentVolume, name)


def select_node(store: Store, name: str, node: str) -> None:
    """What the scheduler's VolumeBinding does for a WaitForFirstConsumer claim."""
    current = claim(store, name)
    annotations = {**current.metadata.annotations, core.ANN_SELECTED_NODE: node}
    store.update(
        current.model_copy(
            update={"metadata": current.metadata.model_copy(update={"annotations": annotations})}
        )
    )


async def test_a_claim_binds_the_smallest_fitting_volume_of_its_class(
    clock: VirtualClock,
) -> None:
    async with running(clock) as store:
        store.create(pv("big", "10Gi", storageClassName="manual"))
        store.create(pv("small", "2Gi", storageClassName="manual"))
        store.create(pv("tiny", "500Mi", storageClassName="manual"))
        store.create(pv("other-class", "2Gi", storageClassName="fast"))
        store.create(
            pv("read-only", "2Gi", storageClassName="manual", accessModes=["ReadOnlyMany"])
        )
        store.create(pvc("data", "1Gi", storageClassName="manual"))
        await clock.sleep(2)
        bound = claim(store, "data")
        small = volume(store, "small")
        assert bound.status.phase == "Bound"
        assert bound.spec.volume_name == "small"
        assert bound.status.capacity["storage"] == small.spec.capacity["storage"]
        assert bound.status.access_modes == ["ReadWriteOnce"]
        assert bound.metadata.annotations[core.ANN_BIND_COMPLETED] == "yes"
        assert bound.metadata.annotations[core.ANN_BOUND_BY_CONTROLLER] == "yes"
        assert small.status.phase == "Bound"
        assert small.spec.claim_ref is not None
        assert small.spec.claim_ref.uid == bound.metadata.uid
        assert small.metadata.annotations[core.ANN_BOUND_BY_CONTROLLER] == "yes"
        for name in ("big", "tiny", "other-class", "read-only"):
            assert volume(store, name).status.phase == "Available"


async def test_selector_and_volume_mode_narrow_the_match(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(pv("plain", "1Gi"))
        store.create(pv("block", "5Gi", volumeMode="Block", labels={"tier": "gold"}))
        store.create(pv("gold", "5Gi", labels={"tier": "gold"}))
        store.create(pvc("picky", selector={"matchLabels": {"tier": "gold"}}))
        store.create(pvc("raw", volumeMode="Block"))
        await clock.sleep(2)
        assert claim(store, "picky").spec.volume_name == "gold"
        assert claim(store, "raw").spec.volume_name == "block"


async def test_no_matching_volume_leaves_the_claim_pending_until_one_appears(
    clock: VirtualClock,
) -> None:
    async with running(clock) as store:
        store.create(pvc("data", "5Gi"))
        store.create(pv("too-small", "1Gi"))
        await clock.sleep(2)
        assert claim(store, "data").status.phase == "Pending"
        store.create(pv("right", "5Gi"))
        await clock.sleep(2)
        assert claim(store, "data").spec.volume_name == "right"


async def test_pre_binding_by_volume_name_and_by_claim_ref(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(pv("smallest", "1Gi"))
        store.create(pv("chosen", "5Gi"))
        store.create(pvc("named", volumeName="chosen"))
        store.create(pv("reserved", "3Gi", claimRef={"namespace": "default", "name": "reserver"}))
        store.create(pvc("reserver"))
        store.create(pvc("waits", volumeName="later"))
        await clock.sleep(2)
        named = claim(store, "named")
        assert named.status.phase == "Bound" and named.spec.volume_name == "chosen"
        assert core.ANN_BOUND_BY_CONTROLLER not in named.metadata.annotations  # the user chose
        assert claim(store, "reserver").spec.volume_name == "reserved"
        assert claim(store, "waits").status.phase == "Pending"
        assert volume(store, "smallest").status.phase == "Available"
        store.create(pv("later", "1Gi"))
        await clock.sleep(2)
        assert claim(store, "waits").status.phase == "Bound"


async def test_delete_policy_removes_the_volume_with_its_claim_retain_keeps_it_released(
    clock: VirtualClock,
) -> None:
    async with running(clock) as store:
        store.create(pv("kept", "1Gi", storageClassName="a"))
        store.create(
            pv("dropped", "1Gi", storageClassName="b", persistentVolumeReclaimPolicy="Delete")
        )
        store.create(pvc("one", storageClassName="a"))
        store.create(pvc("two", storageClassName="b"))
        await clock.sleep(2)
        assert claim(store, "one").status.phase == "Bound"
        assert claim(store, "two").status.phase == "Bound"
        store.delete(core.PersistentVolumeClaim, "one", "default")
        store.delete(core.PersistentVolumeClaim, "two", "default")
        await clock.sleep(2)
        assert volume(store, "kept").status.phase == "Released"
        assert [v.metadata.name for v in store.list(core.PersistentVolume).items] == ["kept"]
        # A Released volume is not bound again: its claimRef still names the old claim.
        store.create(pvc("one", storageClassName="a"))
        await clock.sleep(2)
        assert claim(store, "one").status.phase == "Pending"


async def test_a_bound_claim_whose_volume_is_deleted_is_lost(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(pv("v"))
        store.create(pvc("data"))
        await clock.sleep(2)
        assert claim(store, "data").status.phase == "Bound"
        store.delete(core.PersistentVolume, "v")
        await clock.sleep(2)
        # pv-protection keeps a Bound volume: the claim stays Bound.
        held = volume(store, "v")
        assert held.metadata.deletion_timestamp is not None
        assert held.metadata.finalizers == ["kubernetes.io/pv-protection"]
        assert claim(store, "data").status.phase == "Bound"
        # An administrator forcing it away (dropping the finalizer) loses the claim.
        forced = held.metadata.model_copy(update={"finalizers": []})
        store.update(held.model_copy(update={"metadata": forced}))
        await clock.sleep(2)
        assert claim(store, "data").status.phase == "Lost"


async def test_immediate_class_provisions_a_volume_of_the_requested_size(
    clock: VirtualClock,
) -> None:
    async with running(clock) as store:
        store.create(storage_class("standard", reclaimPolicy="Retain"))
        store.create(pvc("data", "3Gi", storageClassName="standard", accessModes=["ReadWriteMany"]))
        await clock.sleep(2)
        bound = claim(store, "data")
        name = f"pvc-{bound.metadata.uid}"
        assert bound.status.phase == "Bound" and bound.spec.volume_name == name
        made = volume(store, name)
        assert str(made.spec.capacity["storage"]) == "3Gi"
        assert made.spec.access_modes == ["ReadWriteMany"]
        assert made.spec.persistent_volume_reclaim_policy == "Retain"
        assert made.spec.storage_class_name == "standard"
        assert made.metadata.annotations[core.ANN_PROVISIONED_BY] == "example.com/simulated"
        assert made.status.phase == "Bound"
        assert bound.metadata.annotations[core.ANN_STORAGE_PROVISIONER] == "example.com/simulated"


async def test_a_claim_from_a_data_source_is_provisioned_once_the_source_exists(
    clock: VirtualClock,
) -> None:
    """As the external provisioner does (the docs' restore-pvc example names a
    VolumeSnapshot): a snapshot kind nobody serves, or a source claim that
    does not exist, keeps the claim Pending; a clone of an existing claim is
    provisioned."""
    async with running(clock) as store:
        store.create(storage_class("standard"))
        snapshot = {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "s"}
        store.create(pvc("restored", storageClassName="standard", dataSource=snapshot))
        clone = {"kind": "PersistentVolumeClaim", "name": "origin"}
        store.create(pvc("copy", storageClassName="standard", dataSourceRef=clone))
        await clock.sleep(30)
        assert claim(store, "restored").status.phase == "Pending"
        assert claim(store, "copy").status.phase == "Pending"
        assert store.list(core.PersistentVolume).items == []
        store.create(pvc("origin", storageClassName="standard"))
        await clock.sleep(30)
        assert claim(store, "copy").status.phase == "Bound"
        assert claim(store, "restored").status.phase == "Pending"


async def test_a_claim_of_a_missing_class_waits_for_the_class(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(pvc("data", storageClassName="later"))
        await clock.sleep(2)
        assert claim(store, "data").status.phase == "Pending"
        store.create(storage_class("later"))  # reclaimPolicy defaults to Delete
        await clock.sleep(2)
        bound = claim(store, "data")
        assert bound.status.phase == "Bound"
        made = volume(store, bound.spec.volume_name or "")
        assert made.spec.persistent_volume_reclaim_policy == "Delete"
        store.delete(core.PersistentVolumeClaim, "data", "default")
        await clock.sleep(2)
        assert store.list(core.PersistentVolume).items == []


async def test_wait_for_first_consumer_provisions_on_the_selected_node(
    clock: VirtualClock,
) -> None:
    async with running(clock) as store:
        store.create(storage_class("local", volumeBindingMode="WaitForFirstConsumer"))
        store.create(pvc("data", storageClassName="local"))
        await clock.sleep(5)
        assert claim(store, "data").status.phase == "Pending"
        assert store.list(core.PersistentVolume).items == []
        select_node(store, "data", "node-1")
        await clock.sleep(2)
        bound = claim(store, "data")
        assert bound.status.phase == "Bound"
        made = volume(store, bound.spec.volume_name or "")
        assert made.spec.node_affinity is not None and made.spec.node_affinity.required is not None
        [term] = made.spec.node_affinity.required.node_selector_terms
        [requirement] = term.match_expressions
        assert (requirement.key, requirement.values) == ("kubernetes.io/hostname", ["node-1"])


async def test_wait_for_first_consumer_binds_a_static_volume_reachable_from_the_node(
    clock: VirtualClock,
) -> None:
    def local_pv(name: str, node: str) -> core.PersistentVolume:
        term = {
            "matchExpressions": [
                {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}
            ]
        }
        return pv(
            name, storageClassName="local", nodeAffinity={"required": {"nodeSelectorTerms": [term]}}
        )

    async with running(clock) as store:
        for n in ("node-0", "node-1"):
            store.create(core.Node(metadata={"name": n, "labels": {"kubernetes.io/hostname": n}}))
        store.create(storage_class("local", volumeBindingMode="WaitForFirstConsumer"))
        store.create(local_pv("on-0", "node-0"))
        store.create(local_pv("on-1", "node-1"))
        store.create(pvc("data", storageClassName="local", volumeName=None))
        await clock.sleep(2)
        assert claim(store, "data").status.phase == "Pending"  # not bound before a consumer
        select_node(store, "data", "node-1")
        await clock.sleep(2)
        assert claim(store, "data").spec.volume_name == "on-1"


def _events(store: Store, claim_name: str) -> list[tuple[str, str, str]]:
    return [
        (e.type or "", e.reason or "", e.message or "")
        for e in store.list(core.Event, "default").items
        if e.involved_object.name == claim_name
    ]


async def test_claims_get_the_persistentvolume_controllers_events(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(pvc("plain", storageClassName=""))
        store.create(pvc("typo", storageClassName="fsat"))
        store.create(storage_class("late", volumeBindingMode="WaitForFirstConsumer"))
        store.create(pvc("later", storageClassName="late"))
        store.create(storage_class("fast"))
        store.create(pvc("made", storageClassName="fast"))
        store.create(storage_class("ebs", provisioner="kubernetes.io/aws-ebs"))
        store.create(pvc("intree", storageClassName="ebs"))
        await clock.sleep(2)
        assert _events(store, "plain") == [
            (
                "Normal",
                "FailedBinding",
                "no persistent volumes available for this claim and no storage class is set",
            )
        ]
        assert _events(store, "typo") == [
            ("Warning", "ProvisioningFailed", 'storageclass.storage.k8s.io "fsat" not found')
        ]
        assert _events(store, "later") == [
            (
                "Normal",
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
        ]
        made = claim(store, "made")
        assert _events(store, "made") == [
            (
                "Normal",
                "ExternalProvisioning",
                "waiting for a volume to be created, either by external provisioner "
                '"example.com/simulated" or manually created by system administrator',
            ),
            (
                "Normal",
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {made.spec.volume_name}",
            ),
        ]
        # A CSI driver's volume carries its csi source (NodeVolumeLimits counts it).
        assert volume(store, made.spec.volume_name or "").spec.csi == {
            "driver": "example.com/simulated",
            "volumeHandle": made.spec.volume_name,
        }
        intree = claim(store, "intree")
        assert _events(store, "intree") == [
            (
                "Normal",
                "ProvisioningSucceeded",
                f"Successfully provisioned volume {intree.spec.volume_name} "
                "using kubernetes.io/aws-ebs",
            )
        ]
        assert volume(store, intree.spec.volume_name or "").spec.csi is None
