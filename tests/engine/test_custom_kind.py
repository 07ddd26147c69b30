"""A custom kind with its own reconciler: stored, watched and reconciled like a
built-in kind (the whole definition below is under 40 lines)."""

from __future__ import annotations

from pydantic import Field

from engine.api.base import KubeModel, Resource
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.controller import Controller, Request, Result
from engine.manager import Manager
from engine.registry import kind
from engine.store import Store
from engine.watch import ADDED, MODIFIED


class EchoSpec(KubeModel):
    message: str = ""


class EchoStatus(KubeModel):
    echoed: str = ""
    times: int = 0


@kind("demo.kubeloop.dev/v1", "Echo")
class Echo(Resource):
    spec: EchoSpec = Field(default_factory=EchoSpec)
    status: EchoStatus = Field(default_factory=EchoStatus)


class EchoReconciler:
    """Copies spec.message into status.echoed, counting how often it changed."""

    def __init__(self, client: LocalClient) -> None:
        self.client = client

    async def reconcile(self, request: Request) -> Result:
        echo = await self.client.get(Echo, request.name, namespace=request.namespace)
        if echo.status.echoed != echo.spec.message:
            status = EchoStatus(echoed=echo.spec.message, times=echo.status.times + 1)
            await self.client.update_status(echo.model_copy(update={"status": status}))
        return Result()


async def test_custom_kind_is_stored_watched_and_reconciled(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    watcher = store.watch(Echo, "default")
    manager = Manager(client, clock=clock)
    controller = Controller("echo", EchoReconciler(client), clock=clock)
    controller.for_kind(manager.factory.informer(Echo))
    manager.add(controller)
    async with manager:
        await client.create(Echo(metadata={"name": "hello"}, spec=EchoSpec(message="hi")))
        await clock.sleep(1)
        first = await client.get(Echo, "hello")
        assert first.status == EchoStatus(echoed="hi", times=1)
        await client.update(first.model_copy(update={"spec": EchoSpec(message="bye")}))
        await clock.sleep(1)
    final = store.get(Echo, "hello")
    assert final.status == EchoStatus(echoed="bye", times=2)
    assert final.metadata.generation == 2
    events = [(e.type, e.object.status.echoed) for e in watcher.drain() if e.object]
    assert events[0] == (ADDED, "")
    assert (MODIFIED, "bye") in events
    assert store.list(Echo).items == [final]
