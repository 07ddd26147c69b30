"""The read-only metrics API groups: metrics.k8s.io/v1beta1 (PodMetrics,
NodeMetrics: resource usage scraped from kubelets by the metrics server),
custom.metrics.k8s.io/v1beta2 (MetricValue: a metric describing one object)
and external.metrics.k8s.io/v1beta1 (ExternalMetricValue: a metric from
outside the cluster, labelled).

In Kubernetes these groups are served by aggregated API servers
(metrics-server, a custom metrics adapter), not stored in etcd: they answer
get and list only. Here they are registered with `read_only=True`, and the
store serves them from an `engine.aggregated.AggregatedAPI` provider that
the node side registers (`runtime.metrics`); create, update, delete and
watch are 405 MethodNotAllowed, and the garbage collector and the namespace
controller leave them alone.

Kubernetes' custom and external metric values are list items without
metadata; kubeloop gives each a name so get and list address them like any
object: a MetricValue is named `<kind>.<object>.<metric>` (lower-case kind),
an ExternalMetricValue `<metric>` or `<metric>.<n>` for the n-th labelled
series, and carries the series' labels as its own (so a label selector on
list selects series, as the external metrics API's does).

Neighbours: `engine.aggregated` (serving), `runtime.metrics` (providers),
`controllers.podautoscaler.metrics` (the HPA's reader).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engine.api.autoscaling import MetricIdentifier
from engine.api.base import KubeModel, Resource
from engine.api.core import ObjectReference
from engine.api.integers import Int64
from engine.quantity import Quantity
from engine.registry import kind

__all__ = [
    "ContainerMetrics",
    "ExternalMetricValue",
    "MetricValue",
    "NodeMetrics",
    "PodMetrics",
]


class ContainerMetrics(KubeModel):
    name: str
    usage: dict[str, Quantity] = Field(default_factory=dict)


@kind(
    "metrics.k8s.io/v1beta1",
    "PodMetrics",
    plural="pods",
    namespaced=True,
    status_subresource=False,
    read_only=True,
)
class PodMetrics(Resource):
    """Usage of one pod's containers over `window`, sampled at `timestamp`."""

    timestamp: datetime | None = None
    window: str = "15s"
    containers: list[ContainerMetrics] = Field(default_factory=list)


@kind(
    "metrics.k8s.io/v1beta1",
    "NodeMetrics",
    plural="nodes",
    namespaced=False,
    status_subresource=False,
    read_only=True,
)
class NodeMetrics(Resource):
    """Usage of one node (the sum of its containers) over `window`."""

    timestamp: datetime | None = None
    window: str = "15s"
    usage: dict[str, Quantity] = Field(default_factory=dict)


@kind(
    "custom.metrics.k8s.io/v1beta2",
    "MetricValue",
    plural="metricvalues",
    namespaced=True,
    status_subresource=False,
    read_only=True,
)
class MetricValue(Resource):
    """The value of metric `metric.name` for `described_object`."""

    described_object: ObjectReference = Field(default_factory=ObjectReference)
    metric: MetricIdentifier = Field(default_factory=lambda: MetricIdentifier(name=""))
    timestamp: datetime | None = None
    window_seconds: Int64 | None = None
    value: Quantity = Field(default_factory=lambda: Quantity("0"))


@kind(
    "external.metrics.k8s.io/v1beta1",
    "ExternalMetricValue",
    plural="externalmetricvalues",
    namespaced=True,
    status_subresource=False,
    read_only=True,
)
class ExternalMetricValue(Resource):
    """One series of external metric `metric_name` (labels: `metric_labels`)."""

    metric_name: str = ""
    metric_labels: dict[str, str] = Field(default_factory=dict)
    timestamp: datetime | None = None
    window_seconds: Int64 | None = None
    value: Quantity = Field(default_factory=lambda: Quantity("0"))
