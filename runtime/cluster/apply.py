"""`apply`: create-or-update from manifests, as `kubectl apply` does for the
common case.

Sources are manifest text (YAML or JSON), paths (files or directories), a
decoded manifest (a dict), model objects, or lists of these. Namespaces are
applied first; an object given twice is applied once, the later document
laid over the earlier.

Client-side apply, as `kubectl apply` does it: the object records the
manifest as written (fields the loader defaulted left out; no status, no
server-set metadata) in its `kubectl.kubernetes.io/last-applied-configuration`
annotation (compact JSON, without the annotation itself). A new object is
created with it. An existing object is brought to the manifest by the
three-way patch of `engine.threeway` from (last applied, new manifest, live
object): fields and keyed list entries the last manifest set and this one
drops are removed; fields no applied manifest named (status, replicas an
autoscaler set, labels a controller added) are kept. An object created
without apply has no annotation: it gets one and nothing is removed (kubectl
warns about this; we do not). Built-in kinds get a strategic merge (containers
by name, env by name, ports by containerPort, finalizers as a set, ...; lists
without a merge key are replaced), custom kinds a JSON merge patch (lists
replaced whole). As in kubectl, removing a whole map or list from the
manifest (every label, say) removes it from the object, entries others added
included. Applying the same manifests twice writes nothing the second time.

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

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from engine import strategies
from engine.api.base import Resource, prune_empty
from engine.api.core import Namespace
from engine.client import Client, LocalClient
from engine.documents import check_document
from engine.errors import ApiError, FieldError, Forbidden, Invalid, NotFound
from engine.manifests import (
    PartialConfiguration,
    load_configuration_files,
    load_configurations,
    load_manifest_files,
    load_manifests,
    parse_object,
)
from engine.patch import DEFAULT_MERGE_KEYS, strategic_merge_patch
from engine.registry import REGISTRY, Unstructured
from engine.threeway import three_way_merge_patch

__all__ = [
    "LAST_APPLIED",
    "Applied",
    "ApplyError",
    "ApplySource",
    "ServerSide",
    "applied_configuration",
    "apply_objects",
    "load_configuration_sources",
    "load_sources",
]

ApplySource = (
    str
    | Path
    | Resource
    | Mapping[str, Any]
    | Iterable["str | Path | Resource | Mapping[str, Any]"]
)
Action = Literal["created", "configured", "unchanged", "failed"]

LAST_APPLIED: Final = "kubectl.kubernetes.io/last-applied-configuration"

_MANIFEST_METADATA: Final = frozenset(
    {"name", "generateName", "namespace", "labels", "annotations", "ownerReferences", "finalizers"}
)
"""Metadata a manifest sets (the rest is the server's)."""


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


def load_configuration_sources(source: ApplySource) -> list[Resource | PartialConfiguration]:
    """`load_sources` for server-side apply: a document that names its object
    but does not validate alone (the docs' `spec: {replicas: 3}` handed to
    another field manager) comes as a `PartialConfiguration`, which only
    merged into the live object must make valid."""
    if isinstance(source, Path):
        return load_configuration_files([source])
    if isinstance(source, str):
        return load_configurations(source)
    if isinstance(source, Mapping):
        return load_configurations(json.dumps(dict(source)), source="manifest")
    if isinstance(source, Resource):
        return list(load_sources(source))
    found: list[Resource | PartialConfiguration] = []
    for item in source:
        found.extend(load_configuration_sources(item))
    return found


def load_sources(source: ApplySource) -> list[Resource]:
    """Every object in `source`, validated and defaulted; raises before returning
    anything if one document is bad."""
    if isinstance(source, Resource):
        # An object built in Python is user input as much as a manifest is:
        # held to the apiserver's request size limit like one.
        check_document(source.to_dict(), f"{source.kind} {source.metadata.name!r}")
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


@dataclass(frozen=True, slots=True)
class ServerSide:
    """Apply server-side as `field_manager` (see the module docstring)."""

    field_manager: str = "kubeloop"
    force: bool = False


async def apply_objects(
    client: Client,
    objects: list[Resource] | list[Resource | PartialConfiguration],
    server_side: ServerSide | None = None,
) -> list[Applied]:
    """Check everything, then create each object or bring the existing one to
    the manifest (see the module docstring)."""
    if server_side is not None and not isinstance(client, LocalClient):
        raise TypeError("server-side apply needs a client with `apply` (LocalClient)")
    partial = [o for o in objects if isinstance(o, PartialConfiguration)]
    if partial:
        if server_side is None or not isinstance(client, LocalClient):
            raise partial[0].error  # client-side apply sends whole objects
        await _apply_partial(client, partial, server_side, check=True)
    whole = [o for o in objects if isinstance(o, Resource)]
    results = await _apply_whole(client, whole, server_side) if whole else []
    if partial:
        assert isinstance(client, LocalClient) and server_side is not None
        results += await _apply_partial(client, partial, server_side, check=False)
    if any(r.action == "failed" for r in results):
        raise ApplyError(results)
    return results


async def _apply_partial(
    client: LocalClient,
    configurations: list[PartialConfiguration],
    server_side: ServerSide,
    *,
    check: bool,
) -> list[Applied]:
    """Server-side apply of configurations that only a merge makes valid: the
    object must exist (a create from one reports why it is not an object),
    and the merged result is checked by a dry run before anything is written."""
    results: list[Applied] = []
    for configuration in configurations:
        kind, namespace, name = configuration.info.kind, configuration.namespace, configuration.name
        try:
            existing = await client.get(configuration.info.model, name, namespace=namespace or None)
        except NotFound:
            if check:
                raise configuration.error from None
            existing = None
        try:
            stored = await client.apply(
                configuration.data,
                field_manager=server_side.field_manager,
                force=server_side.force,
                dry_run=check,
            )
        except ApiError as error:
            if check:
                raise
            why = f"{type(error).__name__}: {' '.join(str(error).split())}"
            results.append(Applied(kind, namespace, name, "failed", why))
            continue
        if not check:
            action: Action = "unchanged" if stored is existing else "configured"
            results.append(Applied(kind, namespace, name, action))
    return results


async def _apply_whole(
    client: Client, objects: list[Resource], server_side: ServerSide | None
) -> list[Applied]:
    ordered = _unique(sorted(objects, key=lambda o: 0 if isinstance(o, Namespace) else 1))
    new_namespaces = {o.metadata.name for o in ordered if isinstance(o, Namespace)}
    for desired in ordered:
        if isinstance(client, LocalClient) and server_side is not None:
            await _check_server_side(client, desired, new_namespaces, server_side)
        else:
            await _check(client, desired, new_namespaces)
    results: list[Applied] = []
    for desired in ordered:
        try:
            if isinstance(client, LocalClient) and server_side is not None:
                results.append(await _apply_server_side(client, desired, server_side))
            else:
                results.append(await _apply_one(client, desired))
        except ApiError as error:
            kind, namespace = _identity(desired)
            why = f"{type(error).__name__}: {' '.join(str(error).split())}"
            results.append(Applied(kind, namespace, desired.metadata.name, "failed", why))
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
    merged = _applied(existing, desired)
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


async def _check_server_side(
    client: LocalClient, desired: Resource, new_namespaces: set[str], server_side: ServerSide
) -> None:
    """The server-side apply of `desired` would succeed (a dry run: conflicts,
    the merged object's validity, immutable fields)."""
    kind, namespace = _identity(desired)
    if await _existing(client, desired) is None:
        if namespace and namespace not in new_namespaces:
            await _check_namespace(client, namespace, f'{kind} "{desired.metadata.name}"')
        return
    await client.apply(
        _server_side_configuration(desired),
        field_manager=server_side.field_manager,
        force=server_side.force,
        dry_run=True,
    )


def _server_side_configuration(desired: Resource) -> dict[str, Any]:
    configuration = applied_configuration(desired)
    _, namespace = _identity(desired)
    if namespace:
        configuration["metadata"] = {**configuration["metadata"], "namespace": namespace}
    return configuration


async def _apply_server_side(
    client: LocalClient, desired: Resource, server_side: ServerSide
) -> Applied:
    kind, _ = _identity(desired)
    existing = await _existing(client, desired)
    stored = await client.apply(
        _server_side_configuration(desired),
        field_manager=server_side.field_manager,
        force=server_side.force,
    )
    if existing is None:
        action: Action = "created"
    else:
        action = "unchanged" if stored is existing else "configured"
    return Applied(kind, stored.metadata.namespace, stored.metadata.name, action)


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
        created = await client.create(_annotated(desired))
        return Applied(kind, created.metadata.namespace, created.metadata.name, "created")
    stored = await client.update(_applied(existing, desired))
    action: Action = "unchanged" if stored is existing else "configured"
    return Applied(kind, namespace, desired.metadata.name, action)


def merge_keys_for(obj: Resource) -> Mapping[str, str]:
    """Strategic merge for built-in kinds, a JSON merge patch (lists replaced
    whole) for custom kinds, as kubectl chooses."""
    return {} if isinstance(obj, Unstructured) else DEFAULT_MERGE_KEYS


def applied_configuration(obj: Resource) -> dict[str, Any]:
    """The manifest as written (fields the loader defaulted are left out),
    without status, server-set metadata or the last-applied annotation: what
    the annotation records."""
    document: dict[str, Any] = prune_empty(
        obj.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True)
    )
    document.pop("status", None)
    meta = document.get("metadata") or {}
    meta = {k: v for k, v in meta.items() if k in _MANIFEST_METADATA}
    annotations = {k: v for k, v in (meta.get("annotations") or {}).items() if k != LAST_APPLIED}
    meta.pop("annotations", None)
    if annotations:
        meta["annotations"] = annotations
    document["metadata"] = meta
    return document


def _with_annotation(configuration: dict[str, Any]) -> dict[str, Any]:
    """`configuration` carrying itself in the last-applied annotation."""
    meta = dict(configuration["metadata"])
    record = json.dumps(configuration, sort_keys=True, separators=(",", ":"))
    meta["annotations"] = {**(meta.get("annotations") or {}), LAST_APPLIED: record}
    return {**configuration, "metadata": meta}


def _annotated(desired: Resource) -> Resource:
    """`desired` to create: with the last-applied annotation."""
    record = _with_annotation(applied_configuration(desired))["metadata"]["annotations"]
    meta = desired.metadata.model_copy(update={"annotations": record})
    return desired.model_copy(update={"metadata": meta})


def _last_applied(existing: Resource) -> dict[str, Any] | None:
    """The manifest applied last time; None for an object never applied
    (created otherwise) or whose annotation is not a JSON object."""
    record = existing.metadata.annotations.get(LAST_APPLIED)
    if record is None:
        return None
    try:
        original = json.loads(record)
    except ValueError:
        return None
    return original if isinstance(original, dict) else None


def _applied(existing: Resource, desired: Resource) -> Resource:
    """`existing` brought to the manifest with kubectl's three-way merge (see
    the module docstring)."""
    keys = merge_keys_for(existing)
    current = existing.to_dict()
    modified = _with_annotation(applied_configuration(desired))
    patch = three_way_merge_patch(_last_applied(existing), modified, current, keys)
    return parse_object(strategic_merge_patch(current, patch, keys))


def _merged(earlier: Resource, later: Resource) -> Resource:
    """Two documents for one object in one apply: the later laid over the
    earlier (a strategic merge of the manifests)."""
    keys = merge_keys_for(earlier)
    document = strategic_merge_patch(
        applied_configuration(earlier), applied_configuration(later), keys
    )
    return parse_object(document)
