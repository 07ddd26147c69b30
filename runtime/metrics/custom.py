"""`CustomMetrics`: a custom and external metrics adapter in the process
(what prometheus-adapter or KEDA's metrics server is to a real cluster).

Values are published from Python (or a scenario's `metric` step) and served
read only through the store as custom.metrics.k8s.io MetricValue and
external.metrics.k8s.io ExternalMetricValue (`engine.api.metrics`), which
the HPA reads for its Pods, Object and External metrics:

    metrics = cluster.custom_metrics
    metrics.publish("Pod", "web-0", "requests_per_second", "12", namespace="shop")
    metrics.publish("Ingress", "main", "hits_per_second", "2k", namespace="shop")
    metrics.publish_external("queue_messages_ready", 30, labels={"queue": "work"})

A value is a Quantity or anything that parses as one; publishing again
replaces the value (and its timestamp, the clock's now). `unpublish` and
`unpublish_external` remove a series (the HPA then reports it missing).

Neighbours: `engine.aggregated` (serving), `runtime.metrics.server` (the
resource metrics), `controllers.podautoscaler.metrics` (the reader).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from engine.api.autoscaling import MetricIdentifier
from engine.api.base import LabelSelector, ObjectMeta, Resource
from engine.api.core import ObjectReference
from engine.api.metrics import ExternalMetricValue, MetricValue
from engine.clock import Clock
from engine.quantity import Quantity
from engine.selectors import Selector

__all__ = ["CustomMetrics"]

_API_VERSIONS = {
    "Pod": "v1",
    "Service": "v1",
    "Deployment": "apps/v1",
    "StatefulSet": "apps/v1",
    "ReplicaSet": "apps/v1",
    "Ingress": "networking.k8s.io/v1",
}


def _quantity(value: Quantity | str | int | float) -> Quantity:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, float):
        return Quantity.from_milli(round(value * 1000))
    try:
        return Quantity(str(value))
    except (ValueError, TypeError) as error:
        raise ValueError(f"metric value {value!r} is not a quantity: {error}") from None


class CustomMetrics:
    """Published custom and external metric values (see the module docstring)."""

    def __init__(self, clock: Clock, *, window_seconds: int = 60) -> None:
        self.clock = clock
        self.window_seconds = window_seconds
        self._custom: dict[tuple[str, str], MetricValue] = {}
        self._external: dict[tuple[str, str], ExternalMetricValue] = {}

    def publish(
        self,
        kind: str,
        name: str,
        metric: str,
        value: Quantity | str | int | float,
        *,
        namespace: str = "default",
        api_version: str | None = None,
        metric_labels: Mapping[str, str] | None = None,
    ) -> MetricValue:
        """Set custom metric `metric` of object `kind`/`name` to `value`."""
        if not kind or not name or not metric:
            raise ValueError("publish needs a kind, an object name and a metric name")
        key_name = f"{kind.lower()}.{name}.{metric}"
        obj = MetricValue(
            metadata=ObjectMeta(name=key_name, namespace=namespace),
            described_object=ObjectReference(
                kind=kind,
                name=name,
                namespace=namespace,
                api_version=api_version or _API_VERSIONS.get(kind),
            ),
            metric=MetricIdentifier(
                name=metric,
                selector=LabelSelector(match_labels=dict(metric_labels)) if metric_labels else None,
            ),
            timestamp=self.clock.now(),
            window_seconds=self.window_seconds,
            value=_quantity(value),
        )
        self._custom[(namespace, key_name)] = obj
        return obj

    def unpublish(self, kind: str, name: str, metric: str, *, namespace: str = "default") -> None:
        self._custom.pop((namespace, f"{kind.lower()}.{name}.{metric}"), None)

    def publish_external(
        self,
        metric: str,
        value: Quantity | str | int | float,
        *,
        namespace: str = "default",
        labels: Mapping[str, str] | None = None,
    ) -> ExternalMetricValue:
        """Set the series of external metric `metric` with `labels` to `value`."""
        if not metric:
            raise ValueError("publish_external needs a metric name")
        series = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
        key_name = metric if not series else f"{metric}.{_series_id(series)}"
        obj = ExternalMetricValue(
            metadata=ObjectMeta(name=key_name, namespace=namespace, labels=dict(labels or {})),
            metric_name=metric,
            metric_labels=dict(labels or {}),
            timestamp=self.clock.now(),
            window_seconds=self.window_seconds,
            value=_quantity(value),
        )
        self._external[(namespace, key_name)] = obj
        return obj

    def unpublish_external(
        self, metric: str, *, namespace: str = "default", labels: Mapping[str, str] | None = None
    ) -> None:
        series = ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items()))
        key_name = metric if not series else f"{metric}.{_series_id(series)}"
        self._external.pop((namespace, key_name), None)

    # -- serving (engine.aggregated.AggregatedAPI) -------------------------------------

    def served_kinds(self) -> Sequence[type[Resource]]:
        return (MetricValue, ExternalMetricValue)

    def get_object(self, kind: type[Resource], name: str, namespace: str) -> Resource | None:
        table: Mapping[tuple[str, str], Resource] = (
            self._custom if kind is MetricValue else self._external
        )
        return table.get((namespace, name))

    def list_objects(
        self, kind: type[Resource], namespace: str | None, selector: Selector | None
    ) -> list[Resource]:
        table: Mapping[tuple[str, str], Resource] = (
            self._custom if kind is MetricValue else self._external
        )
        return [
            obj
            for key, obj in sorted(table.items())
            if (namespace is None or key[0] == namespace)
            and (selector is None or selector.matches(obj.metadata.labels))
        ]


def _series_id(series: str) -> str:
    return hashlib.sha256(series.encode()).hexdigest()[:10]
