"""`apply`: create-or-update from manifests, as `kubectl apply` does for the
common case.

Sources are manifest text (YAML or JSON), paths (files or directories), a
decoded manifest (a dict), model objects, or lists of these. An existing
object keeps its identity and status; every field the manifest sets is laid
over it with a strategic merge: spec fields, and in metadata the labels and
annotations (maps, merged by key), `ownerReferences` (merged by uid) and
`finalizers` (a set: the manifest's are added), as kubectl's merge patch
does. Fields the manifest leaves out keep their values (unlike kubectl, which
remembers the last applied manifest, removing a field or a list entry from a
manifest does not remove it from the object). Applying the same manifests
twice writes nothing the second time. Namespaces are applied first; an
object given twice is applied once, the later document laid over the earlier.

Two phases, so that a bad apply leaves the cluster untouched:

1. Check, before anything is written: every document loads and validates
   (kind registered, names and fields valid); each object's namespace exists
   and is not terminating, or is created by the same apply; for an existing
   object, the merged result validates (a limit the live object has and a
   request the manifest adds must agree) and changes no immutable field
   (selectors, a pod's node), and adds no finalizer to an object being
   deleted. The first problem raises (Invalid, NotFound, Forbidden) naming
   the object, and nothing is written.
2. Write each object in order, re-reading and re-merging it first. A write
   can still fail (another writer changed or deleted the object in between,
   the namespace began terminating): as `kubectl apply` does, the error is
   recorded for that object and the others are still written. If any write
   failed, `ApplyError` is raised after the last one; its `results` say per
   object what happened (`created`, `configured`, `unchanged`, or `failed`
   with the error). With no failure, the same list is returned.

Neighbours: `engine.manifests` (loading), `engine.strategies` (the store's own
update checks), `runtime.cluster.cluster` (calls it).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from engine import strategies
from engine.api.base import Resource
from engine.api.core import Namespace
from engine.client import Client
from engine.errors import ApiError, FieldError, Forbidden, Invalid, NotFound
from engine.manifests import load_manifest_files, load_manifests, parse_object
from engine.patch import DEFAULT_MERGE_KEYS, strategic_merge_patch
from engine.registry import REGISTRY

__all__ = ["Applied", "ApplyError", "ApplySource", "apply_objects", "load_sources"]

ApplySource = (
    str
    | Path
    | Resource
    | Mapping[str, Any]
    | Iterable["str | Path | Resource | Mapping[str, Any]"]
)
Action = Literal["created", "configured", "unchanged", "failed"]

_MERGED_METADATA = ("labels", "annotations", "ownerReferences", "finalizers")
"""Metadata a manifest sets on an existing object (the rest is the server's)."""


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply` did to one object, printed as kubectl prints it."""

    kind: str
    namespace: str
    name: str
    action: Action
    error: str | None = None  # why the write failed (action "failed")

    def __str__(self) -> str:
        line = f"{self.kind.lower()}/{self.name} {self.action}"
        return f"{line}: {self.error}" if self.error else line


class ApplyError(ApiError):
    """Some objects failed to write (see the module docstring); `results`
    says what happened to each object, in order."""

    reason = "ApplyFailed"

    def __init__(self, results: list[Applied]) -> None:
        failed = [r for r in results if r.action == "failed"]
        super().__init__(
            f"{len(failed)} of {len(results)} object(s) failed to apply: "
            + "; ".join(str(r) for r in failed)
        )
        self.results = results


def load_sources(source: ApplySource) -> list[Resource]:
    """Every object in `source`, validated and defaulted; raises before returning
    anything if one document is bad."""
    if isinstance(source, Resource):
        return [_checked(source)]
    if isinstance(source, Path):
        return list(load_manifest_files([source]))
    if isinstance(source, str):
        return list(load_manifests(source))
    if isinstance(source, Mapping):
        return [parse_object(dict(source), source="manifest")]
    objects: list[Resource] = []
    for item in source:
        objects.extend(load_sources(item))
    return objects


def _checked(obj: Resource) -> Resource:
    """A model object given directly, held to the checks a manifest gets."""
    defaulted = strategies.default_object(obj)
    errors = strategies.validate(defaulted)
    if errors:
        info = REGISTRY.info(type(obj))
        raise Invalid(f'{info.group_kind} "{obj.metadata.name}"', errors)
    return defaulted


async def apply_objects(client: Client, objects: list[Resource]) -> list[Applied]:
    """Check everything, then create each object or bring the existing one to
    the manifest (see the module docstring)."""
    ordered = _unique(sorted(objects, key=lambda o: 0 if isinstance(o, Namespace) else 1))
    new_namespaces = {o.metadata.name for o in ordered if isinstance(o, Namespace)}
    for desired in ordered:
        await _check(client, desired, new_namespaces)
    results: list[Applied] = []
    for desired in ordered:
        try:
            results.append(await _apply_one(client, desired))
        except ApiError as error:
            kind, namespace = _identity(desired)
            why = f"{type(error).__name__}: {' '.join(str(error).split())}"
            results.append(Applied(kind, namespace, desired.metadata.name, "failed", why))
    if any(r.action == "failed" for r in results):
        raise ApplyError(results)
    return results


def _identity(obj: Resource) -> tuple[str, str]:
    info = REGISTRY.info(type(obj))
    return info.kind, (obj.metadata.namespace or "default") if info.namespaced else ""


def _unique(objects: list[Resource]) -> list[Resource]:
    """One object per identity, in first-seen order; a later document is laid
    over an earlier one for the same object."""
    by_key: dict[tuple[str, str, str] | int, Resource] = {}
    for index, obj in enumerate(objects):
        # Objects named by generateName are each a new object.
        key = (*_identity(obj), obj.metadata.name) if obj.metadata.name else index
        earlier = by_key.get(key)
        by_key[key] = obj if earlier is None else _merged(earlier, obj)
    return list(by_key.values())


async def _existing(client: Client, desired: Resource) -> Resource | None:
    if not desired.metadata.name:
        return None  # generateName: always created
    _, namespace = _identity(desired)
    try:
        return await client.get(type(desired), desired.metadata.name, namespace=namespace or None)
    except NotFound:
        return None


async def _check(client: Client, desired: Resource, new_namespaces: set[str]) -> None:
    """Everything the write of `desired` needs (see the module docstring)."""
    kind, namespace = _identity(desired)
    existing = await _existing(client, desired)
    if existing is None:
        if namespace and namespace not in new_namespaces:
            await _check_namespace(client, namespace, f'{kind} "{desired.metadata.name}"')
        return
    merged = _merged(existing, desired)
    subject = f'{kind} "{desired.metadata.name}"'
    errors = strategies.validate(merged)
    if errors:
        raise Invalid(subject, errors)
    strategies.check_update(existing, merged)
    added = set(merged.metadata.finalizers) - set(existing.metadata.finalizers)
    if existing.metadata.deletion_timestamp is not None and added:
        raise Invalid(
            subject,
            [
                FieldError(
                    "metadata.finalizers",
                    "no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)}",
                )
            ],
        )


async def _check_namespace(client: Client, namespace: str, subject: str) -> None:
    try:
        ns = await client.get(Namespace, namespace)
    except NotFound:
        raise NotFound(f'{subject}: namespaces "{namespace}" not found') from None
    if ns.metadata.deletion_timestamp is not None or ns.status.phase == "Terminating":
        raise Forbidden(
            f"{subject}: unable to create new content in namespace {namespace} "
            "because it is being terminated"
        )


async def _apply_one(client: Client, desired: Resource) -> Applied:
    kind, namespace = _identity(desired)
    existing = await _existing(client, desired)
    if existing is None:
        created = await client.create(desired)
        return Applied(kind, created.metadata.namespace, created.metadata.name, "created")
    stored = await client.update(_merged(existing, desired))
    action: Action = "unchanged" if stored is existing else "configured"
    return Applied(kind, namespace, desired.metadata.name, action)


def _merged(existing: Resource, desired: Resource) -> Resource:
    """`existing` with every field the manifest sets laid over it (a strategic
    merge): fields the manifest leaves out keep their current values."""
    patch = desired.to_dict()
    patch.pop("status", None)
    meta = patch.get("metadata", {})
    patch["metadata"] = {k: meta[k] for k in _MERGED_METADATA if meta.get(k)}
    document = strategic_merge_patch(existing.to_dict(), patch, DEFAULT_MERGE_KEYS)
    merged = parse_object(document)
    kept = merged.metadata
    return merged.model_copy(
        update={
            "metadata": existing.metadata.model_copy(
                update={
                    "labels": kept.labels,
                    "annotations": kept.annotations,
                    "owner_references": kept.owner_references,
                    "finalizers": kept.finalizers,
                }
            )
        }
    )
