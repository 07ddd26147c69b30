"""Storage-object-in-use protection: claims and volumes get their finalizers on
create; a claim being deleted stays while a scheduled, unfinished pod uses it;
a volume being deleted stays while Bound. On the virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from controllers import storageprotection
from controllers.storageprotection import claim_in_use
from engine.api import core
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.errors import NotFound
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store

PVC_FINALIZER = "kubernetes.io/pvc-protection"
PV_FINALIZER = "kubernetes.io/pv-protection"


@asynccontextmanager
async def running(clock: VirtualClock) -> AsyncIterator[Store]:
    store = Store(clock=clock)
    manager = Manager(LocalClient(store), clock=clock)
    storageprotection.setup_pvc_protection(manager)
    storageprotection.setup_pv_protection(manager)
    async with manager:
        yield store


def _claim(name: str = "data") -> core.PersistentVolumeClaim:
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1"}}},
        }
    )
    assert isinstance(obj, core.PersistentVolumeClaim)
    return obj


def _pod(name: str, volumes: list[dict[str, Any]], node: str | None = "n1", **meta: Any) -> Any:
    spec: dict[str, Any] = {"containers": [{"name": "c", "image": "busybox"}], "volumes": volumes}
    if node:
        spec["nodeName"] = node
    return parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", **meta},
            "spec": spec,
        }
    )


def _uses(claim: str) -> list[dict[str, Any]]:
    return [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]


def _exists(store: Store, kind: Any, name: str, namespace: str = "") -> bool:
    try:
        store.get(kind, name, namespace)
    except NotFound:
        return False
    return True


def _set_phase(store: Store, name: str, phase: str) -> None:
    pod = store.get(core.Pod, name, "default")
    store.update_status(pod.model_copy(update={"status": core.PodStatus(phase=phase)}))


async def test_claims_and_volumes_get_their_finalizers_on_create(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    assert store.create(_claim()).metadata.finalizers == [PVC_FINALIZER]
    volume = parse_object(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": "v"},
            "spec": {"capacity": {"storage": "1"}, "accessModes": ["ReadWriteOnce"]},
        }
    )
    assert store.create(volume).metadata.finalizers == [PV_FINALIZER]


async def test_a_claim_in_use_stays_until_its_pod_finishes(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(_claim())
        store.create(_pod("user", _uses("data")))
        store.create(_pod("pending", _uses("data"), node=None))  # unscheduled: holds nothing
        store.delete(core.PersistentVolumeClaim, "data", "default")
        await clock.sleep(5)
        held = store.get(core.PersistentVolumeClaim, "data", "default")
        assert held.metadata.deletion_timestamp is not None
        assert held.metadata.finalizers == [PVC_FINALIZER]
        _set_phase(store, "user", "Succeeded")
        await clock.sleep(1)
        assert not _exists(store, core.PersistentVolumeClaim, "data", "default")


async def test_a_claim_is_freed_when_its_last_user_is_deleted(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(_claim())
        store.create(_pod("a", _uses("data")))
        store.create(_pod("b", _uses("data")))
        store.delete(core.PersistentVolumeClaim, "data", "default")
        store.delete(core.Pod, "a", "default", grace_period_seconds=0)
        await clock.sleep(1)
        assert _exists(store, core.PersistentVolumeClaim, "data", "default")  # b still uses it
        store.delete(core.Pod, "b", "default", grace_period_seconds=0)
        await clock.sleep(1)
        assert not _exists(store, core.PersistentVolumeClaim, "data", "default")


async def test_a_removed_finalizer_is_put_back_while_not_deleting(clock: VirtualClock) -> None:
    async with running(clock) as store:
        claim = store.create(_claim())
        bare = claim.model_copy(
            update={"metadata": claim.metadata.model_copy(update={"finalizers": []})}
        )
        store.update(bare)
        await clock.sleep(1)
        current = store.get(core.PersistentVolumeClaim, "data", "default")
        assert current.metadata.finalizers == [PVC_FINALIZER]


async def test_a_volume_is_deleted_only_once_unbound(clock: VirtualClock) -> None:
    async with running(clock) as store:
        volume = store.create(
            parse_object(
                {
                    "apiVersion": "v1",
                    "kind": "PersistentVolume",
                    "metadata": {"name": "v"},
                    "spec": {"capacity": {"storage": "1"}, "accessModes": ["ReadWriteOnce"]},
                }
            )
        )
        store.update_status(
            volume.model_copy(update={"status": core.PersistentVolumeStatus(phase="Bound")})
        )
        store.delete(core.PersistentVolume, "v")
        await clock.sleep(2)
        held = store.get(core.PersistentVolume, "v")
        assert held.metadata.finalizers == [PV_FINALIZER]
        store.update_status(
            held.model_copy(update={"status": core.PersistentVolumeStatus(phase="Released")})
        )
        await clock.sleep(1)
        assert not _exists(store, core.PersistentVolume, "v")


def _owned_claim(name: str, owner_uid: str | None) -> core.PersistentVolumeClaim:
    claim = _claim(name).model_dump(by_alias=True, exclude_none=True)
    if owner_uid is not None:
        owner = {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": owner_uid}
        claim["metadata"]["ownerReferences"] = [{**owner, "controller": True}]
    obj = parse_object(claim)
    assert isinstance(obj, core.PersistentVolumeClaim)
    return obj


def test_which_pods_hold_a_claim() -> None:
    ephemeral = [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]
    owner = _pod("p", ephemeral, uid="pod-uid")
    assert claim_in_use(owner, _owned_claim("p-scratch", "pod-uid"))
    claim = _owned_claim("p-scratch", None)
    assert not claim_in_use(owner, claim)  # same name, not made for this pod
    direct = _pod("q", _uses("p-scratch"))
    assert claim_in_use(direct, claim)
    failed = direct.model_copy(update={"status": core.PodStatus(phase="Failed")})
    assert not claim_in_use(failed, claim)
    assert not claim_in_use(_pod("r", _uses("p-scratch"), node=None), claim)
