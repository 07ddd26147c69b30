"""Resource paths: `/api/v1/...` and `/apis/{group}/{version}/...` parsed into
what a request is about.

    /api/v1/pods                                 -> pods, every namespace
    /api/v1/namespaces/default/pods/web          -> pods "web" in default
    /apis/apps/v1/namespaces/ns/deployments/d/scale -> subresource "scale"
    /api/v1/namespaces/ns                        -> the namespace "ns"
    /api/v1/namespaces/ns/status                 -> its status subresource
    /api/v1/watch/namespaces/ns/pods             -> the old watch form

A plural the registry does not serve in that group and version is a 404
Status naming it; a cluster-scoped kind under `namespaces/{ns}/` too.
Custom kinds are found once their CustomResourceDefinition is Established
(the registry serves them from then on).

Neighbours: `runtime.apiserver.app` (routes every resource path here),
`engine.registry`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import NotFound
from engine.registry import KindInfo, Registry

__all__ = ["NAMESPACE_SUBRESOURCES", "Target", "parse_resource_path"]

NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, slots=True)
class Target:
    """A parsed resource path. `namespace` is None for every namespace (or a
    cluster-scoped kind); `name` is None for the collection."""

    info: KindInfo
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_path: bool = False  # the deprecated /watch/ prefix

    @property
    def group(self) -> str:
        return self.info.group


def _info(registry: Registry, group: str, version: str, plural: str) -> KindInfo:
    info = registry.by_plural(group, plural)
    if info is not None and info.version != version:
        # another served version of the same kind (autoscaling/v1 and v2)
        for candidate in registry:
            if (
                candidate.group == group
                and candidate.version == version
                and candidate.plural == plural
            ):
                return candidate
        info = None
    if info is None:
        gv = f"{group}/{version}" if group else version
        raise NotFound(f'the server could not find the requested resource ("{plural}" in {gv})')
    return info


def parse_resource_path(registry: Registry, group: str, version: str, rest: list[str]) -> Target:
    """The target of `rest`, the path segments after the group and version."""
    watch_path = False
    if rest and rest[0] == "watch":
        watch_path, rest = True, rest[1:]
    if not rest or any(not segment for segment in rest):
        raise NotFound("the server could not find the requested resource")
    namespace: str | None = None
    if rest[0] == "namespaces" and not group and len(rest) >= 3:
        if len(rest) == 3 and rest[2] in NAMESPACE_SUBRESOURCES:
            info = _info(registry, group, version, "namespaces")
            return Target(info, None, rest[1], rest[2], watch_path)
        namespace, rest = rest[1], rest[2:]
    elif rest[0] == "namespaces" and group and len(rest) >= 3:
        namespace, rest = rest[1], rest[2:]
    if len(rest) > 3:
        raise NotFound("the server could not find the requested resource")
    info = _info(registry, group, version, rest[0])
    if namespace is not None and not info.namespaced:
        raise NotFound(
            f"the server could not find the requested resource ({info.plural} is not namespaced)"
        )
    name = rest[1] if len(rest) > 1 else None
    subresource = rest[2] if len(rest) > 2 else None
    return Target(info, namespace, name, subresource, watch_path)
