"""Subresources and patches: what the apiserver serves beside plain writes.

* `patch`: JSON merge, JSON and strategic merge patches of an object (or of
  its status), applied to the stored object and written with `Store.update`
  (or `update_status`); a resourceVersion inside the patch is a precondition.
* `apply`: server-side apply with field ownership (`engine.ownership`).
* `bind`: pods/binding, assigning a pod to a node once.
* `ScaleCache` / `scale`: the scale subresource (autoscaling/v1 Scale) of the
  workloads that have one, and of custom kinds whose CRD version declares one.

The status subresource is `Store.update_status` (a write of its own, beside
`update`, on the write path), and pods/eviction is `engine.eviction`.
Everything here reads and writes through the public `Store` methods, so each
subresource keeps the write path's validation, admission and conflicts.

Neighbours: `engine.store` (the facade whose methods call these),
`engine.patch` (the patch algorithms), `engine.eviction`, `engine.client`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from engine import crd, strategies
from engine.api import core
from engine.api.base import LabelSelector, Resource
from engine.api.integers import INT32_MAX, out_of_range
from engine.errors import BadRequest, Conflict, FieldError, Invalid, NotFound
from engine.managedfields import list_kinds
from engine.ownership import apply_fields, created_fields
from engine.patch import (
    DEFAULT_MERGE_KEYS,
    PatchError,
    json_merge_patch,
    json_patch,
    strategic_merge_patch,
)
from engine.selectors import from_label_selector

if TYPE_CHECKING:
    from engine.store import Store

__all__ = ["DEFAULT_FIELD_MANAGER", "Scale", "ScaleCache", "apply", "bind", "patch", "scale"]

R = TypeVar("R", bound=Resource)

DEFAULT_FIELD_MANAGER = "kubeloop"
"""The field manager of updates and patches that name none (kubectl's
default is "kubectl-edit", "kubectl-patch", ...; a client names its own)."""


@dataclass(frozen=True, slots=True)
class Scale:
    """The scale subresource (autoscaling/v1 Scale) of a workload."""

    replicas: int
    status_replicas: int
    selector: str
    resource_version: str


def apply(
    store: Store,
    config: Mapping[str, Any],
    field_manager: str,
    *,
    force: bool = False,
    dry_run: bool = False,
) -> Resource:
    """Server-side apply of one object's applied configuration (a decoded
    manifest, as `application/apply-patch+yaml` carries): created if
    missing, else merged in with field ownership (`engine.ownership`):
    `ApplyConflict` (409) when it would change fields other managers own,
    unless `force`. Returns the stored object; with `dry_run`, the object
    that would be stored, after every check, without writing it."""
    from engine.manifests import parse_object

    if not field_manager:
        raise BadRequest("a field manager is required for apply")
    api_version, kind_name = config.get("apiVersion"), config.get("kind")
    meta = config.get("metadata")
    if not isinstance(api_version, str) or not isinstance(kind_name, str):
        raise BadRequest("an applied configuration names its apiVersion and kind")
    if not isinstance(meta, Mapping) or not meta.get("name"):
        raise BadRequest("an applied configuration names its object (metadata.name)")
    info = store.registry.lookup(api_version, kind_name)
    namespace = (meta.get("namespace") or "default") if info.namespaced else None
    current = store.try_get(info.model, meta["name"], namespace)
    now = store.clock.now()
    if current is None:
        # A new object: the configuration is the whole object and validates alone.
        desired = parse_object(dict(config), registry=store.registry)
        entries = created_fields(
            config,
            manager=field_manager,
            kinds=list_kinds(desired),
            api_version=api_version,
            now=now,
        )
        new_meta = desired.metadata.model_copy(update={"managed_fields": entries})
        created = desired.model_copy(update={"metadata": new_meta})
        return created if dry_run else store.create(created)
    # An existing one: only the merged result has to be valid.
    kinds = list_kinds(current)
    document, entries = apply_fields(
        current.to_dict(),
        current.metadata.managed_fields,
        config,
        manager=field_manager,
        force=force,
        kinds=kinds,
        api_version=api_version,
        now=now,
    )
    document.setdefault("metadata", {})["managedFields"] = [
        e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in entries
    ]
    document["metadata"]["resourceVersion"] = current.metadata.resource_version
    new = parse_object(document, registry=store.registry)
    if dry_run:
        strategies.check_update(current, new)
        return new
    return store.update(new, field_manager=None)


def patch(
    store: Store,
    kind: type[R],
    name: str,
    namespace: str | None,
    patch: Any,
    *,
    patch_type: str = "merge",
    subresource: str | None = None,
    field_manager: str | None = DEFAULT_FIELD_MANAGER,
) -> R:
    """Apply a JSON merge patch ("merge"), a JSON patch ("json") or a strategic
    merge patch ("strategic") to the stored object, then update it. A
    resourceVersion inside the patch acts as a precondition."""
    current = store.get(kind, name, namespace)
    document = current.to_dict()
    try:
        if patch_type == "merge":
            patched = json_merge_patch(document, patch)
        elif patch_type == "json":
            patched = json_patch(document, patch)
        elif patch_type == "strategic":
            patched = strategic_merge_patch(document, patch, DEFAULT_MERGE_KEYS)
        else:
            raise BadRequest(f"unsupported patch type {patch_type!r}")
    except PatchError as error:
        raise BadRequest(f"the patch could not be applied: {error}") from None
    if not isinstance(patched, dict):
        raise BadRequest("the patched object is not a JSON object")
    for field, expected in (("kind", current.kind), ("apiVersion", current.api_version)):
        if patched.get(field) != expected:
            raise BadRequest(f"a patch may not change {field} (from {expected!r})")
    meta = patched.get("metadata") or {}
    if (
        meta.get("name") != current.metadata.name
        or meta.get("namespace", "") != current.metadata.namespace
    ):
        raise BadRequest("a patch may not change metadata.name or metadata.namespace")
    from engine.manifests import parse_object

    new = cast(R, parse_object(patched, registry=store.registry))
    if subresource == "status":
        return store.update_status(new)
    if subresource is not None:
        raise NotFound(f"unsupported subresource {subresource!r} for patch")
    return store.update(new, field_manager=field_manager)


def bind(store: Store, name: str, namespace: str | None, node_name: str) -> Resource:
    """pods/binding: assign a pod to a node once; Conflict if already bound."""
    pod = store.get(core.Pod, name, namespace)
    return store.write(strategies.bind_pod(pod, node_name, store.clock.now()), verb="bind")


class ScaleCache:
    """Scale subresources by the id of the (immutable) object they were read
    from; the object is kept with it so an id is never reused. The HPA reads
    a target's scale every sync: it is computed once per object revision."""

    __slots__ = ("_scales",)

    def __init__(self) -> None:
        self._scales: dict[int, tuple[Resource, Scale]] = {}

    def get(
        self, store: Store, kind: type[Resource], name: str, namespace: str | None = None
    ) -> Scale:
        """The scale subresource of a Deployment, ReplicaSet, StatefulSet or
        ReplicationController, or of a custom kind whose CRD version has one."""
        obj: Any = store.get(kind, name, namespace)
        cached = self._scales.get(id(obj))
        if cached is not None and cached[0] is obj:
            return cached[1]
        result = _scale_of(store, kind, obj)
        if len(self._scales) >= 4096:
            self._scales.clear()
        self._scales[id(obj)] = (obj, result)
        return result


def _scale_of(store: Store, kind: type[Resource], obj: Any) -> Scale:
    if isinstance(obj, crd.CustomResource) and (scale := crd.scale_of(obj)) is not None:
        replicas, status_replicas, selector = scale
        return Scale(replicas, status_replicas, selector, obj.metadata.resource_version)
    if not kind.has_scale_subresource:
        raise NotFound(f"{store.table(kind).info.plural} has no scale subresource")
    spec_selector = obj.spec.selector
    if isinstance(spec_selector, dict):  # ReplicationController: an equality map
        spec_selector = LabelSelector(match_labels=spec_selector)
    return Scale(
        replicas=obj.spec.replicas,
        status_replicas=obj.status.replicas or 0,
        selector=str(from_label_selector(spec_selector)),
        resource_version=obj.metadata.resource_version,
    )


def scale(
    store: Store,
    kind: type[R],
    name: str,
    namespace: str | None = None,
    *,
    replicas: int,
    resource_version: str | None = None,
) -> R:
    """Set spec.replicas through the scale subresource."""
    if replicas < 0:
        raise Invalid(f'{kind.kind_name} "{name}"', [FieldError("spec.replicas", "must be >= 0")])
    if replicas > INT32_MAX:  # the Scale object's spec.replicas is an int32
        raise Invalid(
            f'{kind.kind_name} "{name}"',
            [FieldError("spec.replicas", out_of_range(replicas))],
        )
    current: Any = store.get(kind, name, namespace)
    custom = isinstance(current, crd.CustomResource) and crd.scale_of(current) is not None
    if not custom and not kind.has_scale_subresource:
        raise NotFound(f"{store.table(kind).info.plural} has no scale subresource")
    if resource_version and resource_version != current.metadata.resource_version:
        raise Conflict(
            f'Operation cannot be fulfilled on {store.table(kind).info.plural} "{name}": '
            "the object has been modified"
        )
    if custom:
        return store.update(cast(R, crd.with_replicas(current, replicas)))
    new = current.model_copy(
        update={"spec": current.spec.model_copy(update={"replicas": replicas})}
    )
    return store.update(cast(R, new))
