"""The policy/v1 API group: PodDisruptionBudget, the limit on voluntary
disruptions (evictions) of a set of pods: `minAvailable` or `maxUnavailable`,
a count or a percentage (`engine.api.core.scaled_value` resolves it).

Neighbours: `engine.api.core` (IntOrString, Condition), the disruption
controller and eviction.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engine.api.base import KubeModel, LabelSelector, Resource
from engine.api.core import Condition, IntOrString, find_condition
from engine.api.integers import Int32, Int64
from engine.registry import kind

__all__ = ["PodDisruptionBudget", "PodDisruptionBudgetSpec", "PodDisruptionBudgetStatus"]


class PodDisruptionBudgetSpec(KubeModel):
    min_available: IntOrString | None = None
    max_unavailable: IntOrString | None = None
    selector: LabelSelector | None = None
    unhealthy_pod_eviction_policy: str | None = None


class PodDisruptionBudgetStatus(KubeModel):
    observed_generation: Int64 = 0
    disrupted_pods: dict[str, datetime] = Field(default_factory=dict)
    disruptions_allowed: Int32 = 0
    current_healthy: Int32 = 0
    desired_healthy: Int32 = 0
    expected_pods: Int32 = 0
    conditions: list[Condition] = Field(default_factory=list)

    def condition(self, condition_type: str) -> Condition | None:
        return find_condition(self.conditions, condition_type)


@kind(
    "policy/v1",
    "PodDisruptionBudget",
    plural="poddisruptionbudgets",
    namespaced=True,
    status_subresource=True,
)
class PodDisruptionBudget(Resource):
    spec: PodDisruptionBudgetSpec = Field(default_factory=PodDisruptionBudgetSpec)
    status: PodDisruptionBudgetStatus = Field(default_factory=PodDisruptionBudgetStatus)
