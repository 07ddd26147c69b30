"""The autoscaling/v2 API group: HorizontalPodAutoscaler with metric specs
(Resource, ContainerResource, Pods, Object, External) and scaling behavior.

Defaults are Kubernetes': minReplicas 1; no metrics means cpu at 80% average
utilisation; a given `behavior` has its missing parts filled (scale up: no
stabilisation, policies 4 pods or 100% per 15 s, select Max; scale down: 300 s
stabilisation, 100% per 15 s, select Max). autoscaling/v1 is not served.

Neighbours: `engine.quantity` (metric values), the HPA controller and the
metrics source it reads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Self

from pydantic import Field, model_validator

from engine.api.base import KubeModel, LabelSelector, Resource
from engine.api.core import find_condition
from engine.api.integers import Int32, Int64
from engine.quantity import Quantity
from engine.registry import kind

__all__ = [
    "ContainerResourceMetricSource",
    "ContainerResourceMetricStatus",
    "CrossVersionObjectReference",
    "ExternalMetricSource",
    "ExternalMetricStatus",
    "HPAScalingPolicy",
    "HPAScalingRules",
    "HorizontalPodAutoscaler",
    "HorizontalPodAutoscalerBehavior",
    "HorizontalPodAutoscalerCondition",
    "HorizontalPodAutoscalerSpec",
    "HorizontalPodAutoscalerStatus",
    "MetricIdentifier",
    "MetricSpec",
    "MetricStatus",
    "MetricTarget",
    "MetricValueStatus",
    "ObjectMetricSource",
    "ObjectMetricStatus",
    "PodsMetricSource",
    "PodsMetricStatus",
    "ResourceMetricSource",
    "ResourceMetricStatus",
]

DEFAULT_CPU_UTILIZATION = 80


class CrossVersionObjectReference(KubeModel):
    kind: str
    name: str
    api_version: str | None = None


class MetricTarget(KubeModel):
    """Utilization (averageUtilization %), Value or AverageValue."""

    type: str
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: Int32 | None = None


class MetricIdentifier(KubeModel):
    name: str
    selector: LabelSelector | None = None


class ResourceMetricSource(KubeModel):
    name: str
    target: MetricTarget


class ContainerResourceMetricSource(KubeModel):
    name: str
    container: str
    target: MetricTarget


class PodsMetricSource(KubeModel):
    metric: MetricIdentifier
    target: MetricTarget


class ObjectMetricSource(KubeModel):
    described_object: CrossVersionObjectReference
    metric: MetricIdentifier
    target: MetricTarget


class ExternalMetricSource(KubeModel):
    metric: MetricIdentifier
    target: MetricTarget


class MetricSpec(KubeModel):
    """`type` names which one of the sources below is set."""

    type: str
    resource: ResourceMetricSource | None = None
    container_resource: ContainerResourceMetricSource | None = None
    pods: PodsMetricSource | None = None
    object: ObjectMetricSource | None = None
    external: ExternalMetricSource | None = None


class HPAScalingPolicy(KubeModel):
    """Allow a change of `value` Pods or Percent within `periodSeconds`."""

    type: str
    value: Int32
    period_seconds: Int32


class HPAScalingRules(KubeModel):
    stabilization_window_seconds: Int32 | None = None
    select_policy: str | None = None
    policies: list[HPAScalingPolicy] | None = None
    tolerance: Quantity | None = None


def _filled(rules: HPAScalingRules | None, defaults: HPAScalingRules) -> HPAScalingRules:
    if rules is None:
        return defaults
    update = {
        name: getattr(defaults, name)
        for name in ("stabilization_window_seconds", "select_policy", "policies")
        if getattr(rules, name) is None
    }
    return rules.model_copy(update=update) if update else rules


_SCALE_UP_DEFAULTS = HPAScalingRules(
    stabilization_window_seconds=0,
    select_policy="Max",
    policies=[
        HPAScalingPolicy(type="Pods", value=4, period_seconds=15),
        HPAScalingPolicy(type="Percent", value=100, period_seconds=15),
    ],
)
_SCALE_DOWN_DEFAULTS = HPAScalingRules(
    stabilization_window_seconds=300,
    select_policy="Max",
    policies=[HPAScalingPolicy(type="Percent", value=100, period_seconds=15)],
)


class HorizontalPodAutoscalerBehavior(KubeModel):
    scale_up: HPAScalingRules | None = None
    scale_down: HPAScalingRules | None = None

    @model_validator(mode="after")
    def _fill_rules(self) -> Self:
        object.__setattr__(self, "scale_up", _filled(self.scale_up, _SCALE_UP_DEFAULTS))
        object.__setattr__(self, "scale_down", _filled(self.scale_down, _SCALE_DOWN_DEFAULTS))
        return self


def _default_metrics() -> list[MetricSpec]:
    return [
        MetricSpec(
            type="Resource",
            resource=ResourceMetricSource(
                name="cpu",
                target=MetricTarget(
                    type="Utilization", average_utilization=DEFAULT_CPU_UTILIZATION
                ),
            ),
        )
    ]


class HorizontalPodAutoscalerSpec(KubeModel):
    scale_target_ref: CrossVersionObjectReference | None = None
    min_replicas: Int32 = 1
    max_replicas: Int32 = 0
    metrics: list[MetricSpec] = Field(default_factory=_default_metrics)
    behavior: HorizontalPodAutoscalerBehavior | None = None

    @model_validator(mode="after")
    def _default_metrics(self) -> Self:
        if not self.metrics:
            object.__setattr__(self, "metrics", _default_metrics())
        return self


class MetricValueStatus(KubeModel):
    value: Quantity | None = None
    average_value: Quantity | None = None
    average_utilization: Int32 | None = None


class ResourceMetricStatus(KubeModel):
    name: str
    current: MetricValueStatus


class ContainerResourceMetricStatus(KubeModel):
    name: str
    container: str
    current: MetricValueStatus


class PodsMetricStatus(KubeModel):
    metric: MetricIdentifier
    current: MetricValueStatus


class ObjectMetricStatus(KubeModel):
    metric: MetricIdentifier
    current: MetricValueStatus
    described_object: CrossVersionObjectReference


class ExternalMetricStatus(KubeModel):
    metric: MetricIdentifier
    current: MetricValueStatus


class MetricStatus(KubeModel):
    type: str
    resource: ResourceMetricStatus | None = None
    container_resource: ContainerResourceMetricStatus | None = None
    pods: PodsMetricStatus | None = None
    object: ObjectMetricStatus | None = None
    external: ExternalMetricStatus | None = None


class HorizontalPodAutoscalerCondition(KubeModel):
    """AbleToScale, ScalingActive or ScalingLimited."""

    type: str
    status: str
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None
    observed_generation: Int64 | None = None


class HorizontalPodAutoscalerStatus(KubeModel):
    observed_generation: Int64 | None = None
    last_scale_time: datetime | None = None
    current_replicas: Int32 = 0
    desired_replicas: Int32 = 0
    current_metrics: list[MetricStatus] = Field(default_factory=list)
    conditions: list[HorizontalPodAutoscalerCondition] = Field(default_factory=list)

    def condition(self, condition_type: str) -> HorizontalPodAutoscalerCondition | None:
        return find_condition(self.conditions, condition_type)


@kind(
    "autoscaling/v2",
    "HorizontalPodAutoscaler",
    plural="horizontalpodautoscalers",
    namespaced=True,
    status_subresource=True,
)
class HorizontalPodAutoscaler(Resource):
    spec: HorizontalPodAutoscalerSpec = Field(default_factory=HorizontalPodAutoscalerSpec)
    status: HorizontalPodAutoscalerStatus = Field(default_factory=HorizontalPodAutoscalerStatus)
