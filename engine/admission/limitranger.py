"""The LimitRanger admission plugin: the LimitRanges of a namespace default
and bound the resources of its pods and claims, as Kubernetes' plugin does.

Mutating, for a pod being created: each container (and init container) gets
the `default` limits and `defaultRequest` requests of the namespace's
`Container` items for every resource it does not name, and the pod is
annotated `kubernetes.io/limit-ranger` with what was set. An item's own
defaults come first, as the apiserver's LimitRange defaulting fills them: a
missing `default` is the item's `max`, a missing `defaultRequest` is the
`default`, else the `min`.

Validating, then, with Kubernetes' messages:

* `Container` items bound each container: `min` (the request, and the limit
  if set), `max` (the limit, and the request if set), `maxLimitRequestRatio`.
* `Pod` items bound the pod's sum over its app containers (init containers
  count as a maximum): `min`, `max`, `maxLimitRequestRatio`.
* `PersistentVolumeClaim` items bound `spec.resources.requests`: `min` and `max`.

Every violation is listed (as one message, `[a, b]` for several, Kubernetes'
aggregate) in `<plural> "<name>" is forbidden: ...`; resources are taken in
name order (Kubernetes' order is its map order, i.e. random).

Cost: a namespace without LimitRanges costs one dict lookup per create.
Pod-level resources (`spec.resources`) are not bounded here.

Neighbours: `engine.admission` (the chain), `engine.quantity`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from engine.admission import AdmissionRequest, served_model
from engine.api import core
from engine.api.base import Resource
from engine.errors import Forbidden
from engine.quantity import Quantity

__all__ = ["ANNOTATION", "admit", "forbidden_message"]

ANNOTATION = "kubernetes.io/limit-ranger"

Resources = Mapping[str, Quantity]


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    if not isinstance(obj, core.Pod | core.PersistentVolumeClaim):
        return obj
    items = _items(request)
    if not items:
        return obj
    if isinstance(obj, core.Pod):
        pod = _default_pod(obj, items)
        errors = _pod_errors(pod, items)
        result: Resource = pod
    else:
        errors = _claim_errors(obj, items)
        result = obj
    if errors:
        raise Forbidden(request.forbidden_prefix() + forbidden_message(errors))
    return result


def forbidden_message(errors: list[str]) -> str:
    """Kubernetes' aggregate of errors: the error itself if one, else `[a, b]`."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


# -- the namespace's limits --------------------------------------------------------


def _items(request: AdmissionRequest) -> list[dict[str, Any]]:
    """The `spec.limits` items of every LimitRange of the namespace, defaulted."""
    store = request.store
    model = served_model(store.registry, "v1", "LimitRange")
    items: list[dict[str, Any]] = []
    if model is None:
        return items
    for limit_range in store.objects_in(model, request.namespace):
        spec = getattr(limit_range, "spec", None) or {}
        items.extend(_defaulted(item) for item in spec.get("limits") or [])
    return items


def _quantities(values: Mapping[str, Any] | None) -> dict[str, Quantity]:
    return {name: Quantity(value) for name, value in (values or {}).items()}


def _defaulted(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item with quantities parsed, and a Container item's defaults filled as
    SetDefaults_LimitRangeItem fills them."""
    out: dict[str, Any] = {"type": item.get("type", "")}
    for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
        out[key] = _quantities(item.get(key))
    if out["type"] == "Container":
        default, request = out["default"], out["defaultRequest"]
        for name, value in out["max"].items():
            default.setdefault(name, value)
        for name, value in default.items():
            request.setdefault(name, value)
        for name, value in out["min"].items():
            request.setdefault(name, value)
    return out


# -- defaults ----------------------------------------------------------------------


def _default_pod(pod: core.Pod, items: list[dict[str, Any]]) -> core.Pod:
    limits: dict[str, Quantity] = {}
    requests: dict[str, Quantity] = {}
    for item in items:
        if item["type"] == "Container":
            limits.update(item["default"])
            requests.update(item["defaultRequest"])
    if not limits and not requests:
        return pod
    notes: list[str] = []
    spec = pod.spec
    containers = [_default_container(c, limits, requests, notes) for c in spec.containers]
    inits = [_default_container(c, limits, requests, notes, "init ") for c in spec.init_containers]
    if not notes:
        return pod
    annotations = {
        **pod.metadata.annotations,
        ANNOTATION: "LimitRanger plugin set: " + "; ".join(notes),
    }
    return pod.model_copy(
        update={
            "metadata": pod.metadata.model_copy(update={"annotations": annotations}),
            "spec": spec.model_copy(update={"containers": containers, "init_containers": inits}),
        }
    )


def _default_container(
    container: core.Container,
    limits: Resources,
    requests: Resources,
    notes: list[str],
    what: str = "",
) -> core.Container:
    resources = container.resources
    new_limits = {**{k: v for k, v in limits.items() if k not in resources.limits}}
    new_requests = {k: v for k, v in requests.items() if k not in resources.requests}
    if not new_limits and not new_requests:
        return container
    if new_requests:
        notes.append(
            f"{', '.join(sorted(new_requests))} request for {what}container {container.name}"
        )
    if new_limits:
        notes.append(f"{', '.join(sorted(new_limits))} limit for {what}container {container.name}")
    updated = resources.model_copy(
        update={
            "limits": {**resources.limits, **new_limits},
            "requests": {**resources.requests, **new_requests},
        }
    )
    return container.model_copy(update={"resources": updated})


# -- constraints -------------------------------------------------------------------


def _pod_errors(pod: core.Pod, items: list[dict[str, Any]]) -> list[str]:
    errors: list[str] = []
    for item in items:
        if item["type"] == "Container":
            for container in (*pod.spec.init_containers, *pod.spec.containers):
                res = container.resources
                errors += _constraints("Container", item, res.requests, res.limits)
        elif item["type"] == "Pod":
            requests, limits = _pod_totals(pod.spec)
            errors += _constraints("Pod", item, requests, limits)
    return errors


def _pod_totals(spec: core.PodSpec) -> tuple[dict[str, Quantity], dict[str, Quantity]]:
    """App containers summed, init containers as a maximum."""
    totals: list[dict[str, Quantity]] = []
    for part in ("requests", "limits"):
        total: dict[str, Quantity] = {}
        for container in spec.containers:
            for name, value in getattr(container.resources, part).items():
                total[name] = total[name] + value if name in total else value
        for container in spec.init_containers:
            for name, value in getattr(container.resources, part).items():
                if name not in total or value > total[name]:
                    total[name] = value
        totals.append(total)
    return totals[0], totals[1]


def _constraints(
    kind: str, item: Mapping[str, Any], requests: Resources, limits: Resources
) -> list[str]:
    errors: list[str] = []
    for name, enforced in sorted(item["min"].items()):
        errors += _min(kind, name, enforced, requests, limits)
    for name, enforced in sorted(item["max"].items()):
        errors += _max(kind, name, enforced, requests, limits)
    for name, enforced in sorted(item["maxLimitRequestRatio"].items()):
        errors += _ratio(kind, name, enforced, requests, limits)
    return errors


def _min(
    kind: str, name: str, enforced: Quantity, requests: Resources, limits: Resources
) -> list[str]:
    head = f"minimum {name} usage per {kind} is {enforced}"
    request, limit = requests.get(name), limits.get(name)
    if request is None:
        return [f"{head}.  No request is specified"]
    if request < enforced:
        return [f"{head}, but request is {request}"]
    if limit is not None and limit < enforced:
        return [f"{head}, but limit is {limit}"]
    return []


def _max(
    kind: str, name: str, enforced: Quantity, requests: Resources, limits: Resources
) -> list[str]:
    head = f"maximum {name} usage per {kind} is {enforced}"
    request, limit = requests.get(name), limits.get(name)
    if limit is None:
        return [f"{head}.  No limit is specified"]
    if limit > enforced:
        return [f"{head}, but limit is {limit}"]
    if request is not None and request > enforced:
        return [f"{head}, but request is {request}"]
    return []


def _max_request(kind: str, name: str, enforced: Quantity, requests: Resources) -> list[str]:
    head = f"maximum {name} usage per {kind} is {enforced}"
    request = requests.get(name)
    if request is None:
        return [f"{head}.  No request is specified"]
    if request > enforced:
        return [f"{head}, but request is {request}"]
    return []


def _ratio(
    kind: str, name: str, enforced: Quantity, requests: Resources, limits: Resources
) -> list[str]:
    head = f"{name} max limit to request ratio per {kind} is {enforced}"
    request, limit = requests.get(name), limits.get(name)
    if request is None or request.is_zero():
        return [f"{head}, but no request is specified or request is 0"]
    if limit is None or limit.is_zero():
        return [f"{head}, but no limit is specified or limit is 0"]
    ratio = limit.as_fraction() / request.as_fraction()
    if ratio > enforced.as_fraction():
        return [f"{head}, but provided ratio is {float(ratio):f}"]
    return []


def _claim_errors(
    claim: core.PersistentVolumeClaim, items: Iterable[Mapping[str, Any]]
) -> list[str]:
    requests = claim.spec.resources.requests
    errors: list[str] = []
    for item in items:
        if item["type"] != "PersistentVolumeClaim":
            continue
        for name, enforced in sorted(item["min"].items()):
            # a claim's limits are not user input: only its requests count
            errors += _min("PersistentVolumeClaim", name, enforced, requests, {})
        for name, enforced in sorted(item["max"].items()):
            errors += _max_request("PersistentVolumeClaim", name, enforced, requests)
    return errors
