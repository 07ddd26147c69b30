"""A cluster's HTTP API: the `ApiServer` over the cluster's store, with the
node side's container logs plugged in.

`ServeOptions` says where and how to serve (address, port, TLS, token, and
the `Hooks` for authentication, RBAC, tables and OpenAPI); `api_server(cluster,
options)` builds the server. `Cluster(api=True)` serves with the defaults
when it starts; `cluster.serve(options)` serves a running cluster. Either way
leaving the cluster stops the server first, before anything it serves.

Neighbours: `runtime.cluster.cluster`, `runtime.apiserver`.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine import openapi, openapi_proto, printers, rbac
from engine.api.core import Pod
from engine.errors import BadRequest
from engine.satokens import ServiceAccountTokens
from engine.store import Store, WriteRecord
from runtime.apiserver import ApiServer, Hooks, Limits
from runtime.apiserver.hooks import AccessAttributes
from runtime.runtimes.protocol import ContainerRuntimeError

if TYPE_CHECKING:
    from runtime.cluster.cluster import Cluster

__all__ = ["OpenAPIDocuments", "ServeOptions", "StoreAuthorizer", "api_server"]

_RBAC_KINDS = frozenset({"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"})


class StoreAuthorizer:
    """`engine.rbac.Authorizer` kept current by the store's writes (an observer:
    a Role or binding written is in force for the next request)."""

    def __init__(self, store: Store) -> None:
        self._rbac = rbac.Authorizer.of(
            obj
            for kind in _RBAC_KINDS
            for obj in store.list(store.registry.lookup(rbac.RBAC_API_VERSION, kind).model).items
        )
        store.observers.append(self._on_write)

    def _on_write(self, write: WriteRecord) -> None:
        if write.kind in _RBAC_KINDS and write.object.api_version == rbac.RBAC_API_VERSION:
            if write.removed:
                self._rbac.index.remove(write.object)
            else:
                self._rbac.index.upsert(write.object)

    def authorize(self, user: Any, attrs: Any) -> rbac.Decision:
        return self._rbac.authorize(user, attrs)

    def forbidden_message(self, user: Any, attrs: Any) -> str:
        return rbac.forbidden_message(user, attrs, self._rbac.authorize(user, attrs).reason)


class OpenAPIDocuments:
    """`engine.openapi`'s documents, the v2 protobuf encoding cached per set of
    CRDs (it takes about half a second to encode)."""

    def __init__(self) -> None:
        self._protobuf: tuple[str, bytes] | None = None

    def openapi_v2(self, crds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return openapi.openapi_v2(crds)

    def openapi_v2_protobuf(self, doc: dict[str, Any]) -> bytes:
        key = hashlib.sha256(openapi.json_bytes(doc)).hexdigest()
        if self._protobuf is None or self._protobuf[0] != key:
            self._protobuf = (key, openapi_proto.openapi_v2_protobuf(doc))
        return self._protobuf[1]

    def openapi_v3_index(self, crds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        return openapi.openapi_v3_index(crds)

    def openapi_v3(
        self, group_version: str, crds: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any] | None:
        return openapi.openapi_v3(group_version, crds)


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Where and how a cluster serves its API (127.0.0.1, a free port, TLS)."""

    address: str = "127.0.0.1"
    port: int = 0
    tls: bool = True
    token: str | None = None
    hooks: Hooks = field(default_factory=Hooks)
    limits: Limits = field(default_factory=Limits)


def api_server(cluster: Cluster, options: ServeOptions) -> ApiServer:
    store = cluster.store
    if store is None:
        raise RuntimeError("the cluster is not running: use `async with Cluster(...)`")

    async def logs(
        pod: Pod, container: str, *, tail: int | None, follow: bool, previous: bool
    ) -> AsyncIterator[str]:
        try:
            runtime = cluster.kubelet(pod.spec.node_name or "").runtime
            lines = runtime.logs(
                pod.metadata.uid, container, tail=tail, follow=follow, previous=previous
            )
            async for line in lines:
                yield line
        except (ContainerRuntimeError, KeyError) as error:
            raise BadRequest(
                f'container "{container}" in pod "{pod.metadata.name}" has no log: {error}'
            ) from None

    # Where a cluster's server gets its hooks: the node side's logs, the
    # engine's tables, OpenAPI documents, ServiceAccount tokens and RBAC, and
    # the durable state's flush. A hook given in `options` wins.
    hooks = options.hooks
    service_account = store.registry.lookup("v1", "ServiceAccount").model
    secret = store.registry.lookup("v1", "Secret").model
    node = store.registry.lookup("v1", "Node").model
    tokens = cluster.service_account_tokens or ServiceAccountTokens(
        clock=cluster.clock,
        service_accounts=lambda namespace, name: store.try_get(service_account, name, namespace),
        pods=lambda namespace, name: store.try_get(Pod, name, namespace),
        secrets=lambda namespace, name: store.try_get(secret, name, namespace),
        nodes=lambda _, name: store.try_get(node, name),
    )
    cluster.service_account_tokens = tokens
    defaults: dict[str, Any] = {
        "logs": logs,
        "table": printers.table,
        "openapi": OpenAPIDocuments(),
        "authenticate": tokens.authenticate,
        "tokens": tokens,
        "authorizer": StoreAuthorizer(store),
        "flush": cluster.journal.flush if cluster.journal is not None else None,
    }
    hooks = dataclasses.replace(
        hooks,
        **{name: value for name, value in defaults.items() if getattr(hooks, name) is None},
    )
    if hooks.attributes is AccessAttributes:
        hooks = dataclasses.replace(hooks, attributes=rbac.Attributes)
    return ApiServer(
        store,
        hooks=hooks,
        limits=options.limits,
        address=options.address,
        port=options.port,
        tls=options.tls,
        token=options.token,
    )
