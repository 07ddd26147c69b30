"""The ResourceQuota admission plugin: a create that would take a namespace
over one of its quotas is refused, and an admitted one is charged to the
quotas' `status.used` at once, so two quick creates cannot both pass.

For each ResourceQuota of the namespace whose scopes match the object, in
name order:

* With `cpu` or `memory` (requests or limits) quota'd, every container of a
  pod must name them: `pods "x" is forbidden: failed quota: q: must specify
  limits.cpu for: app`.
* The object's charges (`engine.quota.charges`) masked to the quota's hard
  resources, added to `status.used`, must not exceed `spec.hard`:
  `pods "x" is forbidden: exceeded quota: q, requested: cpu=1, used: cpu=2,
  limited: cpu=2`.
* Once the object is stored, each such quota's `status.used` (and
  `status.hard`) is updated by the amount charged; the quota controller
  (`controllers.resourcequota`) later recounts from what is stored, which
  also gives back what deleted and finished objects held.

Decisions: the limits are `spec.hard` (Kubernetes reads `status.hard`, the
controller's copy of it, so a new limit acts only once the controller has
seen it); a quota whose usage the controller has not computed yet is
counted here from the store (Kubernetes refuses the create with "status
unknown for quota" until the controller has run), so a bare store without
the controller still enforces quotas. Only creates are charged (a pod's
resources cannot change after create; claims resized and services changed
to LoadBalancer are not recharged on update).

Cost: a namespace without ResourceQuotas costs one dict lookup per create.

Neighbours: `engine.admission` (the chain; this plugin runs last, after the
object's validation), `engine.quota` (what objects charge).
"""

from __future__ import annotations

from typing import Any

from engine import quota
from engine.admission import AdmissionRequest, builtin_model, served_model
from engine.api import core
from engine.api.base import Resource
from engine.errors import Forbidden
from engine.quantity import Quantity
from engine.registry import Registry

__all__ = ["admit", "quota_model"]


def quota_model(registry: Registry) -> type[Resource]:
    """The ResourceQuota kind (schema-backed: it has no hand-written model)."""
    return builtin_model(registry, "v1", "ResourceQuota")


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    store = request.store
    model = served_model(store.registry, "v1", "ResourceQuota")
    if model is None:
        return obj
    quotas = store.objects_in(model, request.namespace)
    if not quotas or not quota.is_counted(obj):
        return obj
    info = store.registry.info(type(obj))
    delta = quota.charges(obj, info.plural, info.group)
    charged: list[tuple[Resource, dict[str, Quantity], dict[str, Quantity]]] = []
    for q in sorted(quotas, key=lambda q: q.metadata.name):
        spec: dict[str, Any] = getattr(q, "spec", None) or {}
        if not quota.matches(spec, obj):
            continue
        hard = {
            n: v for n, v in quota.quantities(spec.get("hard")).items() if quota.tracked(spec, n)
        }
        name = q.metadata.name
        if isinstance(obj, core.Pod):
            problem = quota.constraint_error(obj, hard)
            if problem:
                raise Forbidden(request.forbidden_prefix() + f"failed quota: {name}: {problem}")
        requested = {n: delta[n] for n in hard if n in delta}
        if not requested:
            continue
        used = _used(request, q, spec, hard)
        new_used = dict(used)
        quota.add(new_used, requested)
        exceeded = sorted(n for n in requested if new_used[n] > hard[n])
        if exceeded:
            raise Forbidden(
                request.forbidden_prefix()
                + f"exceeded quota: {name}, "
                + f"requested: {quota.pretty({n: requested[n] for n in exceeded})}, "
                + f"used: {quota.pretty({n: used[n] for n in exceeded})}, "
                + f"limited: {quota.pretty({n: hard[n] for n in exceeded})}"
            )
        charged.append((q, new_used, hard))
    if charged:
        request.after_commit.append(lambda: _charge(request, charged))
    return obj


def _used(
    request: AdmissionRequest, q: Resource, spec: dict[str, Any], hard: dict[str, Quantity]
) -> dict[str, Quantity]:
    status = getattr(q, "status", None) or {}
    used = quota.quantities(status.get("used"))
    missing = [n for n in hard if n not in used]
    if missing:
        store = request.store
        kinds = {quota.kind_of(n, store.registry) for n in missing} - {None}
        objects = {k: store.objects_in(k, request.namespace) for k in kinds if k is not None}
        used.update(quota.usage(objects, store.registry, spec, missing))
    return used


def _charge(
    request: AdmissionRequest,
    charged: list[tuple[Resource, dict[str, Quantity], dict[str, Quantity]]],
) -> None:
    store = request.store
    for q, used, hard in charged:
        current = store.try_get(type(q), q.metadata.name, request.namespace)
        if current is None:
            continue
        status = {
            **(getattr(current, "status", None) or {}),
            "hard": {n: str(v) for n, v in sorted(hard.items())},
            "used": {n: str(v) for n, v in sorted(used.items())},
        }
        store.update_status(current.model_copy(update={"status": status}))
