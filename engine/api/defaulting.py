"""Defaulting that a field default cannot express: Kubernetes' SetDefaults_*
that depend on the kind or on other parts of the object, plus what the
apiserver's admission adds to every pod write (DefaultTolerationSeconds).

Where each default lives:
* static values (restartPolicy Always, replicas 1, ...) are field defaults of
  the models, so every object has them from construction;
* values that depend only on sibling fields of one model (imagePullPolicy from
  the image, targetPort from port, a volume without source becoming emptyDir,
  rollingUpdate blocks, HPA metrics and behavior) are that model's validators;
* the rest is here: `default_object(obj)` returns `obj` itself when nothing is
  missing, or a defaulted copy; it never changes what it is given. It is cheap
  when nothing is missing, since the store calls it on every write.

Not here: a pod's priority from its PriorityClass (needs the store), and what
the store stamps on create (phase Pending, the namespace finalizer).

Neighbours: `engine.strategies` and `engine.manifests` call `default_object`;
`engine.api.validation` checks the result.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any, Final, TypeVar

from engine.api.base import Resource, copied
from engine.api.batch import Job
from engine.api.core import (
    ClientIPConfig,
    Container,
    ContainerPort,
    Namespace,
    Node,
    Pod,
    PodSpec,
    PodStatus,
    ReplicationController,
    ResourceRequirements,
    Secret,
    Service,
    ServiceSpec,
    SessionAffinityConfig,
    Toleration,
    qos_class,
)
from engine.api.disabled_fields import drop_disabled_fields
from engine.quantity import Quantity
from engine.sharing import shared

__all__ = [
    "DEFAULT_TOLERATION_SECONDS",
    "NAMESPACE_NAME_LABEL",
    "default_object",
    "register_defaulter",
]

R = TypeVar("R", bound=Resource)

DEFAULT_TOLERATION_SECONDS: Final = 300
NAMESPACE_NAME_LABEL: Final = "kubernetes.io/metadata.name"
TAINT_NODE_NOT_READY: Final = "node.kubernetes.io/not-ready"
TAINT_NODE_UNREACHABLE: Final = "node.kubernetes.io/unreachable"
DEFAULT_CLIENT_IP_TIMEOUT_SECONDS: Final = 10800
JOB_BACKOFF_LIMIT: Final = 6
_MAX_INT32: Final = 2**31 - 1
_POD_LEVEL_RESOURCES: Final = ("cpu", "memory")

_DEFAULTERS: dict[type[Resource], Callable[[Any], Any]] = {}


def register_defaulter(model: type[R], defaulter: Callable[[R], R]) -> None:
    """Add (or replace) the defaulter of a kind, e.g. for a custom kind. A
    defaulter returns its argument when nothing changes, else a copy."""
    _DEFAULTERS[model] = defaulter


def default_object(obj: R) -> R:
    """`obj` with Kubernetes' cross-field defaults applied; `obj` itself when
    nothing was missing. Never mutates `obj`."""
    defaulter = _DEFAULTERS.get(type(obj))
    if defaulter is None:
        return obj
    result: R = defaulter(obj)
    return result


# -- Pod ----------------------------------------------------------------------


_DEFAULTED_SPECS: dict[int, tuple[PodSpec, PodSpec, str]] = {}
_DEFAULTED_SPECS_MAX = 4096
_BLANK_POD_STATUS = PodStatus()


def _default_pod(pod: Pod) -> Pod:
    # Pods made from one template share one spec object; defaulting it once and
    # sharing the result (and its QoS class) keeps both the time and the memory
    # per pod down.
    given = pod.spec
    known = _DEFAULTED_SPECS.get(id(given))
    if known is None or known[0] is not given:
        defaulted = _default_pod_spec(given)
        if len(_DEFAULTED_SPECS) >= _DEFAULTED_SPECS_MAX:
            _DEFAULTED_SPECS.clear()
        known = (given, defaulted, qos_class(defaulted))
        _DEFAULTED_SPECS[id(given)] = known
    spec = known[1]
    status = pod.status
    if status.qos_class is None:
        if status == _BLANK_POD_STATUS:
            # A new pod's status: one shared object per QoS class.
            status = shared(PodStatus, qos_class=known[2])
        else:
            status = status.model_copy(update={"qos_class": known[2]})
    if spec is pod.spec and status is pod.status:
        return pod
    return copied(pod, {"spec": spec, "status": status})


def _default_pod_spec(given: PodSpec) -> PodSpec:
    spec = drop_disabled_fields(given)
    update: dict[str, Any] = {}
    if spec.enable_service_links is None:
        update["enable_service_links"] = True
    host_network = bool(spec.host_network)
    containers = _default_containers(spec.containers, host_network)
    if containers is not spec.containers:
        update["containers"] = containers
    init_containers = _default_containers(spec.init_containers, host_network)
    if init_containers is not spec.init_containers:
        update["init_containers"] = init_containers
    if spec.resources is not None:
        resources = _default_pod_level_requests(spec, spec.resources)
        if resources is not spec.resources:
            update["resources"] = resources
    tolerations = _default_tolerations(spec.tolerations)
    if tolerations is not spec.tolerations:
        update["tolerations"] = tolerations
    return spec.model_copy(update=update) if update else spec


def _default_containers(containers: list[Container], host_network: bool) -> list[Container]:
    changed: list[Container] | None = None
    for index, container in enumerate(containers):
        new = _default_container(container, host_network)
        if new is not container:
            if changed is None:
                changed = list(containers)
            changed[index] = new
    return containers if changed is None else changed


def _default_container(container: Container, host_network: bool) -> Container:
    update: dict[str, Any] = {}
    resources = container.resources
    # Requests default to limits, for Pods only (not templates), as SetDefaults_Pod does.
    missing = {k: v for k, v in resources.limits.items() if k not in resources.requests}
    if missing:
        update["resources"] = resources.model_copy(
            update={"requests": {**resources.requests, **missing}}
        )
    if host_network and any(p.host_port is None for p in container.ports):
        update["ports"] = [_host_network_port(p) for p in container.ports]
    return container.model_copy(update=update) if update else container


def _host_network_port(port: ContainerPort) -> ContainerPort:
    if port.host_port is not None:
        return port
    return port.model_copy(update={"host_port": port.container_port})


def _default_pod_level_requests(
    spec: PodSpec, resources: ResourceRequirements
) -> ResourceRequirements:
    """Pod-level requests default to the containers' aggregate requests, else to
    the pod-level limits (cpu and memory only), once pod-level limits are set."""
    if not resources.limits:
        return resources
    requests = dict(resources.requests)
    aggregate = _aggregate_container_requests(spec)
    for name in _POD_LEVEL_RESOURCES:
        if name in requests:
            continue
        if name in aggregate:
            requests[name] = aggregate[name]
        elif name in resources.limits:
            requests[name] = resources.limits[name]
    if requests == resources.requests:
        return resources
    return resources.model_copy(update={"requests": requests})


def _aggregate_container_requests(spec: PodSpec) -> dict[str, Quantity]:
    """What the containers request together: app containers and sidecars add up;
    a regular init container runs alone, so it counts only when larger."""
    total: dict[str, Quantity] = {}
    for container in [*spec.containers, *(c for c in spec.init_containers if c.is_sidecar)]:
        for name, quantity in container.resources.requests.items():
            total[name] = total[name] + quantity if name in total else quantity
    for container in spec.init_containers:
        if container.is_sidecar:
            continue
        for name, quantity in container.resources.requests.items():
            if name not in total or quantity > total[name]:
                total[name] = quantity
    return total


def _default_tolerations(tolerations: list[Toleration]) -> list[Toleration]:
    """DefaultTolerationSeconds admission: tolerate not-ready and unreachable
    nodes for 300 s unless the pod already tolerates them with NoExecute."""
    not_ready = unreachable = False
    for toleration in tolerations:
        if toleration.effect not in (None, "", "NoExecute"):
            continue
        if not toleration.key or toleration.key == TAINT_NODE_NOT_READY:
            not_ready = True
        if not toleration.key or toleration.key == TAINT_NODE_UNREACHABLE:
            unreachable = True
    if not_ready and unreachable:
        return tolerations
    added = list(tolerations)
    if not not_ready:
        added.append(_NOT_READY_TOLERATION)
    if not unreachable:
        added.append(_UNREACHABLE_TOLERATION)
    return added


_NOT_READY_TOLERATION: Final = Toleration(
    key=TAINT_NODE_NOT_READY,
    operator="Exists",
    effect="NoExecute",
    toleration_seconds=DEFAULT_TOLERATION_SECONDS,
)
_UNREACHABLE_TOLERATION: Final = Toleration(
    key=TAINT_NODE_UNREACHABLE,
    operator="Exists",
    effect="NoExecute",
    toleration_seconds=DEFAULT_TOLERATION_SECONDS,
)


# -- other core kinds ---------------------------------------------------------


def _default_namespace(namespace: Namespace) -> Namespace:
    name = namespace.metadata.name
    if not name or namespace.metadata.labels.get(NAMESPACE_NAME_LABEL) == name:
        return namespace
    labels = {**namespace.metadata.labels, NAMESPACE_NAME_LABEL: name}
    return namespace.model_copy(
        update={"metadata": namespace.metadata.model_copy(update={"labels": labels})}
    )


def _default_node(node: Node) -> Node:
    status = node.status
    if status.allocatable or not status.capacity:
        return node
    return node.model_copy(
        update={"status": status.model_copy(update={"allocatable": dict(status.capacity)})}
    )


def _default_service(service: Service) -> Service:
    spec = _default_service_spec(service.spec)
    return service if spec is service.spec else service.model_copy(update={"spec": spec})


def _default_service_spec(spec: ServiceSpec) -> ServiceSpec:
    update: dict[str, Any] = {}
    if spec.session_affinity == "None" and spec.session_affinity_config is not None:
        update["session_affinity_config"] = None
    elif spec.session_affinity == "ClientIP":
        config = spec.session_affinity_config
        if config is None or config.client_ip is None or config.client_ip.timeout_seconds is None:
            update["session_affinity_config"] = SessionAffinityConfig(
                client_ip=ClientIPConfig(timeout_seconds=DEFAULT_CLIENT_IP_TIMEOUT_SECONDS)
            )
    externally_accessible = spec.type in ("LoadBalancer", "NodePort") or (
        spec.type == "ClusterIP" and bool(spec.external_ips)
    )
    if externally_accessible and not spec.external_traffic_policy:
        update["external_traffic_policy"] = "Cluster"
    if spec.internal_traffic_policy is None and spec.type in (
        "ClusterIP",
        "NodePort",
        "LoadBalancer",
    ):
        update["internal_traffic_policy"] = "Cluster"
    if spec.type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is None:
        update["allocate_load_balancer_node_ports"] = True
    return spec.model_copy(update=update) if update else spec


def _default_secret(secret: Secret) -> Secret:
    # stringData is write-only: it is merged into data (winning over it) and dropped.
    if not secret.string_data:
        return secret
    encoded = {k: base64.b64encode(v.encode()).decode() for k, v in secret.string_data.items()}
    return secret.model_copy(update={"data": {**secret.data, **encoded}, "string_data": {}})


# -- batch --------------------------------------------------------------------


def _default_job(job: Job) -> Job:
    spec = job.spec
    update: dict[str, Any] = {}
    if spec.completions is None and spec.parallelism is None:
        update["completions"] = 1
        update["parallelism"] = 1
    elif spec.parallelism is None:
        update["parallelism"] = 1
    if spec.backoff_limit is None:
        per_index = spec.backoff_limit_per_index is not None
        update["backoff_limit"] = _MAX_INT32 if per_index else JOB_BACKOFF_LIMIT
    if spec.completion_mode is None:
        update["completion_mode"] = "NonIndexed"
    if spec.suspend is None:
        update["suspend"] = False
    if spec.pod_replacement_policy is None:
        failed_only = spec.pod_failure_policy is not None
        update["pod_replacement_policy"] = "Failed" if failed_only else "TerminatingOrFailed"
    metadata = job.metadata
    template_labels = spec.template.metadata.labels
    if template_labels and not metadata.labels:
        metadata = metadata.model_copy(update={"labels": dict(template_labels)})
    if not update and metadata is job.metadata:
        return job
    return job.model_copy(update={"spec": spec.model_copy(update=update), "metadata": metadata})


# -- ReplicationController ----------------------------------------------------


def _default_replication_controller(rc: ReplicationController) -> ReplicationController:
    """An empty selector, and absent object labels, become the template's labels."""
    template_labels = rc.spec.template.metadata.labels
    if not template_labels:
        return rc
    update: dict[str, Any] = {}
    if not rc.spec.selector:
        update["spec"] = rc.spec.model_copy(update={"selector": dict(template_labels)})
    if not rc.metadata.labels:
        update["metadata"] = rc.metadata.model_copy(update={"labels": dict(template_labels)})
    return rc.model_copy(update=update) if update else rc


register_defaulter(Pod, _default_pod)
register_defaulter(ReplicationController, _default_replication_controller)
register_defaulter(Namespace, _default_namespace)
register_defaulter(Node, _default_node)
register_defaulter(Service, _default_service)
register_defaulter(Secret, _default_secret)
register_defaulter(Job, _default_job)
