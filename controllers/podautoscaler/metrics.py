"""What the HPA reads metrics through: `MetricsClient`, and its API-backed
implementation `ApiMetricsClient` (kube-controller-manager's REST metrics
client).

Values are integers in thousandths (Kubernetes' `MilliValue()`): cpu in
millicores, memory in milli-bytes, custom metrics in milli-units.

* `resource_metric(resource, namespace, selector, container)`: per pod, the
  sum over its containers (or the one named) of `usage[resource]`, from
  metrics.k8s.io PodMetrics. A pod whose PodMetrics lacks the resource for a
  container, or lacks the named container, is left out (it counts as a
  missing metric), as Kubernetes' client does.
* `raw_metric(name, namespace, selector, metric_selector)`: per pod, the
  custom metric `name` (custom.metrics.k8s.io MetricValue of kind Pod; the
  calculator keeps only the pods `selector` lists, as the API would).
* `object_metric(name, namespace, ref, metric_selector)`: the custom metric
  of one object.
* `external_metric(name, namespace, metric_selector)`: every series of an
  external metric whose labels the selector matches.

Each returns the values and the oldest sample's timestamp; an unavailable
metric raises `MetricsUnavailable` with the reason.

Neighbours: `engine.api.metrics` (the kinds read), the replica calculator
(`controllers.podautoscaler.calculator`), `runtime.metrics` (serves them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from engine.api.autoscaling import CrossVersionObjectReference
from engine.api.base import LabelSelector
from engine.api.metrics import ExternalMetricValue, MetricValue, PodMetrics
from engine.client import Client
from engine.errors import ApiError
from engine.selectors import Selector, from_label_selector

__all__ = ["ApiMetricsClient", "MetricsClient", "MetricsUnavailable", "PodMetric"]

_WINDOWS: dict[str, float] = {}


class MetricsUnavailable(Exception):
    """A metric could not be read (the message says why)."""


@dataclass(frozen=True, slots=True)
class PodMetric:
    """One pod's sample: `value` in thousandths, taken at `timestamp` over `window` s."""

    timestamp: datetime
    window: float
    value: int


PodMetricsInfo = dict[str, PodMetric]


class MetricsClient(Protocol):
    async def resource_metric(
        self, resource: str, namespace: str, selector: Selector, container: str | None
    ) -> tuple[PodMetricsInfo, datetime | None]: ...

    async def raw_metric(
        self,
        name: str,
        namespace: str,
        selector: Selector,
        metric_selector: LabelSelector | None,
    ) -> tuple[PodMetricsInfo, datetime | None]: ...

    async def object_metric(
        self,
        name: str,
        namespace: str,
        ref: CrossVersionObjectReference,
        metric_selector: LabelSelector | None,
    ) -> tuple[int, datetime | None]: ...

    async def external_metric(
        self, name: str, namespace: str, metric_selector: LabelSelector | None
    ) -> tuple[list[int], datetime | None]: ...


def window_seconds(text: str) -> float:
    """`15s`, `1m0s`, `30.5s` -> seconds (the PodMetrics window)."""
    cached = _WINDOWS.get(text)
    if cached is None:
        total, number = 0.0, ""
        for char in text:
            if char.isdigit() or char == ".":
                number += char
            else:
                total += float(number or 0) * {"h": 3600.0, "m": 60.0, "s": 1.0}.get(char, 0.0)
                number = ""
        cached = _WINDOWS[text] = total + float(number or 0)
    return cached


def _oldest(current: datetime | None, candidate: datetime | None) -> datetime | None:
    if candidate is None:
        return current
    return candidate if current is None or candidate < current else current


def _selector_matches(selector: LabelSelector | None, labels: Mapping[str, str]) -> bool:
    return selector is None or from_label_selector(selector).matches(labels)


class ApiMetricsClient:
    """Reads the metrics API groups through a `Client` (get and list)."""

    def __init__(self, client: Client) -> None:
        self.client = client
        # One PodMetric per (PodMetrics object, resource, container): the
        # objects are immutable and re-read every sync until the next scrape.
        self._samples: dict[tuple[int, str, str | None], tuple[PodMetrics, PodMetric | None]] = {}

    def _sample(
        self, metrics: PodMetrics, resource: str, container: str | None
    ) -> PodMetric | None:
        key = (id(metrics), resource, container)
        cached = self._samples.get(key)
        if cached is not None and cached[0] is metrics:
            return cached[1]
        sample = _pod_sample(metrics, resource, container)
        if len(self._samples) >= 100_000:
            self._samples.clear()
        self._samples[key] = (metrics, sample)
        return sample

    async def resource_metric(
        self, resource: str, namespace: str, selector: Selector, container: str | None
    ) -> tuple[PodMetricsInfo, datetime | None]:
        try:
            listed = await self.client.list(
                PodMetrics, namespace=namespace, label_selector=selector
            )
        except ApiError as error:
            raise MetricsUnavailable(
                f"unable to fetch metrics from resource metrics API: {error}"
            ) from None
        if not listed.items:
            raise MetricsUnavailable("no metrics returned from resource metrics API")
        result: PodMetricsInfo = {}
        oldest: datetime | None = None
        for metrics in listed.items:
            sample = self._sample(metrics, resource, container)
            if sample is None:
                continue
            result[metrics.metadata.name] = sample
            if oldest is None or sample.timestamp < oldest:
                oldest = sample.timestamp
        return result, oldest

    async def raw_metric(
        self,
        name: str,
        namespace: str,
        selector: Selector,
        metric_selector: LabelSelector | None,
    ) -> tuple[PodMetricsInfo, datetime | None]:
        values = await self._values(namespace, name, metric_selector)
        result: PodMetricsInfo = {}
        oldest: datetime | None = None
        for value in values:
            ref = value.described_object
            if ref.kind != "Pod" or ref.name is None or value.timestamp is None:
                continue
            window = float(value.window_seconds or 0)
            result[ref.name] = PodMetric(value.timestamp, window, value.value.milli_value())
            oldest = _oldest(oldest, value.timestamp)
        if not result:
            raise MetricsUnavailable(f"no metrics returned from custom metrics API for {name}")
        return result, oldest

    async def object_metric(
        self,
        name: str,
        namespace: str,
        ref: CrossVersionObjectReference,
        metric_selector: LabelSelector | None,
    ) -> tuple[int, datetime | None]:
        for value in await self._values(namespace, name, metric_selector):
            described = value.described_object
            if described.kind == ref.kind and described.name == ref.name:
                return value.value.milli_value(), value.timestamp
        raise MetricsUnavailable(
            f"no metric {name} returned from custom metrics API for {ref.kind} {ref.name}"
        )

    async def external_metric(
        self, name: str, namespace: str, metric_selector: LabelSelector | None
    ) -> tuple[list[int], datetime | None]:
        try:
            listed = await self.client.list(
                ExternalMetricValue,
                namespace=namespace,
                label_selector=from_label_selector(metric_selector) if metric_selector else None,
            )
        except ApiError as error:
            raise MetricsUnavailable(
                f"unable to fetch metrics from external metrics API: {error}"
            ) from None
        values = [v for v in listed.items if v.metric_name == name]
        if not values:
            raise MetricsUnavailable(f"no metrics returned from external metrics API for {name}")
        oldest: datetime | None = None
        for value in values:
            oldest = _oldest(oldest, value.timestamp)
        return [v.value.milli_value() for v in values], oldest

    async def _values(
        self, namespace: str, name: str, metric_selector: LabelSelector | None
    ) -> list[MetricValue]:
        try:
            listed = await self.client.list(MetricValue, namespace=namespace)
        except ApiError as error:
            raise MetricsUnavailable(
                f"unable to fetch metrics from custom metrics API: {error}"
            ) from None
        return [
            v
            for v in listed.items
            if v.metric.name == name and _metric_labels_match(metric_selector, v)
        ]


def _pod_sample(metrics: PodMetrics, resource: str, container: str | None) -> PodMetric | None:
    """The pod's usage of `resource` (in one container, or summed), or None
    when a container's sample lacks it or the named container is absent."""
    if metrics.timestamp is None:
        return None
    total = 0
    found = False
    for c in metrics.containers:
        if container is not None and c.name != container:
            continue
        usage = c.usage.get(resource)
        if usage is None:
            return None
        total += usage.milli_value()
        found = True
    if not found:
        return None
    return PodMetric(metrics.timestamp, window_seconds(metrics.window), total)


def _metric_labels_match(selector: LabelSelector | None, value: MetricValue) -> bool:
    if selector is None:
        return True
    published = value.metric.selector
    labels = dict(published.match_labels) if published is not None else {}
    return _selector_matches(selector, labels)
