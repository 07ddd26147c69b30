"""`RemoteClient`: the `engine.client.Client` protocol over the Kubernetes REST API.

Each call is the request kubectl or client-go would make: typed objects are
sent as their JSON (`Resource.to_dict`) and read back with the kind's model;
paths come from the registry (group, version, plural, scope), so custom kinds
registered in this process work too. Errors come back as the `engine.errors`
exception of the server's `Status` (`runtime.remote.errors`); a server that
cannot be reached is `ServiceUnavailable`, so informers and controllers retry
as after any API error.

* `watch(since=None)` watches from the server's current revision (read with
  a one-item list), like the store's watch, not from Kubernetes' "any
  revision" with synthetic ADDED events.
* `bind`, `evict` and `scale` answer, like the in-process client, with the
  object the change left (read back after the subresource call).
* Writes carry this client's `fieldManager`, as the in-process client does.

Neighbours: `runtime.remote.watch` (watch streams), `runtime.remote.connection`
(where and who), `engine.client` (the protocol and the in-process client).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Unpack

import aiohttp

from engine.api.base import Resource
from engine.api.core import Pod
from engine.client import PatchType
from engine.errors import Gone, NotFound, ServiceUnavailable
from engine.options import (
    DeleteArgs,
    DeleteOptions,
    FieldSelectorArg,
    LabelSelectorArg,
    ListArgs,
    ListOptions,
    WatchArgs,
    WatchOptions,
    of,
)
from engine.registry import REGISTRY, KindInfo, Registry
from engine.store import DEFAULT_FIELD_MANAGER, ObjectList, Scale
from runtime.remote.connection import Connection
from runtime.remote.errors import error_from_status
from runtime.remote.watch import RemoteWatch

__all__ = ["RemoteClient"]

R = TypeVar("R", bound=Resource)

_PATCH_TYPES: dict[str, str] = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}


class RemoteClient:
    """A `Client` talking HTTP to one API server. Use as an async context
    manager, or call `close()` when done."""

    def __init__(
        self,
        connection: Connection,
        *,
        registry: Registry = REGISTRY,
        field_manager: str = DEFAULT_FIELD_MANAGER,
        timeout: float = 30.0,
    ) -> None:
        self.connection = connection
        self.registry = registry
        self.field_manager = field_manager
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None
        self._expired: dict[str, int] = {}

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # Every informer holds a watch open: no cap on connections, or a
            # controller manager with many kinds would queue its requests.
            self._session = aiohttp.ClientSession(
                headers=self.connection.headers, connector=aiohttp.TCPConnector(limit=0)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> RemoteClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- paths and requests ------------------------------------------------------------

    def _path(
        self, info: KindInfo, namespace: str | None, name: str | None = None, sub: str = ""
    ) -> str:
        root = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
        if info.namespaced and namespace is not None:
            root += f"/namespaces/{namespace}"
        root += f"/{info.plural}"
        if name is not None:
            root += f"/{name}"
        if sub:
            root += f"/{sub}"
        return self.connection.server + root

    def _namespace(self, info: KindInfo, namespace: str | None) -> str | None:
        """A namespaced kind's namespace for one object (None means "default")."""
        if not info.namespaced:
            return None
        return namespace or "default"

    async def _request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        content_type: str = "application/json",
    ) -> Any:
        headers = {"Content-Type": content_type} if body is not None else None
        try:
            async with self.session.request(
                method,
                url,
                params=params,
                json=body if body is not None else None,
                headers=headers,
                ssl=self.connection.ssl,
                timeout=self._timeout,
            ) as response:
                document = await response.json(content_type=None)
                if response.status >= 400:
                    raise error_from_status(response.status, document, url=url)
                return document
        except aiohttp.ClientError as error:
            raise ServiceUnavailable(f"{url}: cannot reach the API server: {error}") from None
        except TimeoutError:
            raise ServiceUnavailable(f"{url}: the API server did not answer in time") from None

    def _object(self, model: type[R], document: Any) -> R:
        return model.model_validate(document)

    def _write_params(self) -> dict[str, str]:
        return {"fieldManager": self.field_manager}

    # -- reads ---------------------------------------------------------------------------

    async def get(self, kind: type[R], name: str, *, namespace: str | None = None) -> R:
        info = self.registry.info(kind)
        document = await self._request(
            "GET", self._path(info, self._namespace(info, namespace), name)
        )
        return self._object(kind, document)

    async def list(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: ListOptions | None = None,
        **args: Unpack[ListArgs],
    ) -> ObjectList[R]:
        opts = of(ListOptions, options, args)
        info = self.registry.info(kind)
        params = _selectors(opts.label_selector, opts.field_selector)
        if opts.limit:
            params["limit"] = str(opts.limit)
        if opts.continue_:
            params["continue"] = opts.continue_
        document = await self._request("GET", self._path(info, namespace), params=params)
        meta = document.get("metadata") or {}
        items = [self._object(kind, item) for item in document.get("items") or []]
        revision = int(meta.get("resourceVersion") or 0)
        return ObjectList(items, revision, meta.get("continue") or None)

    async def get_scale(
        self, kind: type[Resource], name: str, *, namespace: str | None = None
    ) -> Scale:
        info = self.registry.info(kind)
        url = self._path(info, self._namespace(info, namespace), name, "scale")
        document = await self._request("GET", url)
        spec = document.get("spec") or {}
        status = document.get("status") or {}
        return Scale(
            replicas=int(spec.get("replicas") or 0),
            status_replicas=int(status.get("replicas") or 0),
            selector=str(status.get("selector") or ""),
            resource_version=str((document.get("metadata") or {}).get("resourceVersion") or ""),
        )

    async def watch(
        self,
        kind: type[R],
        *,
        namespace: str | None = None,
        options: WatchOptions | None = None,
        **args: Unpack[WatchArgs],
    ) -> RemoteWatch[R]:
        opts = of(WatchOptions, options, args)
        info = self.registry.info(kind)
        key = info.api_version + "/" + info.kind
        since = opts.since
        if since is None:
            since = (await self.list(kind, namespace=namespace, limit=1)).resource_version
        elif since <= self._expired.get(key, -1):
            raise Gone(f"too old resource version: {since} ({info.group_kind})")
        params = _selectors(opts.label_selector, opts.field_selector)
        params["watch"] = "true"
        if opts.bookmarks:
            params["allowWatchBookmarks"] = "true"

        def expired(revision: int) -> None:
            self._expired[key] = max(self._expired.get(key, -1), revision)

        return RemoteWatch(
            self.session,
            self._path(info, namespace),
            params,
            kind,
            since=since,
            ssl=self.connection.ssl,
            on_expired=expired,
        )

    # -- writes --------------------------------------------------------------------------

    async def create(self, obj: R) -> R:
        info = self.registry.info(type(obj))
        url = self._path(info, self._namespace(info, obj.metadata.namespace or None))
        document = await self._request(
            "POST", url, params=self._write_params(), body=_body(info, obj)
        )
        return self._object(type(obj), document)

    async def update(self, obj: R) -> R:
        return await self._put(obj, "")

    async def update_status(self, obj: R) -> R:
        return await self._put(obj, "status")

    async def _put(self, obj: R, sub: str) -> R:
        info = self.registry.info(type(obj))
        namespace = self._namespace(info, obj.metadata.namespace or None)
        url = self._path(info, namespace, obj.metadata.name, sub)
        document = await self._request(
            "PUT", url, params=self._write_params(), body=_body(info, obj)
        )
        return self._object(type(obj), document)

    async def apply(
        self,
        config: Mapping[str, Any],
        *,
        field_manager: str | None = None,
        force: bool = False,
        dry_run: bool = False,
    ) -> Resource:
        """Server-side apply of one manifest (`kubectl apply --server-side`)."""
        info = self.registry.lookup(str(config.get("apiVersion")), str(config.get("kind")))
        meta = config.get("metadata") or {}
        url = self._path(info, self._namespace(info, meta.get("namespace")), meta.get("name"))
        params = {"fieldManager": field_manager or self.field_manager}
        if force:
            params["force"] = "true"
        if dry_run:
            params["dryRun"] = "All"
        document = await self._request(
            "PATCH",
            url,
            params=params,
            body=dict(config),
            content_type="application/apply-patch+yaml",
        )
        return self._object(info.model, document)

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
        info = self.registry.info(kind)
        url = self._path(info, self._namespace(info, namespace), name, subresource or "")
        document = await self._request(
            "PATCH",
            url,
            params=self._write_params(),
            body=patch,
            content_type=_PATCH_TYPES[patch_type],
        )
        return self._object(kind, document)

    async def delete(
        self,
        kind: type[R],
        name: str,
        *,
        namespace: str | None = None,
        options: DeleteOptions | None = None,
        **args: Unpack[DeleteArgs],
    ) -> R | None:
        opts = of(DeleteOptions, options, args)
        info = self.registry.info(kind)
        body: dict[str, Any] = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if opts.propagation_policy is not None:
            body["propagationPolicy"] = opts.propagation_policy
        if opts.grace_period_seconds is not None:
            body["gracePeriodSeconds"] = opts.grace_period_seconds
        preconditions = {
            key: value
            for key, value in (("uid", opts.uid), ("resourceVersion", opts.resource_version))
            if value is not None
        }
        if preconditions:
            body["preconditions"] = preconditions
        url = self._path(info, self._namespace(info, namespace), name)
        document = await self._request("DELETE", url, body=body)
        if isinstance(document, dict) and document.get("kind") == "Status":
            return None
        return self._object(kind, document)

    async def bind(self, name: str, node_name: str, *, namespace: str | None = None) -> Resource:
        info = self.registry.info(Pod)
        namespace = self._namespace(info, namespace)
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        await self._request("POST", self._path(info, namespace, name, "binding"), body=binding)
        return await self.get(Pod, name, namespace=namespace)

    async def evict(
        self, name: str, *, namespace: str | None = None, grace_period_seconds: int | None = None
    ) -> Resource | None:
        info = self.registry.info(Pod)
        namespace = self._namespace(info, namespace)
        eviction: dict[str, Any] = {
            "apiVersion": "policy/v1",
            "kind": "Eviction",
            "metadata": {"name": name, "namespace": namespace},
        }
        if grace_period_seconds is not None:
            eviction["deleteOptions"] = {"gracePeriodSeconds": grace_period_seconds}
        await self._request("POST", self._path(info, namespace, name, "eviction"), body=eviction)
        try:
            return await self.get(Pod, name, namespace=namespace)
        except NotFound:
            return None

    async def scale(
        self, kind: type[R], name: str, replicas: int, *, namespace: str | None = None
    ) -> R:
        info = self.registry.info(kind)
        namespace = self._namespace(info, namespace)
        await self._request(
            "PATCH",
            self._path(info, namespace, name, "scale"),
            body={"spec": {"replicas": replicas}},
            content_type=_PATCH_TYPES["merge"],
        )
        return await self.get(kind, name, namespace=namespace)


def _selectors(
    label_selector: LabelSelectorArg, field_selector: FieldSelectorArg
) -> dict[str, str]:
    params: dict[str, str] = {}
    if label_selector is not None and str(label_selector):
        params["labelSelector"] = str(label_selector)
    if field_selector is not None and str(field_selector):
        params["fieldSelector"] = str(field_selector)
    return params


def _body(info: KindInfo, obj: Resource) -> dict[str, Any]:
    document = obj.to_dict()
    document["apiVersion"] = info.api_version
    document["kind"] = info.kind
    return document
