"""`python -m examples.demo`: apply the demo app, change its config, show what happened."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

from rich.console import Console
from rich.table import Table

from engine.api.apps import Deployment
from engine.api.core import ConfigMap, PodSpec
from engine.client import Client, LocalClient
from engine.clock import VirtualClock
from engine.controller import Controller, Request, Result
from engine.informer import SharedInformer
from engine.manager import Manager
from engine.manifests import load_manifest_files
from engine.store import Store, WriteRecord

CHECKSUM = "kubeloop.dev/config-checksum"
HERE = Path(__file__).parent


def referenced_configmaps(spec: PodSpec) -> list[str]:
    """Names of the ConfigMaps a pod spec reads, sorted."""
    names: set[str] = set()
    for container in [*spec.init_containers, *spec.containers]:
        for source in container.env_from:
            if source.config_map_ref is not None and source.config_map_ref.name:
                names.add(source.config_map_ref.name)
        for var in container.env:
            ref = var.value_from.config_map_key_ref if var.value_from else None
            if ref is not None and ref.name:
                names.add(ref.name)
    for volume in spec.volumes:
        if volume.config_map is not None and volume.config_map.name:
            names.add(volume.config_map.name)
    return sorted(names)


class ConfigReloader:
    """Keeps each Deployment's template annotated with the checksum of its config."""

    def __init__(self, client: Client, configmaps: SharedInformer[ConfigMap]) -> None:
        self.client = client
        self.configmaps = configmaps

    async def reconcile(self, request: Request) -> Result:
        deployment = await self.client.get(Deployment, request.name, namespace=request.namespace)
        digest = hashlib.sha256()
        for name in referenced_configmaps(deployment.spec.template.spec):
            cm = self.configmaps.cache.get(name, request.namespace)
            digest.update(name.encode())
            for key, value in sorted((cm.data if cm else {}).items()):
                digest.update(f"{key}={value}".encode())
        checksum = digest.hexdigest()[:16]
        template = deployment.spec.template
        if template.metadata.annotations.get(CHECKSUM) == checksum:
            return Result()
        meta = template.metadata.model_copy(
            update={"annotations": {**template.metadata.annotations, CHECKSUM: checksum}}
        )
        spec = deployment.spec.model_copy(
            update={"template": template.model_copy(update={"metadata": meta})}
        )
        await self.client.update(deployment.model_copy(update={"spec": spec}))
        return Result()


def users_of(configmap: ConfigMap, deployments: SharedInformer[Deployment]) -> list[Request]:
    """The Deployments in the ConfigMap's namespace that read it."""
    namespace = configmap.metadata.namespace
    return [
        Request(Deployment, namespace, d.metadata.name)
        for d in deployments.cache.list(namespace)
        if configmap.metadata.name in referenced_configmaps(d.spec.template.spec)
    ]


async def main() -> None:
    console = Console(width=120)
    clock = VirtualClock()
    with clock.installed():
        store = Store(clock=clock)
        writes: list[tuple[float, WriteRecord]] = []
        store.observers.append(lambda record: writes.append((clock.monotonic(), record)))
        client = LocalClient(store)
        manager = Manager(client, clock=clock)
        deployments = manager.factory.informer(Deployment)
        configmaps = manager.factory.informer(ConfigMap)
        controller = Controller("config-reloader", ConfigReloader(client, configmaps), clock=clock)
        controller.for_kind(deployments)
        controller.watches(configmaps, lambda cm: users_of(cm, deployments))
        manager.add(controller)
        async with manager:
            for obj in load_manifest_files(sorted(HERE.glob("*.yaml"))):
                await client.create(obj)
            await clock.sleep(1)
            cm = await client.get(ConfigMap, "web-config")
            await client.update(cm.model_copy(update={"data": {"GREETING": "bonjour"}}))
            await clock.sleep(1)
        web = store.get(Deployment, "web")

    table = Table(title="What the store saw")
    for column in ("revision", "virtual time", "verb", "kind", "object", "generation"):
        table.add_column(column)
    for at, w in writes:
        where = f"{w.namespace}/{w.name}" if w.namespace else w.name
        generation = str(w.object.metadata.generation)
        table.add_row(str(w.revision), f"{at:.3f}s", w.verb, w.kind, where, generation)
    console.print(table)
    console.print(
        f"Deployment web: generation {web.metadata.generation}, "
        f"template checksum {web.spec.template.metadata.annotations.get(CHECKSUM)}"
    )


if __name__ == "__main__":
    asyncio.run(main())
