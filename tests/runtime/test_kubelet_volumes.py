"""Kubelet: a pod whose ConfigMap, Secret or claim volume is missing stays
ContainerCreating with FailedMount events, and starts once the object appears."""

from __future__ import annotations

from typing import Any

from engine.api import core
from engine.api.base import Resource
from engine.clock import VirtualClock
from tests.runtime.kubelet_env import Env, pod_manifest, simulated_nodes


def _failed_mounts(env: Env, pod: str) -> list[core.Event]:
    return [
        e
        for e in env.store.list(core.Event, "default").items
        if e.reason == "FailedMount" and e.involved_object.name == pod
    ]


def _waiting_reason(env: Env, pod: str) -> str | None:
    waiting = env.container(pod).state.waiting
    return waiting.reason if waiting is not None else None


async def _stays_creating_then_starts(
    clock: VirtualClock, volume: dict[str, Any], message: str, create: Resource
) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(pod_manifest("p", volumes=[volume]))
        await clock.advance(30)
        pod = env.pod("p")
        assert pod.status.phase == "Pending"
        assert _waiting_reason(env, "p") == "ContainerCreating"
        events = _failed_mounts(env, "p")
        assert [e.message for e in events] == [message]
        assert events[0].type == "Warning" and (events[0].count or 0) > 1  # retried
        env.store.create(create)
        await env.until(lambda: env.pod("p").status.phase == "Running", limit=400)


async def test_missing_configmap_volume_is_failed_mount_until_created(
    clock: VirtualClock,
) -> None:
    await _stays_creating_then_starts(
        clock,
        {"name": "config", "configMap": {"name": "settings"}},
        'MountVolume.SetUp failed for volume "config" : configmap "settings" not found',
        core.ConfigMap(metadata={"name": "settings", "namespace": "default"}, data={"a": "b"}),
    )


async def test_missing_secret_volume_is_failed_mount_until_created(clock: VirtualClock) -> None:
    await _stays_creating_then_starts(
        clock,
        {"name": "creds", "secret": {"secretName": "token"}},
        'MountVolume.SetUp failed for volume "creds" : secret "token" not found',
        core.Secret(metadata={"name": "token", "namespace": "default"}, data={}),
    )


def _data_claim() -> core.PersistentVolumeClaim:
    return core.PersistentVolumeClaim.model_validate(
        {
            "metadata": {"name": "data", "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteOnce"], "volumeName": "pv-1"},
        }
    )


async def _claim_pod_failed_mount(clock: VirtualClock, env: Env) -> str:
    """Make pod `p` with claim `data` as volume `d`; its FailedMount message."""
    env.store.create(
        pod_manifest("p", volumes=[{"name": "d", "persistentVolumeClaim": {"claimName": "data"}}])
    )
    await clock.advance(5)
    assert _waiting_reason(env, "p") == "ContainerCreating"
    [event] = _failed_mounts(env, "p")
    return event.message or ""


async def test_missing_claim_waits_until_bound(clock: VirtualClock) -> None:
    claim = _data_claim()
    async with simulated_nodes(clock) as env:
        message = await _claim_pod_failed_mount(clock, env)
        assert message == (
            "Unable to attach or mount volumes: unmounted volumes=[d], unattached volumes=[d]: "
            "error processing PVC default/data: failed to fetch PVC from API server: "
            'persistentvolumeclaims "data" not found'
        )
        created = env.store.create(claim)
        await clock.advance(130)
        assert env.pod("p").status.phase == "Pending"  # the claim is not Bound yet
        assert any(
            'non-bound phase ("Pending")' in (e.message or "") for e in _failed_mounts(env, "p")
        )
        env.store.update_status(
            created.model_copy(update={"status": core.PersistentVolumeClaimStatus(phase="Bound")})
        )
        await env.until(lambda: env.pod("p").status.phase == "Running", limit=400)


async def test_optional_volumes_do_not_block(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            pod_manifest(
                "p",
                volumes=[
                    {"name": "c", "configMap": {"name": "nope", "optional": True}},
                    {"name": "s", "secret": {"secretName": "nope", "optional": True}},
                ],
            )
        )
        await clock.advance(2)
        assert env.pod("p").status.phase == "Running"
        assert _failed_mounts(env, "p") == []


async def test_missing_item_key_blocks(clock: VirtualClock) -> None:
    async with simulated_nodes(clock) as env:
        env.store.create(
            core.ConfigMap(metadata={"name": "settings", "namespace": "default"}, data={"a": "b"})
        )
        volume = {
            "name": "c",
            "configMap": {"name": "settings", "items": [{"key": "x", "path": "x"}]},
        }
        env.store.create(pod_manifest("p", volumes=[volume]))
        await clock.advance(2)
        assert [e.message for e in _failed_mounts(env, "p")] == [
            'MountVolume.SetUp failed for volume "c" : '
            "configmap references non-existent config key: x"
        ]


async def test_a_claim_being_deleted_does_not_start_a_new_pod(clock: VirtualClock) -> None:
    claim = _data_claim()
    async with simulated_nodes(clock) as env:
        created = env.store.create(claim)  # with the pvc-protection finalizer
        env.store.update_status(
            created.model_copy(update={"status": core.PersistentVolumeClaimStatus(phase="Bound")})
        )
        env.store.delete(core.PersistentVolumeClaim, "data", "default")
        message = await _claim_pod_failed_mount(clock, env)
        assert message == (
            "Unable to attach or mount volumes: unmounted volumes=[d], unattached volumes=[d]: "
            "error processing PVC default/data: can't start pod because PVC default/data "
            "is being deleted"
        )
