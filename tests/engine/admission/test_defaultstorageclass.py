"""DefaultStorageClass admission: claims without a class get the default one."""

from __future__ import annotations

from typing import Any

from engine.api import core
from engine.clock import VirtualClock
from engine.registry import REGISTRY
from engine.store import Store

STORAGE_CLASS = REGISTRY.lookup("storage.k8s.io/v1", "StorageClass").model
DEFAULT = {"storageclass.kubernetes.io/is-default-class": "true"}


def storage_class(name: str, annotations: dict[str, str] | None = None) -> Any:
    return STORAGE_CLASS.model_validate(
        {
            "metadata": {"name": name, "annotations": annotations or {}},
            "provisioner": "example.com/disk",
        }
    )


def claim(name: str, **spec: Any) -> core.PersistentVolumeClaim:
    return core.PersistentVolumeClaim.model_validate(
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
                **spec,
            },
        }
    )


def test_a_claim_without_a_class_gets_the_default(store: Store) -> None:
    assert store.create(claim("none")).spec.storage_class_name is None  # no default yet
    store.create(storage_class("slow"))
    store.create(storage_class("standard", DEFAULT))
    assert store.create(claim("data")).spec.storage_class_name == "standard"
    assert store.create(claim("own", storageClassName="slow")).spec.storage_class_name == "slow"
    assert store.create(claim("no-class", storageClassName="")).spec.storage_class_name == ""


async def test_the_newest_default_wins(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    store.create(storage_class("old", DEFAULT))
    await clock.sleep(1)
    store.create(storage_class("new", DEFAULT))
    assert store.create(claim("data")).spec.storage_class_name == "new"
