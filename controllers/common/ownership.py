"""Controller references: who controls an object, finding a controller's
objects through an informer index, and claiming them (Kubernetes'
`ControllerRefManager`).

Contract of `claim` (as `ClaimObject`): an object controlled by someone else
is left alone; one controlled by the owner is kept while the owner's selector
matches it and released (its controllerRef removed) when it no longer does,
unless the owner is being deleted; an orphan that matches is adopted (a
controllerRef with controller=true and blockOwnerDeletion=true is added),
unless the owner or the orphan is being deleted. Before the first adoption the
owner is re-read from the API, so a stale cache never makes a
deleted or re-created owner adopt anything. Adoption and release are strategic
merge patches carrying the object's uid as a precondition, exactly the patches
Kubernetes sends; NotFound means the object is gone and is ignored, any other
error is returned after every object was tried.

Index: `CONTROLLER_INDEX` files each object under its controller's uid, or
under `orphan_key(namespace)` when it has no controller, so a controller finds
its objects and the orphans it might adopt without scanning the cache.

Neighbours: `engine.cache` (indexes), `engine.client` (patches); the
replicaset controller claims pods, the deployment controller ReplicaSets.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Generic, TypeVar

from engine.api.base import OwnerReference, Resource
from engine.client import Client
from engine.errors import ApiError, Conflict, NotFound
from engine.informer import SharedInformer
from engine.selectors import Selector

__all__ = [
    "CONTROLLER_INDEX",
    "ClaimResult",
    "claim",
    "controller_or_orphan",
    "current_incarnation",
    "ensure_indexer",
    "is_controlled_by",
    "new_controller_ref",
    "orphan_key",
    "owned_and_orphans",
    "resolve_controller",
]

R = TypeVar("R", bound=Resource)
CONTROLLER_INDEX: Final = "kubeloop.dev/controller-or-orphan"


def orphan_key(namespace: str) -> str:
    # Never a uid (uids are UUIDs), so orphans and owned objects cannot collide.
    return f"orphan/{namespace}"


def controller_or_orphan(obj: Resource) -> tuple[str, ...]:
    """Index function: the controller's uid, or the namespace's orphan key."""
    ref = obj.metadata.controller_ref()
    if ref is not None:
        return (ref.uid,)
    return (orphan_key(obj.metadata.namespace),)


def ensure_indexer(informer: SharedInformer[Any], name: str, func: Callable[[Any], Any]) -> None:
    """Add an index unless the (shared) informer has it already."""
    # Another controller sharing this informer may have added it already.
    with contextlib.suppress(ValueError):
        informer.add_indexer(name, func)


def owned_and_orphans(informer: SharedInformer[R], owner: Resource) -> list[R]:
    """Cached objects controlled by `owner`, then the orphans of its namespace."""
    cache = informer.cache
    owned = cache.by_index(CONTROLLER_INDEX, owner.metadata.uid)
    orphans = cache.by_index(CONTROLLER_INDEX, orphan_key(owner.metadata.namespace))
    return owned + orphans if orphans else owned


def new_controller_ref(owner: Resource) -> OwnerReference:
    """The reference a controller puts on what it creates or adopts."""
    return OwnerReference(
        api_version=owner.api_version,
        kind=owner.kind,
        name=owner.metadata.name,
        uid=owner.metadata.uid,
        controller=True,
        block_owner_deletion=True,
    )


def is_controlled_by(obj: Resource, owner: Resource) -> bool:
    ref = obj.metadata.controller_ref()
    return ref is not None and ref.uid == owner.metadata.uid


def resolve_controller(
    informer: SharedInformer[R], namespace: str, ref: OwnerReference | None
) -> R | None:
    """The cached owner a controllerRef names, if it is of the informer's kind and
    its uid matches (a re-created owner with the same name is not the owner)."""
    kind = informer.kind
    if (
        ref is None
        or ref.kind != kind.kind_name
        or _group(ref.api_version) != _group(kind.api_group_version)
    ):
        return None
    owner = informer.cache.get(ref.name, namespace if kind.namespaced else "")
    if owner is None or owner.metadata.uid != ref.uid:
        return None
    return owner


async def current_incarnation(client: Client, obj: R) -> R | None:
    """`obj` as the API holds it now, or None when it is gone or re-created
    under its name (another uid). A controller's cache may still show an
    owner that was deleted; pods made for it would only be collected."""
    meta = obj.metadata
    try:
        current = await client.get(type(obj), meta.name, namespace=meta.namespace)
    except NotFound:
        return None
    return current if current.metadata.uid == meta.uid else None


def _group(api_version: str) -> str:
    return api_version.rpartition("/")[0]


@dataclass(slots=True)
class ClaimResult(Generic[R]):
    """The objects claimed, and what failed (adoptions or releases)."""

    claimed: list[R] = field(default_factory=list)
    errors: list[ApiError] = field(default_factory=list)


async def claim(
    client: Client, owner: Resource, selector: Selector, objects: Sequence[R]
) -> ClaimResult[R]:
    """Claim `objects` for `owner` (see the module docstring)."""
    result: ClaimResult[R] = ClaimResult()
    owner_uid = owner.metadata.uid
    owner_deleting = owner.metadata.deletion_timestamp is not None
    adoption_checked = False
    cannot_adopt: ApiError | None = None
    # Objects made from one template share one labels dict: match it once.
    # (Every dict stays alive, held by its object, so ids are not reused.)
    verdicts: dict[int, bool] = {}

    def matches(labels: dict[str, str]) -> bool:
        verdict = verdicts.get(id(labels))
        if verdict is None:
            verdict = verdicts[id(labels)] = selector.matches(labels)
        return verdict

    for obj in objects:
        meta = obj.metadata
        ref = meta.controller_ref()
        if ref is not None:
            if ref.uid != owner_uid:
                continue
            if matches(meta.labels):
                result.claimed.append(obj)
                continue
            if owner_deleting:
                continue
            try:
                await _patch_owner_refs(client, obj, [{"$patch": "delete", "uid": owner_uid}])
            except NotFound:
                pass
            except ApiError as error:
                result.errors.append(error)
            continue
        if owner_deleting or meta.deletion_timestamp is not None:
            continue
        if not matches(meta.labels) or meta.namespace != owner.metadata.namespace:
            continue
        if not adoption_checked:
            cannot_adopt = await _recheck_owner(client, owner)
            adoption_checked = True
        if cannot_adopt is not None:
            result.errors.append(cannot_adopt)
            continue
        try:
            adopted = await _patch_owner_refs(client, obj, [_ref_dict(owner)])
        except NotFound:
            continue
        except ApiError as error:
            result.errors.append(error)
            continue
        result.claimed.append(adopted)
    return result


async def _recheck_owner(client: Client, owner: Resource) -> ApiError | None:
    """Why `owner` may not adopt, read fresh from the API (None if it may)."""
    meta = owner.metadata
    where = f"{owner.kind} {meta.namespace}/{meta.name}"
    try:
        fresh = await client.get(type(owner), meta.name, namespace=meta.namespace or None)
    except ApiError as error:
        return error
    if fresh.metadata.uid != meta.uid:
        got = fresh.metadata.uid
        return Conflict(f"original {where} is gone: got uid {got}, wanted {meta.uid}")
    if fresh.metadata.deletion_timestamp is not None:
        return Conflict(f"{where} has just been deleted at {fresh.metadata.deletion_timestamp}")
    return None


def _ref_dict(owner: Resource) -> dict[str, Any]:
    return new_controller_ref(owner).model_dump(mode="json", by_alias=True, exclude_none=True)


async def _patch_owner_refs(client: Client, obj: R, refs: list[dict[str, Any]]) -> R:
    meta = obj.metadata
    patch = {"metadata": {"ownerReferences": refs, "uid": meta.uid}}
    return await client.patch(
        type(obj), meta.name, patch, namespace=meta.namespace, patch_type="strategic"
    )
