"""The differential oracle: the same desired state reached along different
paths must give equivalent end states.

`normalize(store)` reduces a cluster to what should not depend on the path
taken, ignoring identities and history:

* every object loses uid, resourceVersion, generation, timestamps, managed
  bookkeeping and the uids inside ownerReferences; names made from
  `generateName` (pods, ReplicaSets of a Deployment) are replaced by their
  owner's name and pod-template-hash, so objects are compared as multisets;
* statuses keep the counts (replicas, ready, available, updated) and phases,
  and whether the latest generation was observed, not when or how often;
* ReplicaSets a Deployment has scaled to zero with no pods left are history,
  not state, and are left out (a path with more rollouts keeps more of them);
* pods keep their owner, template hash, phase, readiness and containers'
  images, not their node, IPs or restart counts (faults on one path restart
  containers the other never touched);
* Leases, Events and Nodes' heartbeat times are dropped; nodes keep their
  readiness and taints;
* a provisioned PersistentVolume is named by its claim (its name holds the
  claim's uid), as is the claim's `volumeName`.
* EndpointSlices and Endpoints (derived from pods, whose names and
  addresses are path dependent) are dropped, and Services lose the
  addresses and node ports allocated to them.

`desired_manifests(store)` extracts what a user asked for (the workloads and
bare pods nobody owns, as manifests), to apply on a fresh cluster;
`compare(a, b)` lists the differences of two normalized states.

Placement is path dependent when nodes are nearly full (which pods fit where
depends on what came first): compare end states of clusters with room.

Neighbours: `runtime.simulation.simulation`; tests/simulation/test_differential.py.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from controllers.endpoints import LABEL_SKIP_MIRROR
from engine.admission.serviceaccount import ROOT_CA_CONFIGMAP
from engine.api.apps import Deployment, ReplicaSet
from engine.api.base import Resource
from engine.api.coordination import Lease
from engine.api.core import (
    ANN_PROVISIONED_BY,
    ConfigMap,
    Endpoints,
    Event,
    Namespace,
    Node,
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    Service,
)
from engine.api.discovery import EndpointSlice
from engine.api.scheduling import PriorityClass
from engine.managedfields import SERVER_METADATA
from engine.store import Store
from engine.strategies import SYSTEM_PRIORITY_CLASSES
from runtime.cluster.storage import DEFAULT_STORAGE_CLASS

__all__ = ["compare", "desired_manifests", "normalize"]

_SKIPPED = (Lease, Event, EndpointSlice, Endpoints)
_ALLOCATED = ("clusterIP", "clusterIPs", "healthCheckNodePort")
_SYSTEM_PRIORITY_CLASSES = frozenset(p.metadata.name for p in SYSTEM_PRIORITY_CLASSES)
_HASH_LABEL = "pod-template-hash"
_IGNORED_ANNOTATIONS = (
    "deployment.kubernetes.io/revision",
    "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas",
    "deployment.kubernetes.io/max-replicas",
    # what apply recorded: different paths apply different manifests
    "kubectl.kubernetes.io/last-applied-configuration",
)


def _meta(obj: Resource, owner_names: dict[str, str]) -> dict[str, Any]:
    meta: dict[str, Any] = dict(obj.to_dict()["metadata"])
    for key in SERVER_METADATA:
        meta.pop(key, None)
    annotations = {
        k: v for k, v in meta.get("annotations", {}).items() if k not in _IGNORED_ANNOTATIONS
    }
    if annotations:
        meta["annotations"] = annotations
    else:
        meta.pop("annotations", None)
    refs = meta.get("ownerReferences")
    if refs:
        meta["ownerReferences"] = [{k: v for k, v in r.items() if k != "uid"} for r in refs]
    if obj.metadata.generate_name:
        owner = _owner_name(obj, owner_names)
        meta["name"] = f"{owner}/{obj.metadata.labels.get(_HASH_LABEL, '')}"
    return meta


def _owner_name(obj: Resource, owner_names: dict[str, str]) -> str:
    ref = obj.metadata.controller_ref()
    if ref is None:
        return obj.metadata.generate_name or obj.metadata.name
    return owner_names.get(ref.uid, ref.name)


def _pod(pod: Pod, owner_names: dict[str, str]) -> dict[str, Any]:
    ready = any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)
    return {
        "owner": _owner_name(pod, owner_names)
        if pod.metadata.owner_references
        else pod.metadata.name,
        "hash": pod.metadata.labels.get(_HASH_LABEL, ""),
        "labels": dict(sorted(pod.metadata.labels.items())),
        "images": [c.image for c in pod.spec.containers],
        "phase": pod.status.phase,
        "ready": ready,
        "terminating": pod.metadata.deletion_timestamp is not None,
        "scheduled": bool(pod.spec.node_name),
    }


def _workload_status(obj: ReplicaSet | Deployment) -> dict[str, Any]:
    status = obj.status
    out: dict[str, Any] = {
        "replicas": status.replicas,
        "readyReplicas": status.ready_replicas,
        "availableReplicas": status.available_replicas,
        "observedLatest": status.observed_generation >= obj.metadata.generation,
    }
    if isinstance(obj, Deployment):
        out["updatedReplicas"] = obj.status.updated_replicas
    return out


def normalize(store: Store) -> dict[str, list[str]]:
    """The path-independent part of `store`, per kind, as sorted canonical JSON lines."""
    owner_names: dict[str, str] = {}
    for rs in store.objects(ReplicaSet):
        ref = rs.metadata.controller_ref()
        name = rs.metadata.name
        if ref is not None and rs.metadata.generate_name == "":
            # Deployment-made ReplicaSets are named <deployment>-<hash>.
            name = f"{ref.name}/{rs.metadata.labels.get(_HASH_LABEL, '')}"
        owner_names[rs.metadata.uid] = name
    for d in store.objects(Deployment):
        owner_names[d.metadata.uid] = d.metadata.name
    provisioned = _provisioned_volumes(store)
    result: dict[str, list[str]] = {}
    for info in sorted(store.kinds(), key=lambda i: (i.group, i.kind)):
        if issubclass(info.model, _SKIPPED):
            continue
        lines: list[str] = []
        for obj in store.objects(info.model):
            entry = _normalize_one(obj, owner_names, store, provisioned)
            if entry is not None:
                lines.append(json.dumps(entry, sort_keys=True, default=str))
        if lines:
            result[info.kind] = sorted(lines)
    return result


def _provisioned_volumes(store: Store) -> dict[str, str]:
    """Dynamically provisioned volumes' names (`pvc-<claim uid>`), each mapped to
    a name that does not depend on the path: its claim's namespace and name."""
    out: dict[str, str] = {}
    for pv in store.objects(PersistentVolume):
        ref = pv.spec.claim_ref
        if ANN_PROVISIONED_BY in pv.metadata.annotations and ref is not None:
            out[pv.metadata.name] = f"provisioned-for:{ref.namespace}/{ref.name}"
    return out


def _normalize_one(
    obj: Resource, owner_names: dict[str, str], store: Store, provisioned: dict[str, str]
) -> dict[str, Any] | None:
    if isinstance(obj, Pod):
        return _pod(obj, owner_names)
    if isinstance(obj, Node):
        ready = any(c.type == "Ready" and c.status == "True" for c in obj.status.conditions)
        return {
            "name": obj.metadata.name,
            "ready": ready,
            "taints": sorted(t.key for t in obj.spec.taints),
            "unschedulable": obj.spec.unschedulable,
        }
    if isinstance(obj, Namespace):
        return {
            "name": obj.metadata.name,
            "terminating": obj.metadata.deletion_timestamp is not None,
        }
    data = obj.to_dict()
    meta = _meta(obj, owner_names)
    if isinstance(obj, ReplicaSet):
        ref = obj.metadata.controller_ref()
        if ref is not None and ref.kind == "Deployment":
            pods = [
                p
                for p in store.objects(Pod)
                if (r := p.metadata.controller_ref()) and r.uid == obj.metadata.uid
            ]
            if obj.spec.replicas == 0 and not pods:
                return None  # history of an earlier rollout
            meta["name"] = owner_names[obj.metadata.uid]
        return {"metadata": meta, "spec": data.get("spec"), "status": _workload_status(obj)}
    if isinstance(obj, Deployment):
        return {"metadata": meta, "spec": data.get("spec"), "status": _workload_status(obj)}
    if isinstance(obj, PersistentVolume) and obj.metadata.name in provisioned:
        meta["name"] = provisioned[obj.metadata.name]
        data["spec"]["claimRef"] = {
            k: v for k, v in data["spec"]["claimRef"].items() if k not in ("uid", "resourceVersion")
        }
    if isinstance(obj, PersistentVolumeClaim) and obj.spec.volume_name in provisioned:
        data["spec"]["volumeName"] = provisioned[obj.spec.volume_name]
    data["metadata"] = meta
    data.pop("status", None)
    if isinstance(obj, Service):
        _drop_allocations(data)
    return data


def _drop_allocations(data: dict[str, Any]) -> None:
    spec = data.get("spec", {})
    for key in _ALLOCATED:
        spec.pop(key, None)
    for port in spec.get("ports", []):
        port.pop("nodePort", None)


def compare(a: dict[str, list[str]], b: dict[str, list[str]]) -> list[str]:
    """Differences between two normalized states, one line each (empty: equivalent)."""
    out: list[str] = []
    for kind in sorted(set(a) | set(b)):
        left, right = Counter(a.get(kind, [])), Counter(b.get(kind, []))
        out.extend(
            f"{kind}: only in the first: {line}" for line in sorted((left - right).elements())
        )
        out.extend(
            f"{kind}: only in the second: {line}" for line in sorted((right - left).elements())
        )
    return out


def desired_manifests(store: Store) -> list[dict[str, Any]]:
    """The objects a user created (nobody owns them; not nodes, namespaces,
    leases, events, the system PriorityClasses, the cluster's default
    StorageClass, the `default` ServiceAccounts the serviceaccount controller
    makes, the `kube-root-ca.crt` ConfigMaps the root CA publisher makes or the
    volumes the PersistentVolume controller provisions), as manifests without identity or
    status. A claim keeps no binding to a provisioned volume: the fresh
    cluster provisions its own."""
    provisioned = _provisioned_volumes(store)
    out = []
    for info in sorted(store.kinds(), key=lambda i: (i.group, i.kind)):
        if issubclass(info.model, (*_SKIPPED, Node, Namespace)):
            continue
        for obj in sorted(store.objects(info.model), key=lambda o: o.key):
            meta = obj.metadata
            if meta.owner_references or meta.deletion_timestamp is not None:
                continue
            if isinstance(obj, PriorityClass) and meta.name in _SYSTEM_PRIORITY_CLASSES:
                continue  # made by the store at start, as the apiserver makes them
            if info.kind == "ServiceAccount" and not info.group and meta.name == "default":
                continue
            if isinstance(obj, ConfigMap) and meta.name == ROOT_CA_CONFIGMAP:
                continue  # the root CA publisher's, in every namespace
            if info.kind == "StorageClass" and meta.name == DEFAULT_STORAGE_CLASS:
                continue  # made by the cluster at start, as kind and minikube make it
            if meta.name in provisioned and isinstance(obj, PersistentVolume):
                continue
            if meta.name == "kubernetes" and info.kind in ("Service", "ServiceCIDR"):
                continue  # likewise
            if isinstance(obj, Endpoints) and meta.labels.get(LABEL_SKIP_MIRROR) == "true":
                continue  # the Endpoints controller's
            data = obj.to_dict()
            data.pop("status", None)
            if isinstance(obj, PersistentVolumeClaim) and obj.spec.volume_name in provisioned:
                data["spec"].pop("volumeName")
            kept = {"name": meta.name, "namespace": meta.namespace}
            if meta.labels:
                kept["labels"] = dict(meta.labels)  # type: ignore[assignment]
            data["metadata"] = kept
            if isinstance(obj, Pod):
                data["spec"] = {k: v for k, v in data["spec"].items() if k != "nodeName"}
            if isinstance(obj, Service):
                _drop_allocations(data)
            out.append(data)
    return out
