"""The Kubernetes HTTP API over a kubeloop store: kubectl, the official clients
and operators (kopf, kubernetes_asyncio) talk to a kubeloop cluster unchanged.

`ApiServer(store, hooks=..., limits=..., address=..., port=..., tls=...)` serves
the store on the running event loop; `start()` returns the `Endpoint` (URL,
bearer token, CA) and its kubeconfig. `runtime.cluster.Cluster(api=True)` and
`cluster.serve()` do this for a whole cluster; `kubeloop serve` from the
command line; `runtime.pytest_plugin` in tests.

Modules, one concept each: `app` (the server, auth, routing), `paths`,
`discovery`, `resources` (CRUD), `objects` (bodies, field validation, dry
runs), `patching`, `watching`, `subresources`, `tables`, `status` (errors as
Status), `encoding` (bodies, limits, JSON), `context` (shared state and
limits), `hooks` (authentication, RBAC, tables, OpenAPI, logs), `tls`,
`kubeconfig`.
"""

from runtime.apiserver.app import ApiServer
from runtime.apiserver.context import Limits
from runtime.apiserver.hooks import Hooks
from runtime.apiserver.kubeconfig import DEFAULT_KUBECONFIG, Endpoint

__all__ = ["DEFAULT_KUBECONFIG", "ApiServer", "Endpoint", "Hooks", "Limits"]
