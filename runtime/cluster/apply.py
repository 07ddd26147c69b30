"""`apply`: create-or-update from manifests, as `kubectl apply` does for the
common case.

Sources are manifest text (YAML or JSON), paths (files or directories), model
objects, or lists of these. Everything is loaded and validated before anything
is written, so a bad document leaves the cluster untouched. Namespaces are
applied first. An existing object keeps its identity and status; every field
the manifest sets (spec fields, labels, annotations) is laid over it with a
strategic merge, so fields the manifest leaves out keep their values (unlike
kubectl, which remembers the last applied manifest, removing a field or a
list entry from a manifest does not remove it from the object). Applying the
same manifests twice writes nothing the second time.

Neighbours: `engine.manifests` (loading), `runtime.cluster.cluster` (calls it).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from engine.api.base import Resource
from engine.api.core import Namespace
from engine.client import Client
from engine.documents import check_document
from engine.errors import NotFound
from engine.manifests import load_manifest_files, load_manifests, parse_object
from engine.patch import DEFAULT_MERGE_KEYS, strategic_merge_patch
from engine.registry import REGISTRY

__all__ = ["Applied", "ApplySource", "apply_objects", "load_sources"]

ApplySource = str | Path | Resource | Iterable["str | Path | Resource"]
Action = Literal["created", "configured", "unchanged"]


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply` did to one object, printed as kubectl prints it."""

    kind: str
    namespace: str
    name: str
    action: Action

    def __str__(self) -> str:
        return f"{self.kind.lower()}/{self.name} {self.action}"


def load_sources(source: ApplySource) -> list[Resource]:
    """Every object in `source`, validated and defaulted; raises before returning
    anything if one document is bad."""
    if isinstance(source, Resource):
        # An object built in Python is user input as much as a manifest is:
        # held to the apiserver's request size limit like one.
        check_document(source.to_dict(), f"{source.kind} {source.metadata.name!r}")
        return [source]
    if isinstance(source, Path):
        return list(load_manifest_files([source]))
    if isinstance(source, str):
        return list(load_manifests(source))
    objects: list[Resource] = []
    for item in source:
        objects.extend(load_sources(item))
    return objects


async def apply_objects(client: Client, objects: list[Resource]) -> list[Applied]:
    """Create each object, or bring the existing one to its spec."""
    ordered = sorted(objects, key=lambda o: 0 if isinstance(o, Namespace) else 1)
    return [await _apply_one(client, desired) for desired in ordered]


async def _apply_one(client: Client, desired: Resource) -> Applied:
    kind = type(desired)
    meta = desired.metadata
    info = REGISTRY.info(kind)
    namespace = (meta.namespace or "default") if info.namespaced else ""
    try:
        existing = await client.get(kind, meta.name, namespace=namespace or None)
    except NotFound:
        created = await client.create(desired)
        return Applied(info.kind, created.metadata.namespace, created.metadata.name, "created")
    stored = await client.update(_merged(existing, desired))
    action: Action = "unchanged" if stored is existing else "configured"
    return Applied(info.kind, namespace, meta.name, action)


def _merged(existing: Resource, desired: Resource) -> Resource:
    """`existing` with every field the manifest sets laid over it (a strategic
    merge): fields the manifest leaves out keep their current values."""
    patch = desired.to_dict()
    patch.pop("status", None)
    meta = patch.get("metadata", {})
    patch["metadata"] = {k: meta[k] for k in ("labels", "annotations") if k in meta}
    document = strategic_merge_patch(existing.to_dict(), patch, DEFAULT_MERGE_KEYS)
    merged = parse_object(document)
    return merged.model_copy(
        update={
            "metadata": existing.metadata.model_copy(
                update={
                    "labels": merged.metadata.labels,
                    "annotations": merged.metadata.annotations,
                }
            )
        }
    )
