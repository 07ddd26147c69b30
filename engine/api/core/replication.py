"""core/v1 ReplicationController: the predecessor of ReplicaSet, with an
equality-based selector (`spec.selector` is a plain label map).

Defaults as Kubernetes' SetDefaults_ReplicationController: `replicas` 1; an
absent or empty selector is the template's labels, and absent object labels
are the template's labels too (see `engine.api.defaulting`). The status has
ReplicaSet's shape (replicas, fullyLabeledReplicas, readyReplicas,
availableReplicas, observedGeneration, conditions).

Neighbours: `engine.api.core.pod` (PodTemplateSpec); the replicaset
controller drives ReplicationControllers too (`controllers.replicaset`).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engine.api.base import KubeModel, Resource
from engine.api.core.common import find_condition
from engine.api.core.pod import PodTemplateSpec
from engine.api.integers import Int32, Int64
from engine.registry import kind

__all__ = [
    "ReplicationController",
    "ReplicationControllerCondition",
    "ReplicationControllerSpec",
    "ReplicationControllerStatus",
]


class ReplicationControllerSpec(KubeModel):
    replicas: Int32 = 1
    min_ready_seconds: Int32 | None = None
    selector: dict[str, str] = Field(default_factory=dict)
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)


class ReplicationControllerCondition(KubeModel):
    type: str
    status: str
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class ReplicationControllerStatus(KubeModel):
    replicas: Int32 = 0
    fully_labeled_replicas: Int32 = 0
    ready_replicas: Int32 = 0
    available_replicas: Int32 = 0
    observed_generation: Int64 = 0
    conditions: list[ReplicationControllerCondition] = Field(default_factory=list)

    def condition(self, condition_type: str) -> ReplicationControllerCondition | None:
        return find_condition(self.conditions, condition_type)


@kind(
    "v1",
    "ReplicationController",
    plural="replicationcontrollers",
    namespaced=True,
    scale_subresource=True,
)
class ReplicationController(Resource):
    spec: ReplicationControllerSpec = Field(default_factory=ReplicationControllerSpec)
    status: ReplicationControllerStatus = Field(default_factory=ReplicationControllerStatus)
