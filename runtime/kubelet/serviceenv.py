"""The Service environment variables the kubelet gives every container.

As the kubelet (pkg/kubelet/envvars, getServiceEnvVarMap): for each Service
with a ClusterIP (not headless, not ExternalName) of the pod's namespace
when the pod's `enableServiceLinks` is true (the default), and always for
the `kubernetes` Service of `default` (a Service of the pod's own namespace
of the same name wins), with NAME the Service's name upper-cased and `-` as
`_`:

* `NAME_SERVICE_HOST` = the ClusterIP; `NAME_SERVICE_PORT` = the first
  port; `NAME_SERVICE_PORT_<PORTNAME>` for every named port;
* the Docker-link variables: `NAME_PORT` = `<proto>://<ip>:<first port>`,
  and for every port `NAME_PORT_<port>_<PROTO>` = `<proto>://<ip>:<port>`,
  with `_PROTO`, `_PORT` and `_ADDR` suffixed variants.

They are the base of the container's environment: its own `env` and
`envFrom` override them, and `$(VAR)` references may use them.

Neighbours: `runtime.kubelet.containerconfig` (merges them), `engine.api.core`.
"""

from __future__ import annotations

from collections.abc import Iterable

from engine.api.core import Service

__all__ = ["MASTER_SERVICE", "service_environment", "service_variables"]

MASTER_SERVICE = ("default", "kubernetes")


def _env_name(name: str) -> str:
    return name.upper().replace("-", "_")


def _has_ip(service: Service) -> bool:
    return service.spec.cluster_ip not in (None, "", "None")


def service_variables(service: Service) -> dict[str, str]:
    """The variables one Service contributes (module docstring)."""
    if not _has_ip(service):
        return {}
    prefix = _env_name(service.metadata.name)
    ip = service.spec.cluster_ip or ""
    variables = {f"{prefix}_SERVICE_HOST": ip}
    ports = service.spec.ports
    if not ports:
        return variables
    variables[f"{prefix}_SERVICE_PORT"] = str(ports[0].port)
    for port in ports:
        if port.name:
            variables[f"{prefix}_SERVICE_PORT_{_env_name(port.name)}"] = str(port.port)
    host = f"[{ip}]" if ":" in ip else ip
    for index, port in enumerate(ports):
        protocol = port.protocol or "TCP"
        url = f"{protocol.lower()}://{host}:{port.port}"
        if index == 0:
            variables[f"{prefix}_PORT"] = url
        port_prefix = f"{prefix}_PORT_{port.port}_{protocol.upper()}"
        variables[port_prefix] = url
        variables[f"{port_prefix}_PROTO"] = protocol.lower()
        variables[f"{port_prefix}_PORT"] = str(port.port)
        variables[f"{port_prefix}_ADDR"] = ip
    return variables


def service_environment(
    services: Iterable[Service], namespace: str, enable_service_links: bool
) -> dict[str, str]:
    """The Service variables of a pod in `namespace` (module docstring)."""
    chosen: dict[str, Service] = {}
    for service in services:
        if not _has_ip(service):
            continue
        key = (service.metadata.namespace, service.metadata.name)
        if key == MASTER_SERVICE:
            chosen.setdefault(service.metadata.name, service)
        elif service.metadata.namespace == namespace and enable_service_links:
            chosen[service.metadata.name] = service
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(service_variables(chosen[name]))
    return env
