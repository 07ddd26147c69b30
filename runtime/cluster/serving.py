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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from engine.api.core import Pod
from engine.errors import BadRequest
from runtime.apiserver import ApiServer, Hooks, Limits
from runtime.runtimes.protocol import ContainerRuntimeError

if TYPE_CHECKING:
    from runtime.cluster.cluster import Cluster

__all__ = ["ServeOptions", "api_server"]


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

    # Where a cluster's server gets its hooks. The node side's logs are
    # plugged in here; the modules that print tables (engine.printers.table),
    # make OpenAPI documents (engine.openapi), check ServiceAccount tokens
    # (engine.satokens.authenticate) and authorize with RBAC (engine.rbac's
    # Authorizer, with attributes=engine.rbac.Attributes) belong here too.
    hooks = options.hooks
    if hooks.logs is None:
        hooks = dataclasses.replace(hooks, logs=logs)
    return ApiServer(
        store,
        hooks=hooks,
        limits=options.limits,
        address=options.address,
        port=options.port,
        tls=options.tls,
        token=options.token,
    )
