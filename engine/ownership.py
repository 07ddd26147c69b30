"""What a server-side apply and an update do to `metadata.managedFields`
(Kubernetes' field managers), on JSON documents.

* `apply_fields`: the applier (operation `Apply`) owns exactly the fields of
  its applied configuration. A field another manager owns with a different
  value than the one applied is a conflict: `ApplyConflict` (409) names
  each, with Kubernetes' message, unless `force`, which takes the field over.
  Applying the value another manager already set shares the field. Fields
  the applier owned last time, no longer applies and nobody else owns are
  removed from the object (a list-map element only when nobody owns anything
  inside it). An object with no managedFields yet (created or last changed
  before any apply) gives all its fields to `before-first-apply` (operation
  Update), as Kubernetes does.
* `update_fields`: an ordinary update or patch by `manager` (operation
  `Update`) takes every field it changed or added from the other managers
  (updates never conflict); fields it removed leave every set.

Neighbours: `engine.managedfields` (field sets), `engine.store` (calls these
from `Store.apply` and `Store.update`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.api.base import ManagedFieldsEntry
from engine.errors import Conflict
from engine.managedfields import (
    MEMBER,
    ListKinds,
    Path,
    decode,
    describe,
    encode,
    fields,
    merge,
    remove,
    spec_document,
)

__all__ = ["ApplyConflict", "apply_fields", "created_fields", "update_fields"]

_MISSING = object()
BEFORE_FIRST_APPLY = "before-first-apply"


class ApplyConflict(Conflict):
    """Fields another manager owns would change; `conflicts` lists
    (manager, field) pairs, fields as `.spec.replicas`."""

    def __init__(self, conflicts: list[tuple[str, str, str]]) -> None:
        self.conflicts = [(manager, field) for manager, _, field in conflicts]
        super().__init__(_message(conflicts))


def _message(conflicts: list[tuple[str, str, str]]) -> str:
    count = len(conflicts)
    head = f"Apply failed with {count} conflict{'s' if count != 1 else ''}: "
    if count == 1:
        manager, version, field = conflicts[0]
        return f'{head}conflict with "{manager}" using {version}: {field}'
    groups: dict[tuple[str, str], list[str]] = {}
    for manager, version, field in conflicts:
        groups.setdefault((manager, version), []).append(field)
    parts = []
    for (manager, version), found in groups.items():
        if len(found) == 1:
            parts.append(f'conflict with "{manager}" using {version}: {found[0]}')
        else:
            listed = "\n".join(f"- {f}" for f in found)
            parts.append(f'conflicts with "{manager}" using {version}:\n{listed}')
    return head + "\n".join(parts)


@dataclass
class _Owner:
    manager: str
    operation: str
    api_version: str
    time: datetime | None
    paths: set[Path]


def _owners(entries: Sequence[ManagedFieldsEntry]) -> list[_Owner]:
    return [
        _Owner(
            e.manager or "",
            e.operation or "Update",
            e.api_version or "",
            e.time,
            decode(e.fields_v1),
        )
        for e in entries
    ]


def _entries(owners: list[_Owner]) -> list[ManagedFieldsEntry]:
    return [
        ManagedFieldsEntry(
            manager=o.manager,
            operation=o.operation,
            api_version=o.api_version,
            time=o.time,
            fields_type="FieldsV1",
            fields_v1=encode(o.paths),
        )
        for o in owners
        if o.paths
    ]


def _find(owners: list[_Owner], manager: str, operation: str) -> _Owner | None:
    return next((o for o in owners if o.manager == manager and o.operation == operation), None)


def apply_fields(
    current: dict[str, Any],
    entries: Sequence[ManagedFieldsEntry],
    config: Mapping[str, Any],
    *,
    manager: str,
    force: bool,
    kinds: ListKinds,
    api_version: str,
    now: datetime,
) -> tuple[dict[str, Any], list[ManagedFieldsEntry]]:
    """(the object's new document, its new managedFields); see the module
    docstring. `current` is not changed."""
    applied_config = spec_document(config)
    applied = fields(applied_config, kinds)
    live = fields(spec_document(current), kinds)
    owners = _owners(entries)
    if not owners:
        owners = [_Owner(BEFORE_FIRST_APPLY, "Update", api_version, now, set(live))]
    me = _find(owners, manager, "Apply")
    found: list[tuple[_Owner, Path]] = []
    for owner in owners:
        if owner is me:
            continue
        for path in sorted(owner.paths & applied.keys()):
            value = applied[path]
            if value is not MEMBER and live.get(path, _MISSING) != value:
                found.append((owner, path))
    if found and not force:
        raise ApplyConflict([(o.manager, o.api_version, describe(p)) for o, p in found])
    for owner, path in found:
        owner.paths.discard(path)

    others = set().union(*(o.paths for o in owners if o is not me))
    dropped = (me.paths if me else set()) - applied.keys()
    gone = {p for p in dropped if p not in others and not _inside_owned(p, others)}
    document = merge(current, _without_server_fields(config), kinds)
    remove(document, gone)

    if me is None:
        me = _Owner(manager, "Apply", api_version, now, set())
        owners.append(me)
    elif me.paths == applied.keys() and me.api_version == api_version and document == current:
        return document, list(entries)  # a no-op apply changes nothing, not even the time
    me.paths = set(applied)
    me.api_version = api_version
    me.time = now
    return document, _entries(owners)


def _inside_owned(path: Path, owned: set[Path]) -> bool:
    """For an element's `.`: someone owns a field inside the element."""
    if path[-1] != ".":
        return False
    prefix = path[:-1]
    return any(p[: len(prefix)] == prefix for p in owned)


def _without_server_fields(config: Mapping[str, Any]) -> dict[str, Any]:
    """The applied configuration to merge: its identity and metadata the
    manifest may set, no status."""
    result = {k: v for k, v in config.items() if k != "status"}
    meta = spec_document(config).get("metadata")
    if meta is not None or "metadata" in config:
        result["metadata"] = meta or {}
    return result


def created_fields(
    config: Mapping[str, Any],
    *,
    manager: str,
    kinds: ListKinds,
    api_version: str,
    now: datetime,
) -> list[ManagedFieldsEntry]:
    """The managedFields of an object created by an apply: all the applier's."""
    paths = set(fields(spec_document(config), kinds))
    return _entries([_Owner(manager, "Apply", api_version, now, paths)])


def update_fields(
    old: dict[str, Any],
    new: dict[str, Any],
    entries: Sequence[ManagedFieldsEntry],
    *,
    manager: str,
    kinds: ListKinds,
    api_version: str,
    now: datetime,
) -> list[ManagedFieldsEntry]:
    """The managedFields after `manager` updated `old` to `new`."""
    before = fields(spec_document(old), kinds)
    after = fields(spec_document(new), kinds)
    changed = {
        p for p, v in after.items() if p not in before or (v is not MEMBER and before[p] != v)
    }
    removed = before.keys() - after.keys()
    if not changed and not removed:
        return list(entries)
    owners = _owners(entries)
    for owner in owners:
        owner.paths -= changed
        owner.paths -= removed
    mine = _find(owners, manager, "Update")
    if mine is None:
        mine = _Owner(manager, "Update", api_version, now, set())
        owners.append(mine)
    mine.paths |= changed
    mine.time = now
    mine.api_version = api_version
    return _entries(owners)
