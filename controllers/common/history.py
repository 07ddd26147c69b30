"""ControllerRevision history of a StatefulSet or DaemonSet (Kubernetes'
`controller/history` package and the controllers' `getPatch`/`Match`).

A revision stores the owner's pod template as `data`
(`{"spec": {"template": {..., "$patch": "replace"}}}`, the patch Kubernetes
stores), a `revision` number, the label `controller.kubernetes.io/hash` and
a controllerRef to its owner. Its name is `<owner>-<hash>`, where the hash is
`compute_hash` of the data with the owner's `collisionCount` mixed in: when
a revision of that name exists with other data (a hash collision), the
collision count is raised and the name hashed again, as Kubernetes does.

Re-applying an old template (a rollback) finds the equal revision and gives
it the next revision number, so it becomes the newest without a new object.
`truncate` deletes the oldest revisions no live pod uses beyond the owner's
`revisionHistoryLimit`.

Neighbours: `controllers.common.hashing`; the statefulset and daemonset
controllers.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from controllers.common.hashing import fnv32a, safe_encode_string
from controllers.common.ownership import new_controller_ref
from engine.api import ControllerRevision, ObjectMeta, PodTemplateSpec
from engine.api.base import Resource
from engine.client import Client
from engine.errors import AlreadyExists, Conflict, NotFound

__all__ = [
    "HASH_LABEL",
    "MAX_COLLISIONS",
    "by_revision",
    "ensure_revision",
    "revision_data",
    "revision_hash",
    "template_of",
    "truncate",
]

HASH_LABEL: Final = "controller.kubernetes.io/hash"
MAX_COLLISIONS: Final = 100
"""A guard against looping forever on a broken hash; never reached in practice."""
_EPOCH: Final = datetime.min.replace(tzinfo=UTC)


def revision_data(template: PodTemplateSpec) -> dict[str, Any]:
    """The revision's `data`: the template as a replacing patch of the owner's spec."""
    body = template.to_dict()
    body["$patch"] = "replace"
    return {"spec": {"template": body}}


_DATA_MEMO: dict[int, tuple[PodTemplateSpec, dict[str, Any]]] = {}
_DATA_MEMO_MAX: Final = 1024


def _memoised_data(template: PodTemplateSpec) -> dict[str, Any]:
    """`revision_data` per template object: an owner is synced many times with
    one (immutable, shared) template, and serialising it each time costs more
    than the rest of the revision check. The dict is shared: never mutated."""
    hit = _DATA_MEMO.get(id(template))
    if hit is not None and hit[0] is template:
        return hit[1]
    if len(_DATA_MEMO) >= _DATA_MEMO_MAX:
        _DATA_MEMO.clear()
    data = revision_data(template)
    _DATA_MEMO[id(template)] = (template, data)
    return data


def template_of(revision: ControllerRevision) -> PodTemplateSpec:
    """The pod template a revision recorded."""
    data = dict((revision.data or {}).get("spec", {}).get("template", {}))
    data.pop("$patch", None)
    return PodTemplateSpec.model_validate(data)


def revision_hash(data: dict[str, Any], collision_count: int | None) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    h = fnv32a(canonical.encode())
    if collision_count:
        h = fnv32a((collision_count & 0xFFFFFFFF).to_bytes(8, "little"), h)
    return safe_encode_string(str(h))


def by_revision(revisions: Iterable[ControllerRevision]) -> list[ControllerRevision]:
    """Oldest first (by revision number, then creation, then name)."""
    return sorted(
        revisions,
        key=lambda r: (r.revision, r.metadata.creation_timestamp or _EPOCH, r.metadata.name),
    )


async def ensure_revision(
    client: Client,
    owner: Resource,
    template: PodTemplateSpec,
    revisions: Sequence[ControllerRevision],
    collision_count: int,
    labels: dict[str, str],
) -> tuple[ControllerRevision, int]:
    """The revision for `template` (created, or an equal one made newest) and
    the collision count it needed."""
    data = _memoised_data(template)
    ordered = by_revision(revisions)
    latest = ordered[-1].revision if ordered else 0
    equal = [r for r in ordered if r.data == data]
    if equal:
        found = equal[-1]
        if found.revision == latest:
            return found, collision_count
        # A rollback: the old revision becomes the newest.
        updated = await client.update(found.model_copy(update={"revision": latest + 1}))
        return updated, collision_count
    meta = owner.metadata
    for _ in range(MAX_COLLISIONS):
        hash_ = revision_hash(data, collision_count)
        revision = ControllerRevision(
            metadata=ObjectMeta(
                name=f"{meta.name}-{hash_}",
                namespace=meta.namespace,
                labels={**labels, HASH_LABEL: hash_},
                owner_references=[new_controller_ref(owner)],
            ),
            data=data,
            revision=latest + 1,
        )
        try:
            return await client.create(revision), collision_count
        except AlreadyExists:
            existing = await client.get(
                ControllerRevision, revision.metadata.name, namespace=meta.namespace
            )
            if (
                existing.data == data
                and existing.metadata.controller_ref() == (revision.metadata.owner_references[0])
            ):
                return existing, collision_count
            collision_count += 1
    raise RuntimeError(f"no free revision name for {meta.namespace}/{meta.name}")


async def truncate(
    client: Client,
    revisions: Sequence[ControllerRevision],
    live: set[str],
    limit: int,
) -> None:
    """Delete the oldest revisions not named in `live` beyond `limit` of them."""
    stale = [r for r in by_revision(revisions) if r.metadata.name not in live]
    for revision in stale[: max(0, len(stale) - limit)]:
        meta = revision.metadata
        with contextlib.suppress(NotFound, Conflict):
            await client.delete(
                ControllerRevision, meta.name, namespace=meta.namespace, uid=meta.uid
            )
