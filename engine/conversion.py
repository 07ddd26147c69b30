"""Conversion between the versions of a kind served in more than one: one
version is stored (the storage version), the others are views of it.

Built in: autoscaling/v1 <-> autoscaling/v2 HorizontalPodAutoscaler (storage
v2), as Kubernetes converts it: v1's `targetCPUUtilizationPercentage` is a
`Resource` metric on cpu with a `Utilization` target, its status
`currentCPUUtilizationPercentage` the cpu metric's current averageUtilization;
what v1 cannot express (other metrics, behavior, conditions) travels in the
`autoscaling.alpha.kubernetes.io/*` annotations, so a round trip loses nothing.
events.k8s.io/v1 Event is a view of core/v1 Event (storage v1), as in
Kubernetes, where both share one storage: `regarding` is `involvedObject`,
`note` is `message`, `reportingController` is `reportingComponent`, and the
legacy `source`, `firstTimestamp`, `lastTimestamp` and `count` are the
`deprecated*` fields; `series`, `eventTime`, `action`, `related`,
`reportingInstance`, `reason` and `type` are the same in both.
Custom kinds convert with strategy None (only apiVersion changes; `engine.crd`).

Python API: the model class asked for decides the version. `convert(obj, to)`
returns `obj` as an object of model `to` (`convert(hpa, HorizontalPodAutoscalerV1)`
with the v1 model from `REGISTRY.lookup("autoscaling/v1", ...)`);
`to_storage_version(obj)` is what manifests and patches go through, so a v1
manifest is stored as v2. The store does the same for `create`, `get`,
`try_get` and `list` with a view's model (`store.get(V1, "web")` reads the v2
object as v1); watches, updates and patches take the storage version's model.

Neighbours: `engine.manifests` (parses, then stores the storage version),
`engine.catalogue` (the v1 model), `engine.api.autoscaling` (the v2 model).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Final, TypeVar

from engine.api.base import Resource
from engine.api.defaulting import default_object
from engine.registry import REGISTRY, Registry

__all__ = [
    "convert",
    "register_conversion",
    "storage_model",
    "storage_version",
    "to_storage_version",
]

M = TypeVar("M", bound=Resource)
Document = dict[str, Any]
Converter = Callable[[Document], Document]

_CONVERTERS: dict[tuple[str, str, str], Converter] = {}
_STORAGE: dict[tuple[str, str], str] = {}  # (apiVersion, kind) -> storage apiVersion


def register_conversion(
    kind: str, storage: str, other: str, to_storage: Converter, from_storage: Converter
) -> None:
    """Serve `kind` in `other` as a view of its `storage` apiVersion."""
    _CONVERTERS[(kind, other, storage)] = to_storage
    _CONVERTERS[(kind, storage, other)] = from_storage
    _STORAGE[(other, kind)] = storage


def storage_version(api_version: str, kind: str) -> str:
    """The apiVersion objects of (api_version, kind) are stored in."""
    return _STORAGE.get((api_version, kind), api_version)


def storage_model(kind: type[Resource], registry: Registry) -> type[Resource] | None:
    """The model of `kind`'s storage version when `kind` is another version's
    view of it; None when objects of `kind` are stored as they are."""
    storage = _STORAGE.get((kind.api_group_version, kind.kind_name))
    if storage is None:
        return None
    return registry.lookup(storage, kind.kind_name).model


def convert(obj: Resource, to: type[M]) -> M:
    """`obj` as an object of model `to` (same kind, another version)."""
    if isinstance(obj, to):
        return obj
    if obj.kind_name != to.kind_name:
        raise ValueError(f"cannot convert a {obj.kind_name} to a {to.kind_name}")
    document = obj.to_dict()
    converter = _CONVERTERS.get((obj.kind_name, obj.api_group_version, to.api_group_version))
    if converter is None:
        raise ValueError(
            f"no conversion of {obj.kind_name} from {obj.api_group_version} "
            f"to {to.api_group_version}"
        )
    converted = converter(document)
    converted["apiVersion"] = to.api_group_version
    result = default_object(to.model_validate(converted))
    return result


def to_storage_version(obj: Resource) -> Resource:
    """`obj` in its kind's storage version (itself when it is stored as is)."""
    model = storage_model(type(obj), REGISTRY)
    return obj if model is None else convert(obj, model)


# -- autoscaling/v1 <-> v2 HorizontalPodAutoscaler -------------------------------------

_PREFIX: Final = "autoscaling.alpha.kubernetes.io/"
_ANNOTATIONS: Final = ("metrics", "behavior", "conditions", "current-metrics")


def _is_cpu_utilization(metric: Document) -> bool:
    resource = metric.get("resource") or {}
    target = resource.get("target") or {}
    return (
        metric.get("type") == "Resource"
        and resource.get("name") == "cpu"
        and target.get("type") == "Utilization"
        and target.get("averageUtilization") is not None
    )


def _hpa_v1_to_v2(doc: Document) -> Document:
    metadata = dict(doc.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    carried = {name: annotations.pop(_PREFIX + name, None) for name in _ANNOTATIONS}
    metadata["annotations"] = annotations
    spec = dict(doc.get("spec") or {})
    status = dict(doc.get("status") or {})
    metrics = json.loads(carried["metrics"]) if carried["metrics"] else []
    cpu = spec.pop("targetCPUUtilizationPercentage", None)
    if cpu is not None:
        target = {"type": "Utilization", "averageUtilization": cpu}
        metrics.insert(0, {"type": "Resource", "resource": {"name": "cpu", "target": target}})
    spec["metrics"] = metrics
    if carried["behavior"]:
        spec["behavior"] = json.loads(carried["behavior"])
    current = json.loads(carried["current-metrics"]) if carried["current-metrics"] else []
    current_cpu = status.pop("currentCPUUtilizationPercentage", None)
    if current_cpu is not None:
        value = {"averageUtilization": current_cpu}
        current.insert(0, {"type": "Resource", "resource": {"name": "cpu", "current": value}})
    status["currentMetrics"] = current
    if carried["conditions"]:
        status["conditions"] = json.loads(carried["conditions"])
    return {**doc, "metadata": metadata, "spec": spec, "status": status}


def _hpa_v2_to_v1(doc: Document) -> Document:
    metadata = dict(doc.get("metadata") or {})
    annotations = dict(metadata.get("annotations") or {})
    spec = dict(doc.get("spec") or {})
    status = dict(doc.get("status") or {})
    metrics = spec.pop("metrics", None) or []
    cpu = next((m for m in metrics if _is_cpu_utilization(m)), None)
    if cpu is not None:
        spec["targetCPUUtilizationPercentage"] = cpu["resource"]["target"]["averageUtilization"]
    others = [m for m in metrics if m is not cpu]
    if others:
        annotations[_PREFIX + "metrics"] = json.dumps(others)
    behavior = spec.pop("behavior", None)
    if behavior:
        annotations[_PREFIX + "behavior"] = json.dumps(behavior)
    current = status.pop("currentMetrics", None) or []
    current_cpu = next(
        (
            m
            for m in current
            if m.get("type") == "Resource"
            and (m.get("resource") or {}).get("name") == "cpu"
            and ((m["resource"].get("current") or {}).get("averageUtilization") is not None)
        ),
        None,
    )
    if current_cpu is not None:
        utilization = current_cpu["resource"]["current"]["averageUtilization"]
        status["currentCPUUtilizationPercentage"] = utilization
    rest = [m for m in current if m is not current_cpu]
    if rest:
        annotations[_PREFIX + "current-metrics"] = json.dumps(rest)
    conditions = status.pop("conditions", None)
    if conditions:
        annotations[_PREFIX + "conditions"] = json.dumps(conditions)
    status.setdefault("currentReplicas", 0)
    status.setdefault("desiredReplicas", 0)
    metadata["annotations"] = annotations
    return {**doc, "metadata": metadata, "spec": spec, "status": status}


register_conversion(
    "HorizontalPodAutoscaler", "autoscaling/v2", "autoscaling/v1", _hpa_v1_to_v2, _hpa_v2_to_v1
)


# -- core/v1 <-> events.k8s.io/v1 Event ------------------------------------------------

_EVENT_RENAMES: Final = (  # (core/v1 field, events.k8s.io/v1 field)
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
)


def _renamed(doc: Document, pairs: tuple[tuple[str, str], ...]) -> Document:
    out = dict(doc)
    for old, new in pairs:
        value = out.pop(old, None)
        if value is not None:
            out[new] = value
    return out


def _event_v1_to_core(doc: Document) -> Document:
    return _renamed(doc, tuple((new, old) for old, new in _EVENT_RENAMES))


def _event_core_to_v1(doc: Document) -> Document:
    return _renamed(doc, _EVENT_RENAMES)


register_conversion("Event", "v1", "events.k8s.io/v1", _event_v1_to_core, _event_core_to_v1)
