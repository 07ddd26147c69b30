"""The few metadata edits the garbage collector makes, and the retrying write
that applies them to the live object.

Each edit is a pure function from the latest object to its edited copy, or
None when there is nothing to change. `edit_live` reads the object, applies
the edit and writes it with the read resourceVersion, retrying on Conflict as
client-go's `retry.RetryOnConflict` does, and never touches an object whose
uid is not the one meant (a deleted and re-created namesake).

Neighbours: `controllers.garbagecollector.collector` (the only user).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import TypeVar

from engine.api.base import OwnerReference, Resource
from engine.client import Client
from engine.errors import Conflict, NotFound

__all__ = ["Edit", "edit_live", "unblock_owner_references", "without_finalizer", "without_owners"]

R = TypeVar("R", bound=Resource)
Edit = Callable[[Resource], Resource | None]
CONFLICT_RETRIES = 5


def _with_owner_references(obj: R, refs: list[OwnerReference]) -> R:
    return obj.model_copy(
        update={"metadata": obj.metadata.model_copy(update={"owner_references": refs})}
    )


def without_owners(owner_uids: Collection[str]) -> Edit:
    """Drop the owner references to these uids."""

    def edit(obj: Resource) -> Resource | None:
        refs = obj.metadata.owner_references
        kept = [ref for ref in refs if ref.uid not in owner_uids]
        return None if len(kept) == len(refs) else _with_owner_references(obj, kept)

    return edit


def unblock_owner_references(obj: Resource) -> Resource | None:
    """Set blockOwnerDeletion to false on every reference that blocks."""
    refs = obj.metadata.owner_references
    if not any(ref.block_owner_deletion for ref in refs):
        return None
    unblocked = [
        ref.model_copy(update={"block_owner_deletion": False}) if ref.block_owner_deletion else ref
        for ref in refs
    ]
    return _with_owner_references(obj, unblocked)


def without_finalizer(finalizer: str) -> Edit:
    """Drop one finalizer."""

    def edit(obj: Resource) -> Resource | None:
        finalizers = obj.metadata.finalizers
        if finalizer not in finalizers:
            return None
        kept = [f for f in finalizers if f != finalizer]
        return obj.model_copy(
            update={"metadata": obj.metadata.model_copy(update={"finalizers": kept})}
        )

    return edit


async def edit_live(
    client: Client,
    model: type[Resource],
    namespace: str,
    name: str,
    uid: str,
    edit: Edit,
) -> Resource | None:
    """Apply `edit` to the live object with this uid. Returns the object as
    stored afterwards, or None if it no longer exists (or is a namesake)."""
    for _ in range(CONFLICT_RETRIES):
        try:
            latest = await client.get(model, name, namespace=namespace or None)
        except NotFound:
            return None
        if latest.metadata.uid != uid:
            return None
        edited = edit(latest)
        if edited is None:
            return latest
        try:
            return await client.update(edited)
        except NotFound:
            return None
        except Conflict:
            continue
    raise Conflict(
        f"{model.kind_name} {namespace}/{name}: still conflicting after {CONFLICT_RETRIES} tries"
    )
