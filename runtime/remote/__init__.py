"""Reaching a kubeloop (or Kubernetes) API server over HTTP.

`Connection.from_kubeconfig(path)` reads a kubeconfig as `kubeloop serve`
writes one; `RemoteClient(connection)` is `engine.client.Client` over the
Kubernetes REST API, so controllers, informers and the scheduler run
unchanged in a process of their own (`kubeloop serve --role controllers`).

Neighbours: `runtime.apiserver` (the server side), `engine.client` (the
protocol), `runtime.cli_serve` (the roles).
"""

from runtime.remote.client import RemoteClient
from runtime.remote.connection import Connection

__all__ = ["Connection", "RemoteClient"]
