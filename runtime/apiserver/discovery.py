"""Discovery: what the server serves, in the documents clients read first.

`/version`; `/api` (APIVersions) and `/api/v1`; `/apis` (APIGroupList) and
`/apis/{group}/{version}` (APIResourceList with verbs, short names, categories
and subresources: status, scale, pods' log/binding/eviction,
serviceaccounts' token), the review kinds of `authentication.k8s.io` and
`authorization.k8s.io` (create only). Built from the store's registry on
every request, so a CustomResourceDefinition's kind shows up as soon as it is
Established, and disappears with it.

The aggregated form (`apidiscovery.k8s.io` v2, and v2beta1 for clients that
ask for it): `/api` and `/apis` answer an `APIGroupDiscoveryList` holding
every group, version and resource (scope, singular name, verbs, short names,
categories, subresources with their response kinds) in one document when the
Accept header asks for `application/json;g=apidiscovery.k8s.io;v=v2;
as=APIGroupDiscoveryList` (kubectl does, first), with that Content-Type, so
kubectl makes two discovery requests instead of one per group version. Other
clients get the legacy documents. Both forms come from the same entries
(`api_resource_list`), so they cannot disagree.

A group's preferred version is the version of its first kind's storage
(registration order, as `engine.registry` keeps it).

Neighbours: `runtime.apiserver.app` (routes), `engine.registry`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Final

from engine import crd
from engine.registry import KindInfo, Registry
from runtime.apiserver.reviews import REVIEWS

__all__ = [
    "KUBERNETES_VERSION",
    "aggregated_discovery",
    "aggregated_media_type",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "group_versions",
    "version_info",
]

KUBERNETES_VERSION: Final = (1, 34)
"""The Kubernetes version whose API kubeloop serves (`engine.catalogue`)."""

VERBS: Final = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]

SHORT_NAMES: Final[dict[tuple[str, str], list[str]]] = {
    ("", "configmaps"): ["cm"],
    ("", "endpoints"): ["ep"],
    ("", "events"): ["ev"],
    ("", "limitranges"): ["limits"],
    ("", "namespaces"): ["ns"],
    ("", "nodes"): ["no"],
    ("", "persistentvolumeclaims"): ["pvc"],
    ("", "persistentvolumes"): ["pv"],
    ("", "pods"): ["po"],
    ("", "replicationcontrollers"): ["rc"],
    ("", "resourcequotas"): ["quota"],
    ("", "serviceaccounts"): ["sa"],
    ("", "services"): ["svc"],
    ("apiextensions.k8s.io", "customresourcedefinitions"): ["crd", "crds"],
    ("apps", "daemonsets"): ["ds"],
    ("apps", "deployments"): ["deploy"],
    ("apps", "replicasets"): ["rs"],
    ("apps", "statefulsets"): ["sts"],
    ("autoscaling", "horizontalpodautoscalers"): ["hpa"],
    ("batch", "cronjobs"): ["cj"],
    ("certificates.k8s.io", "certificatesigningrequests"): ["csr"],
    ("events.k8s.io", "events"): ["ev"],
    ("networking.k8s.io", "ingresses"): ["ing"],
    ("networking.k8s.io", "networkpolicies"): ["netpol"],
    ("policy", "poddisruptionbudgets"): ["pdb"],
    ("scheduling.k8s.io", "priorityclasses"): ["pc"],
    ("storage.k8s.io", "storageclasses"): ["sc"],
}

_ALL: Final = ["all"]
CATEGORIES: Final[dict[tuple[str, str], list[str]]] = {
    ("", "pods"): _ALL,
    ("", "services"): _ALL,
    ("", "replicationcontrollers"): _ALL,
    ("apps", "daemonsets"): _ALL,
    ("apps", "deployments"): _ALL,
    ("apps", "replicasets"): _ALL,
    ("apps", "statefulsets"): _ALL,
    ("autoscaling", "horizontalpodautoscalers"): _ALL,
    ("batch", "cronjobs"): _ALL,
    ("batch", "jobs"): _ALL,
}


def version_info() -> dict[str, str]:
    major, minor = KUBERNETES_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.0-kubeloop",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.24",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def group_versions(registry: Registry) -> dict[str, list[str]]:
    """Served versions by group, the preferred version first."""
    found: dict[str, list[str]] = {}
    preferred: dict[str, str] = {}
    for info in registry:
        versions = found.setdefault(info.group, [])
        if info.version not in versions:
            versions.append(info.version)
        if info.group not in preferred:
            stored = registry.by_plural(info.group, info.plural)
            preferred[info.group] = stored.version if stored is not None else info.version
    for review in REVIEWS:
        found.setdefault(review.group, ["v1"])
        preferred.setdefault(review.group, "v1")
    return {
        group: [preferred[group], *(v for v in versions if v != preferred[group])]
        for group, versions in found.items()
    }


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _group(name: str, versions: list[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    return {"name": name, "versions": entries, "preferredVersion": entries[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    groups = [_group(g, v) for g, v in sorted(group_versions(registry).items()) if g]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, name: str) -> dict[str, Any] | None:
    versions = group_versions(registry).get(name)
    if not name or not versions:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, versions)}


def _resource(info: KindInfo) -> dict[str, Any]:
    key = (info.group, info.plural)
    model: Any = info.model
    entry: dict[str, Any] = {
        "name": info.plural,
        "singularName": getattr(model, "singular", "") or info.kind.lower(),
        "namespaced": info.namespaced,
        "kind": info.kind,
        # Read-only kinds (the metrics APIs) answer get and list only.
        "verbs": ["get", "list"] if info.read_only else VERBS,
    }
    short = list(getattr(model, "short_names", ())) or SHORT_NAMES.get(key)
    if short:
        entry["shortNames"] = short
    categories = list(getattr(model, "categories", ())) or CATEGORIES.get(key)
    if categories:
        entry["categories"] = categories
    return entry


def _subresources(info: KindInfo) -> Iterable[dict[str, Any]]:
    def sub(name: str, kind: str, verbs: list[str], **extra: str) -> dict[str, Any]:
        return {
            "name": f"{info.plural}/{name}",
            "singularName": "",
            "namespaced": info.namespaced,
            "kind": kind,
            "verbs": verbs,
            **extra,
        }

    if info.has_status_subresource:
        yield sub("status", info.kind, ["get", "patch", "update"])
    model: Any = info.model
    custom_scale = issubclass(model, crd.CustomResource) and (
        model.version_info is not None and model.version_info.scale is not None
    )
    if (info.has_scale_subresource and not issubclass(model, crd.CustomResource)) or custom_scale:
        yield sub("scale", "Scale", ["get", "patch", "update"], group="autoscaling", version="v1")
    if info.group == "" and info.plural == "serviceaccounts":
        yield sub("token", "TokenRequest", ["create"], group="authentication.k8s.io", version="v1")
    if info.group == "" and info.plural == "pods":
        yield sub("log", "Pod", ["get"])
        yield sub("binding", "Binding", ["create"])
        yield sub("eviction", "Eviction", ["create"], group="policy", version="v1")


def _reviews(group: str, version: str) -> list[dict[str, Any]]:
    """The review kinds of a group version: create-only, never stored."""
    if version != "v1":
        return []
    return [
        {
            "name": r.resource,
            "singularName": r.kind.lower(),
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": ["create"],
        }
        for r in REVIEWS
        if r.group == group
    ]


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """The APIResourceList of one group version, None if it is not served."""
    served = [i for i in registry if i.group == group and i.version == version]
    reviews = _reviews(group, version)
    if not served and not reviews:
        return None
    resources: list[dict[str, Any]] = []
    for info in sorted(served, key=lambda i: i.plural):
        resources.append(_resource(info))
        resources.extend(_subresources(info))
    resources.extend(reviews)
    resources.sort(key=lambda r: r["name"])
    gv = f"{group}/{version}" if group else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": gv,
        "resources": resources,
    }


_AGGREGATED_VERSIONS: Final = ("v2", "v2beta1")


def aggregated_media_type(accept: str) -> str | None:
    """The aggregated discovery media type to answer with: the first one the
    Accept header lists (`...;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList`),
    or None when it asks for none (the legacy form)."""
    for part in accept.split(","):
        kind, *raw = (p.strip() for p in part.split(";"))
        params = dict(p.partition("=")[::2] for p in raw)
        if (
            kind == "application/json"
            and params.get("g") == "apidiscovery.k8s.io"
            and params.get("as") == "APIGroupDiscoveryList"
            and params.get("v") in _AGGREGATED_VERSIONS
        ):
            return (
                f"application/json;g=apidiscovery.k8s.io;v={params['v']};as=APIGroupDiscoveryList"
            )
    return None


def _aggregated_resources(listed: dict[str, Any]) -> list[dict[str, Any]]:
    group, _, version = listed["groupVersion"].rpartition("/")
    entries: list[dict[str, Any]] = listed["resources"]

    def response_kind(entry: dict[str, Any]) -> dict[str, str]:
        return {
            "group": entry.get("group", group),
            "version": entry.get("version", version),
            "kind": entry["kind"],
        }

    resources = []
    for entry in entries:
        if "/" in entry["name"]:
            continue
        resource: dict[str, Any] = {
            "resource": entry["name"],
            "responseKind": response_kind(entry),
            "scope": "Namespaced" if entry["namespaced"] else "Cluster",
            "singularResource": entry["singularName"],
            "verbs": entry["verbs"],
        }
        for key in ("shortNames", "categories"):
            if entry.get(key):
                resource[key] = entry[key]
        prefix = f"{entry['name']}/"
        subresources = [
            {
                "subresource": sub["name"][len(prefix) :],
                "responseKind": response_kind(sub),
                "verbs": sub["verbs"],
            }
            for sub in entries
            if sub["name"].startswith(prefix)
        ]
        if subresources:
            resource["subresources"] = subresources
        resources.append(resource)
    return resources


def aggregated_discovery(registry: Registry, media_type: str, *, core: bool) -> dict[str, Any]:
    """The APIGroupDiscoveryList of `/api` (`core`) or `/apis`, in the version
    `media_type` names."""
    served = group_versions(registry)
    names = [""] if core else sorted(g for g in served if g)
    items = []
    for name in names:
        versions = []
        for version in served.get(name, []):
            listed = api_resource_list(registry, name, version)
            if listed is not None:
                versions.append(
                    {
                        "version": version,
                        "resources": _aggregated_resources(listed),
                        "freshness": "Current",
                    }
                )
        metadata: dict[str, Any] = {"creationTimestamp": None}
        if name:
            metadata["name"] = name
        items.append({"metadata": metadata, "versions": versions})
    version = media_type.split(";v=")[1].split(";")[0]
    return {
        "kind": "APIGroupDiscoveryList",
        "apiVersion": f"apidiscovery.k8s.io/{version}",
        "metadata": {},
        "items": items,
    }
