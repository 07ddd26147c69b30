"""The root CA publisher keeps `kube-root-ca.crt` in every active namespace
(made, put back when changed, made again when deleted); on the virtual clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from controllers import rootcacertpublisher
from engine.api import core
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.store import Store

PEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"


@asynccontextmanager
async def running(clock: VirtualClock) -> AsyncIterator[Store]:
    store = Store(clock=clock)
    manager = Manager(LocalClient(store), clock=clock)
    rootcacertpublisher.setup(manager, root_ca=PEM)
    async with manager:
        yield store


def _published(store: Store, namespace: str) -> core.ConfigMap | None:
    return store.try_get(core.ConfigMap, "kube-root-ca.crt", namespace)


async def test_every_namespace_gets_the_root_ca_config_map(clock: VirtualClock) -> None:
    async with running(clock) as store:
        store.create(core.Namespace(metadata={"name": "team"}))
        await clock.sleep(1)
        for namespace in ("default", "kube-system", "team"):
            published = _published(store, namespace)
            assert published is not None, namespace
            assert published.data == {"ca.crt": PEM}
            assert published.metadata.annotations["kubernetes.io/description"].startswith(
                "Contains a CA bundle"
            )


async def test_a_changed_or_deleted_copy_is_put_back(clock: VirtualClock) -> None:
    async with running(clock) as store:
        await clock.sleep(1)
        current = _published(store, "default")
        assert current is not None
        store.update(current.model_copy(update={"data": {"ca.crt": "tampered"}}))
        await clock.sleep(1)
        restored = _published(store, "default")
        assert restored is not None and restored.data == {"ca.crt": PEM}
        store.delete(core.ConfigMap, "kube-root-ca.crt", "default")
        await clock.sleep(1)
        assert _published(store, "default") is not None
