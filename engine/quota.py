"""Quota evaluation: what an object charges against a ResourceQuota, as
Kubernetes' quota evaluators count it. Shared by the ResourceQuota admission
plugin (`engine.admission.resourcequota`) and the quota controller
(`controllers.resourcequota`), so both count alike.

* Every namespaced kind counts `count/<plural>` (core kinds) or
  `count/<plural>.<group>`; pods, services, configmaps, secrets,
  persistentvolumeclaims, replicationcontrollers and resourcequotas also
  count under their bare plural (`pods: "10"`).
* A pod (unless Succeeded or Failed) charges `cpu`/`requests.cpu`,
  `memory`/`requests.memory`, `limits.cpu`, `limits.memory`,
  `requests.ephemeral-storage`/`ephemeral-storage`, `limits.ephemeral-storage`
  and `requests.<extended>` from its containers: app containers summed, init
  containers as a maximum.
* A service charges `services.loadbalancers` and `services.nodeports` (its
  ports for NodePort and LoadBalancer types).
* A claim charges `requests.storage`, and under its StorageClass
  `<class>.storageclass.storage.k8s.io/requests.storage` and
  `.../persistentvolumeclaims`.
* Scopes (pods only; a scoped quota tracks only pod resources): Terminating,
  NotTerminating (`activeDeadlineSeconds`), BestEffort, NotBestEffort (no
  requests or limits at all), PriorityClass (`scopeSelector`, operators In,
  NotIn, Exists, DoesNotExist). CrossNamespacePodAffinity and
  VolumeAttributesClass scopes are not supported (such a quota matches
  nothing, as a quota on an unknown scope).

Neighbours: `engine.quantity`, `engine.registry` (plurals and groups).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.api import core
from engine.api.base import Resource
from engine.quantity import Quantity
from engine.registry import Registry

__all__ = [
    "COMPUTE_NEEDING_REQUESTS",
    "add",
    "charges",
    "constraint_error",
    "count_name",
    "is_counted",
    "kind_of",
    "matches",
    "pretty",
    "quantities",
    "tracked",
    "usage",
]

LEGACY_COUNTED = frozenset(
    {
        "pods",
        "services",
        "configmaps",
        "secrets",
        "persistentvolumeclaims",
        "replicationcontrollers",
        "resourcequotas",
    }
)
COMPUTE_NEEDING_REQUESTS = (
    "cpu",
    "limits.cpu",
    "limits.memory",
    "memory",
    "requests.cpu",
    "requests.memory",
)
"""Quota'd, these must be named by every container (Kubernetes' backward
compatibility rule: a quota on cpu or memory requires explicit requests)."""
POD_SCOPED = frozenset(
    {
        "pods",
        "count/pods",
        "cpu",
        "memory",
        "ephemeral-storage",
        "requests.cpu",
        "requests.memory",
        "requests.ephemeral-storage",
        "limits.cpu",
        "limits.memory",
        "limits.ephemeral-storage",
    }
)
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


def quantities(values: Mapping[str, Any] | None) -> dict[str, Quantity]:
    return {name: Quantity(value) for name, value in (values or {}).items()}


def add(total: dict[str, Quantity], more: Mapping[str, Quantity]) -> None:
    for name, value in more.items():
        total[name] = total[name] + value if name in total else value


def pretty(values: Mapping[str, Quantity]) -> str:
    """Kubernetes' prettyPrint of a resource list: sorted `name=value`, comma-joined."""
    return ",".join(f"{name}={values[name]}" for name in sorted(values))


def count_name(plural: str, group: str) -> str:
    return f"count/{plural}" if not group else f"count/{plural}.{group}"


def is_counted(obj: Resource) -> bool:
    """Whether the object charges quota at all (terminal pods do not)."""
    if isinstance(obj, core.Pod):
        return obj.status.phase not in ("Succeeded", "Failed")
    return True


def charges(obj: Resource, plural: str, group: str) -> dict[str, Quantity]:
    """Everything the object charges (before masking to a quota's resources)."""
    one = Quantity(1)
    out: dict[str, Quantity] = {count_name(plural, group): one}
    if not group and plural in LEGACY_COUNTED:
        out[plural] = one
    if isinstance(obj, core.Pod):
        out.update(_pod_usage(obj.spec))
    elif isinstance(obj, core.Service):
        spec = obj.spec
        if spec.type == "LoadBalancer":
            out["services.loadbalancers"] = one
        if spec.type in ("NodePort", "LoadBalancer"):
            out["services.nodeports"] = Quantity(len(spec.ports))
    elif isinstance(obj, core.PersistentVolumeClaim):
        storage = obj.spec.resources.requests.get("storage")
        if storage is not None:
            out["requests.storage"] = storage
        cls = obj.spec.storage_class_name
        if cls:
            prefix = cls + STORAGE_CLASS_SUFFIX
            out[prefix + "persistentvolumeclaims"] = one
            if storage is not None:
                out[prefix + "requests.storage"] = storage
    return out


def _container_usage(container: core.Container) -> dict[str, Quantity]:
    requests, limits = container.resources.requests, container.resources.limits
    out: dict[str, Quantity] = {}
    for name, value in requests.items():
        out[f"requests.{name}"] = value
        if name in ("cpu", "memory", "ephemeral-storage"):
            out[name] = value
    for name in ("cpu", "memory", "ephemeral-storage"):
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    return out


def _pod_usage(spec: core.PodSpec) -> dict[str, Quantity]:
    total: dict[str, Quantity] = {}
    for container in spec.containers:
        add(total, _container_usage(container))
    for container in spec.init_containers:
        for name, value in _container_usage(container).items():
            if name not in total or value > total[name]:
                total[name] = value
    return total


def constraint_error(pod: core.Pod, hard: Iterable[str]) -> str | None:
    """Kubernetes' pod Constraints: with cpu or memory quota'd, every container
    must name it (`must specify limits.cpu for: app; requests.memory for: app,db`)."""
    required = set(hard) & set(COMPUTE_NEEDING_REQUESTS)
    if not required:
        return None
    missing: dict[str, set[str]] = {}
    for container in (*pod.spec.containers, *pod.spec.init_containers):
        have = _container_usage(container)
        for name in required - have.keys():
            missing.setdefault(name, set()).add(container.name)
    if not missing:
        return None
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def _best_effort(spec: core.PodSpec) -> bool:
    return all(
        not c.resources.requests and not c.resources.limits
        for c in (*spec.containers, *spec.init_containers)
    )


def _scope_matches(scope: str, pod: core.Pod, selector: Mapping[str, Any] | None) -> bool:
    spec = pod.spec
    if scope == "Terminating":
        return spec.active_deadline_seconds is not None and spec.active_deadline_seconds >= 0
    if scope == "NotTerminating":
        return spec.active_deadline_seconds is None
    if scope == "BestEffort":
        return _best_effort(spec)
    if scope == "NotBestEffort":
        return not _best_effort(spec)
    if scope == "PriorityClass":
        name = spec.priority_class_name or ""
        if selector is None:
            return bool(name)
        operator = selector.get("operator")
        values = selector.get("values") or []
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return name not in values
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
    return False


def _scopes(spec: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any] | None]]:
    scopes: list[tuple[str, Mapping[str, Any] | None]] = [
        (s, None) for s in spec.get("scopes") or []
    ]
    selector = spec.get("scopeSelector") or {}
    expressions = selector.get("matchExpressions") or []
    scopes.extend((e.get("scopeName", ""), e) for e in expressions)
    return scopes


def matches(quota_spec: Mapping[str, Any], obj: Resource) -> bool:
    """Whether a quota with this spec tracks the object (its scopes match)."""
    scopes = _scopes(quota_spec)
    if not scopes:
        return True
    if not isinstance(obj, core.Pod):
        return False
    return all(_scope_matches(scope, obj, selector) for scope, selector in scopes)


def tracked(quota_spec: Mapping[str, Any], name: str) -> bool:
    """Whether a quota with this spec tracks resource `name` (scoped quotas
    track pod resources only)."""
    return not _scopes(quota_spec) or name in POD_SCOPED


POD_RESOURCE_PREFIXES = ("requests.", "limits.")


def kind_of(name: str, registry: Registry) -> type[Resource] | None:
    """The kind whose objects charge resource `name`, or None if none does."""
    if STORAGE_CLASS_SUFFIX in name or name == "requests.storage":
        return core.PersistentVolumeClaim
    if name.startswith("services."):
        return core.Service
    if name in ("pods", "cpu", "memory", "ephemeral-storage") or name.startswith(
        POD_RESOURCE_PREFIXES
    ):
        return core.Pod
    if name.startswith("count/"):
        plural, _, group = name.removeprefix("count/").partition(".")
        info = registry.by_plural(group, plural)
    elif name in LEGACY_COUNTED:
        info = registry.by_plural("", name)
    else:
        return None
    return info.model if info is not None and info.namespaced else None


def usage(
    objects: Mapping[type[Resource], Iterable[Resource]],
    registry: Registry,
    quota_spec: Mapping[str, Any],
    names: Iterable[str],
) -> dict[str, Quantity]:
    """What the objects given (a namespace's, by kind) charge against a quota
    with this spec, for the resources `names` (each starts at 0)."""
    used = {name: Quantity(0) for name in names if tracked(quota_spec, name)}
    for model, items in objects.items():
        info = registry.info(model)
        for obj in items:
            if not is_counted(obj) or not matches(quota_spec, obj):
                continue
            for name, value in charges(obj, info.plural, info.group).items():
                if name in used:
                    used[name] = used[name] + value
    return used
