"""The `Client` protocol controllers talk to, and its in-process implementation.

`Client` is typed by kind: `await client.get(Pod, "web-0", namespace="default")`
returns a `Pod`. Everything a controller does to the cluster goes through it,
so a remote (HTTP) implementation can stand in later, and fault injection can
wrap it (stale reads, failed writes) without touching controllers.

`LocalClient` calls the store directly. Store calls never suspend, so a
coroutine that only writes would starve every reader; the client yields to the
event loop every `yield_every` writes, which keeps watch buffers short and the
cost per write small.

Argument conventions follow lightkube: the kind first, then the name, the
namespace by keyword (None means "default" for namespaced kinds, and "all
namespaces" for list and watch).

Neighbours: `engine.store` (behind LocalClient), `engine.informer` (lists and
watches through a Client), `engine.controller` (reconcilers receive one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Literal, Protocol, TypeVar, Unpack

from engine.api.base import Resource
from engine.eviction import evict
from engine.options import (
    DeleteArgs,
    DeleteOptions,
    ListArgs,
    ListOptions,
    WatchArgs,
    WatchOptions,
    of,
)
from engine.store import DEFAULT_FIELD_MANAGER, ObjectList, Scale, Store
from engine.watch import WatchStream

__all__ = ["Client", "LocalClient", "PatchType"]

R = TypeVar("R", bound=Resource)
PatchType = Literal["merge", "json", "strategic"]


class Client(Protocol):
    """Typed access to the API. Errors are `engine.errors.ApiError` subclasses."""

    async def get(self, kind: type[R], name: str, *, namespace: str | None = None) -> R: ...

    async def list(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: ListOptions | None = None,
        **args: Unpack[ListArgs],
    ) -> ObjectList[R]:
        """Objects of a kind; `options` or its fields as keywords (`ListOptions`)."""
        ...

    async def create(self, obj: R) -> R: ...

    async def update(self, obj: R) -> R: ...

    async def update_status(self, obj: R) -> R: ...

    async def patch(
        self,
        kind: type[R],
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: Literal["status"] | None = None,
    ) -> R: ...

    async def delete(
        self,
        kind: type[R],
        name: str,
        *,
        namespace: str | None = None,
        options: DeleteOptions | None = None,
        **args: Unpack[DeleteArgs],
    ) -> R | None:
        """Delete an object; `options` or its fields as keywords (`DeleteOptions`)."""
        ...

    async def bind(self, name: str, node_name: str, *, namespace: str | None = None) -> Resource:
        """Assign a pod to a node (pods/binding)."""
        ...

    async def evict(
        self, name: str, *, namespace: str | None = None, grace_period_seconds: int | None = None
    ) -> Resource | None:
        """pods/eviction: delete a pod if its PodDisruptionBudget allows
        (429 TooManyRequests if not; see `engine.eviction`)."""
        ...

    async def get_scale(
        self, kind: type[Resource], name: str, *, namespace: str | None = None
    ) -> Scale: ...

    async def scale(
        self, kind: type[R], name: str, replicas: int, *, namespace: str | None = None
    ) -> R: ...

    async def watch(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: WatchOptions | None = None,
        **args: Unpack[WatchArgs],
    ) -> WatchStream[R]:
        """Start a watch: an async iterator of events and an async context
        manager that stops it (`engine.watch.WatchStream`); `options` or its
        fields as keywords (`WatchOptions`)."""
        ...


class LocalClient:
    """The in-process `Client`: direct calls into a `Store`."""

    def __init__(
        self, store: Store, *, yield_every: int = 64, field_manager: str = DEFAULT_FIELD_MANAGER
    ) -> None:
        self.store = store
        self.field_manager = field_manager  # owner of fields this client's writes change
        self._yield_every = yield_every
        self._writes = 0

    async def _written(self) -> None:
        self._writes += 1
        if self._writes >= self._yield_every:
            self._writes = 0
            await asyncio.sleep(0)

    async def get(self, kind: type[R], name: str, *, namespace: str | None = None) -> R:
        return self.store.get(kind, name, namespace)

    async def list(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: ListOptions | None = None,
        **args: Unpack[ListArgs],
    ) -> ObjectList[R]:
        return self.store.list(kind, namespace, options=of(ListOptions, options, args))

    async def create(self, obj: R) -> R:
        result = self.store.create(obj)
        await self._written()
        return result

    async def update(self, obj: R) -> R:
        result = self.store.update(obj, field_manager=self.field_manager)
        await self._written()
        return result

    async def apply(
        self,
        config: Mapping[str, Any],
        *,
        field_manager: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> Resource:
        """Server-side apply (`Store.apply`), as this client's field manager
        unless another is named."""
        manager = field_manager or self.field_manager
        result = self.store.apply(config, manager, force=force, dry_run=dry_run)
        await self._written()
        return result

    async def update_status(self, obj: R) -> R:
        result = self.store.update_status(obj)
        await self._written()
        return result

    async def patch(
        self,
        kind: type[R],
        name: str,
        patch: Any,
        *,
        namespace: str | None = None,
        patch_type: PatchType = "merge",
        subresource: Literal["status"] | None = None,
    ) -> R:
        result = self.store.patch(
            kind,
            name,
            namespace,
            patch,
            patch_type=patch_type,
            subresource=subresource,
            field_manager=self.field_manager,
        )
        await self._written()
        return result

    async def delete(
        self,
        kind: type[R],
        name: str,
        *,
        namespace: str | None = None,
        options: DeleteOptions | None = None,
        **args: Unpack[DeleteArgs],
    ) -> R | None:
        result = self.store.delete(kind, name, namespace, options=of(DeleteOptions, options, args))
        await self._written()
        return result

    async def bind(self, name: str, node_name: str, *, namespace: str | None = None) -> Resource:
        result = self.store.bind(name, namespace, node_name)
        await self._written()
        return result

    async def evict(
        self, name: str, *, namespace: str | None = None, grace_period_seconds: int | None = None
    ) -> Resource | None:
        result = evict(self.store, name, namespace, grace_period_seconds=grace_period_seconds)
        await self._written()
        return result

    async def get_scale(
        self, kind: type[Resource], name: str, *, namespace: str | None = None
    ) -> Scale:
        return self.store.get_scale(kind, name, namespace)

    async def scale(
        self, kind: type[R], name: str, replicas: int, *, namespace: str | None = None
    ) -> R:
        result = self.store.scale(kind, name, namespace, replicas=replicas)
        await self._written()
        return result

    async def watch(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: WatchOptions | None = None,
        **args: Unpack[WatchArgs],
    ) -> WatchStream[R]:
        return self.store.watch(kind, namespace, options=of(WatchOptions, options, args))
