"""From a pod's container spec to the runtime's `ContainerConfig`.

Role: what the kubelet resolves before a container can be created: the
environment (literal values with `$(VAR)` expansion, `fieldRef`,
`resourceFieldRef`, `configMapKeyRef`, `secretKeyRef`, `envFrom`, and under
them the Service variables of `runtime.kubelet.serviceenv`), ports,
probes (named ports resolved), requests and limits.

Contract: `container_config(...)` returns a `ContainerConfig`, or a
`ConfigError` when the image reference does not parse (InvalidImageName,
`runtime.kubelet.imageref`) or a referenced ConfigMap, Secret or key is
missing and not optional (CreateContainerConfigError); the kubelet then
reports the container waiting with that reason and the message, and retries
on its next sync, as Kubernetes does. `$(VAR)` expands variables defined earlier in the list
(and `$$` escapes a dollar); unknown references stay as written.

Neighbours: `runtime.kubelet.kubelet` (the caller), `runtime.kubelet.probes`
(probe actions), `engine.client` (reads ConfigMaps and Secrets).
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass

from engine.api import core
from engine.client import Client
from engine.errors import ApiError, NotFound
from engine.quantity import Quantity
from runtime.kubelet.imageref import image_reference_error
from runtime.kubelet.probes import probe_action
from runtime.kubelet.serviceenv import MASTER_SERVICE, service_environment
from runtime.runtimes.protocol import ContainerConfig, PortMapping, ProbeAction, ProbeType

__all__ = ["ConfigError", "container_config", "expand"]


@dataclass(frozen=True, slots=True)
class ConfigError:
    reason: str
    message: str


class _Missing(Exception):
    pass


_VAR = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.\-]*)\)")


def expand(text: str, env: dict[str, str]) -> str:
    """Kubernetes' `$(VAR)` expansion against variables defined so far."""

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group(1)
        return env.get(name, match.group(0))

    return _VAR.sub(replace, text) if "$" in text else text


def _field_ref(pod: core.Pod, path: str, pod_ip: str, host_ip: str) -> str:
    meta = pod.metadata
    match = re.fullmatch(r"metadata\.(labels|annotations)\['(.+)'\]", path)
    if match is not None:
        source = meta.labels if match.group(1) == "labels" else meta.annotations
        return source.get(match.group(2), "")
    values = {
        "metadata.name": meta.name,
        "metadata.namespace": meta.namespace,
        "metadata.uid": meta.uid,
        "spec.nodeName": pod.spec.node_name or "",
        "spec.serviceAccountName": pod.spec.service_account_name or "",
        "status.podIP": pod_ip,
        "status.podIPs": pod_ip,
        "status.hostIP": host_ip,
        "status.hostIPs": host_ip,
    }
    return values.get(path, "")


def _resource_ref(
    ref: core.ResourceFieldSelector,
    container: core.Container,
    pod: core.Pod,
    allocatable: dict[str, Quantity],
) -> str:
    target = container
    if ref.container_name:
        target = next(
            (c for c in pod.spec.all_containers() if c.name == ref.container_name), container
        )
    kind, _, resource = ref.resource.partition(".")
    source = target.resources.limits if kind == "limits" else target.resources.requests
    quantity = source.get(resource)
    if quantity is None and kind == "limits":
        quantity = allocatable.get(resource)
    if quantity is None:
        return "0"
    divisor = ref.divisor or Quantity("1")
    if divisor.is_zero():
        divisor = Quantity("1")
    return str(math.ceil(quantity.as_fraction() / divisor.as_fraction()))


async def _lookup(
    client: Client, kind: type[core.ConfigMap] | type[core.Secret], name: str, namespace: str
) -> core.ConfigMap | core.Secret | None:
    try:
        return await client.get(kind, name, namespace=namespace)
    except NotFound:
        return None


def _value_of(obj: core.ConfigMap | core.Secret, key: str) -> str | None:
    if isinstance(obj, core.Secret):
        if key not in obj.data and key not in obj.string_data:
            return None
        return obj.decoded(key).decode(errors="replace")
    return obj.data.get(key)


async def _env(
    client: Client,
    pod: core.Pod,
    container: core.Container,
    pod_ip: str,
    host_ip: str,
    allocatable: dict[str, Quantity],
) -> dict[str, str]:
    namespace = pod.metadata.namespace
    try:
        services = await _services(client, namespace, pod.spec.enable_service_links is not False)
    except ApiError as error:  # as the kubelet: the container waits and is retried
        raise _Missing(f"failed to read the Services for environment variables: {error}") from None
    links = service_environment(services, namespace, pod.spec.enable_service_links is not False)
    env: dict[str, str] = {}
    for source in container.env_from:
        ref = source.config_map_ref or source.secret_ref
        if ref is None or not ref.name:
            continue
        kind: type[core.ConfigMap] | type[core.Secret] = (
            core.ConfigMap if source.config_map_ref is not None else core.Secret
        )
        obj = await _lookup(client, kind, ref.name, namespace)
        if obj is None:
            if ref.optional:
                continue
            raise _Missing(f'{kind.kind_name.lower()} "{ref.name}" not found')
        keys = list(obj.data) + (list(obj.string_data) if isinstance(obj, core.Secret) else [])
        for key in keys:
            value = _value_of(obj, key)
            if value is not None:
                env[(source.prefix or "") + key] = value
    for var in container.env:
        value_from = var.value_from
        if value_from is None:
            env[var.name] = expand(var.value or "", {**links, **env} if links else env)
        elif value_from.field_ref is not None:
            env[var.name] = _field_ref(pod, value_from.field_ref.field_path, pod_ip, host_ip)
        elif value_from.resource_field_ref is not None:
            env[var.name] = _resource_ref(
                value_from.resource_field_ref, container, pod, allocatable
            )
        else:
            key_ref = value_from.config_map_key_ref or value_from.secret_key_ref
            if key_ref is None or not key_ref.name:
                continue
            key_kind: type[core.ConfigMap] | type[core.Secret] = (
                core.ConfigMap if value_from.config_map_key_ref is not None else core.Secret
            )
            obj = await _lookup(client, key_kind, key_ref.name, namespace)
            found = _value_of(obj, key_ref.key) if obj is not None else None
            if found is None:
                if key_ref.optional:
                    continue
                what = key_kind.kind_name.lower()
                if obj is None:
                    raise _Missing(f'{what} "{key_ref.name}" not found')
                raise _Missing(
                    f"couldn't find key {key_ref.key} in {what} {namespace}/{key_ref.name}"
                )
            env[var.name] = found
    return {**links, **env} if links else env


async def _services(client: Client, namespace: str, links: bool) -> list[core.Service]:
    """The Services whose variables a pod of `namespace` may get."""
    found = list((await client.list(core.Service, namespace=namespace)).items) if links else []
    if namespace != MASTER_SERVICE[0] or not links:
        with contextlib.suppress(NotFound):
            found.append(await client.get(core.Service, MASTER_SERVICE[1], namespace="default"))
    return found


def _millis(resources: dict[str, Quantity], name: str) -> int | None:
    quantity = resources.get(name)
    if quantity is None:
        return None
    return quantity.milli_value() if name == "cpu" else quantity.value()


async def container_config(
    client: Client,
    pod: core.Pod,
    container: core.Container,
    *,
    init: bool,
    attempt: int,
    pod_ip: str,
    host_ip: str,
    allocatable: dict[str, Quantity],
) -> ContainerConfig | ConfigError:
    """The runtime's view of `container` (see the module docstring)."""
    invalid_image = image_reference_error(container.image or "")
    if invalid_image is not None:
        return ConfigError("InvalidImageName", invalid_image)
    try:
        env = await _env(client, pod, container, pod_ip, host_ip, allocatable)
    except _Missing as missing:
        return ConfigError("CreateContainerConfigError", str(missing))
    probes: dict[ProbeType, ProbeAction] = {}
    for probe_type, probe in (
        ("startup", container.startup_probe),
        ("liveness", container.liveness_probe),
        ("readiness", container.readiness_probe),
    ):
        if probe is not None:
            action = probe_action(probe, container)
            if isinstance(action, ProbeAction):
                probes[probe_type] = action  # type: ignore[index]
    requests = container.resources.requests
    limits = container.resources.limits
    return ContainerConfig(
        name=container.name,
        image=container.image or "",
        command=tuple(expand(part, env) for part in container.command),
        args=tuple(expand(part, env) for part in container.args),
        env=env,
        working_dir=container.working_dir,
        ports=tuple(
            PortMapping(p.container_port, p.name, p.protocol, p.host_port) for p in container.ports
        ),
        probes=probes,
        init=init and not container.is_sidecar,
        attempt=attempt,
        cpu_millis=_millis(requests, "cpu") or 0,
        memory_bytes=_millis(requests, "memory") or 0,
        cpu_limit_millis=_millis(limits, "cpu"),
        memory_limit_bytes=_millis(limits, "memory"),
        termination_message_path=container.termination_message_path,
    )
