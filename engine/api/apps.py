"""The apps/v1 API group: Deployment, ReplicaSet, StatefulSet, DaemonSet and
ControllerRevision (the history StatefulSets and DaemonSets keep).

Kubernetes' SetDefaults_* are field defaults: replicas 1, revisionHistoryLimit
10, progressDeadlineSeconds 600, Deployment strategy RollingUpdate with
maxSurge/maxUnavailable 25%, DaemonSet RollingUpdate with maxUnavailable 1 and
maxSurge 0, StatefulSet OrderedReady with RollingUpdate partition 0 and PVC
retention Retain/Retain. As in Kubernetes, the rollingUpdate block is filled
only when the strategy type is RollingUpdate. `spec.replicas` is an int, never
None, once an object exists.

Neighbours: `engine.api.core` (PodTemplateSpec, PersistentVolumeClaim), the
deployment, replicaset, statefulset and daemonset controllers.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Self

from pydantic import Field, StrictBool, model_validator

from engine.api.base import KubeModel, LabelSelector, Resource
from engine.api.core import IntOrString, PersistentVolumeClaim, PodTemplateSpec, find_condition
from engine.api.integers import Int32, Int64
from engine.registry import kind

__all__ = [
    "ControllerRevision",
    "DaemonSet",
    "DaemonSetCondition",
    "DaemonSetSpec",
    "DaemonSetStatus",
    "DaemonSetUpdateStrategy",
    "Deployment",
    "DeploymentCondition",
    "DeploymentSpec",
    "DeploymentStatus",
    "DeploymentStrategy",
    "ReplicaSet",
    "ReplicaSetCondition",
    "ReplicaSetSpec",
    "ReplicaSetStatus",
    "RollingUpdateDaemonSet",
    "RollingUpdateDeployment",
    "RollingUpdateStatefulSetStrategy",
    "StatefulSet",
    "StatefulSetCondition",
    "StatefulSetOrdinals",
    "StatefulSetPersistentVolumeClaimRetentionPolicy",
    "StatefulSetSpec",
    "StatefulSetStatus",
    "StatefulSetUpdateStrategy",
]


# -- Deployment ---------------------------------------------------------------


class RollingUpdateDeployment(KubeModel):
    """How far a rollout may go above (surge) and below (unavailable) the
    desired count: a number or a percentage of replicas."""

    max_unavailable: IntOrString = "25%"
    max_surge: IntOrString = "25%"


class DeploymentStrategy(KubeModel):
    type: str = "RollingUpdate"
    rolling_update: RollingUpdateDeployment | None = None

    @model_validator(mode="after")
    def _default_rolling_update(self) -> Self:
        if self.type == "RollingUpdate" and self.rolling_update is None:
            object.__setattr__(self, "rolling_update", RollingUpdateDeployment())
        return self


class DeploymentSpec(KubeModel):
    replicas: Int32 = 1
    selector: LabelSelector = Field(default_factory=LabelSelector)
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    strategy: DeploymentStrategy = Field(default_factory=DeploymentStrategy)
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 = 10
    paused: StrictBool | None = None
    progress_deadline_seconds: Int32 = 600


class DeploymentCondition(KubeModel):
    """Available, Progressing or ReplicaFailure."""

    type: str
    status: str
    last_update_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class DeploymentStatus(KubeModel):
    observed_generation: Int64 = 0
    replicas: Int32 = 0
    updated_replicas: Int32 = 0
    ready_replicas: Int32 = 0
    available_replicas: Int32 = 0
    unavailable_replicas: Int32 = 0
    terminating_replicas: Int32 | None = None
    conditions: list[DeploymentCondition] = Field(default_factory=list)
    collision_count: Int32 | None = None

    def condition(self, condition_type: str) -> DeploymentCondition | None:
        return find_condition(self.conditions, condition_type)


@kind(
    "apps/v1",
    "Deployment",
    plural="deployments",
    namespaced=True,
    status_subresource=True,
    scale_subresource=True,
)
class Deployment(Resource):
    spec: DeploymentSpec = Field(default_factory=DeploymentSpec)
    status: DeploymentStatus = Field(default_factory=DeploymentStatus)


# -- ReplicaSet ---------------------------------------------------------------


class ReplicaSetSpec(KubeModel):
    replicas: Int32 = 1
    min_ready_seconds: Int32 | None = None
    selector: LabelSelector = Field(default_factory=LabelSelector)
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)


class ReplicaSetCondition(KubeModel):
    type: str
    status: str
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class ReplicaSetStatus(KubeModel):
    replicas: Int32 = 0
    fully_labeled_replicas: Int32 = 0
    ready_replicas: Int32 = 0
    available_replicas: Int32 = 0
    terminating_replicas: Int32 | None = None
    observed_generation: Int64 = 0
    conditions: list[ReplicaSetCondition] = Field(default_factory=list)

    def condition(self, condition_type: str) -> ReplicaSetCondition | None:
        return find_condition(self.conditions, condition_type)


@kind(
    "apps/v1",
    "ReplicaSet",
    plural="replicasets",
    namespaced=True,
    status_subresource=True,
    scale_subresource=True,
)
class ReplicaSet(Resource):
    spec: ReplicaSetSpec = Field(default_factory=ReplicaSetSpec)
    status: ReplicaSetStatus = Field(default_factory=ReplicaSetStatus)


# -- StatefulSet --------------------------------------------------------------


class RollingUpdateStatefulSetStrategy(KubeModel):
    """Pods with an ordinal >= partition are updated; maxUnavailable at a time."""

    partition: Int32 = 0
    max_unavailable: IntOrString | None = None


class StatefulSetUpdateStrategy(KubeModel):
    type: str | None = None
    rolling_update: RollingUpdateStatefulSetStrategy | None = None

    @model_validator(mode="after")
    def _default_type(self) -> Self:
        # Kubernetes creates the rollingUpdate block only when it defaults the type.
        if self.type is None:
            object.__setattr__(self, "type", "RollingUpdate")
            if self.rolling_update is None:
                object.__setattr__(self, "rolling_update", RollingUpdateStatefulSetStrategy())
        return self


class StatefulSetPersistentVolumeClaimRetentionPolicy(KubeModel):
    when_deleted: str = "Retain"
    when_scaled: str = "Retain"


class StatefulSetOrdinals(KubeModel):
    start: Int32 = 0


class StatefulSetSpec(KubeModel):
    replicas: Int32 = 1
    selector: LabelSelector = Field(default_factory=LabelSelector)
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    volume_claim_templates: list[PersistentVolumeClaim] = Field(default_factory=list)
    service_name: str | None = None
    pod_management_policy: str = "OrderedReady"
    update_strategy: StatefulSetUpdateStrategy = Field(default_factory=StatefulSetUpdateStrategy)
    revision_history_limit: Int32 = 10
    min_ready_seconds: Int32 | None = None
    persistent_volume_claim_retention_policy: StatefulSetPersistentVolumeClaimRetentionPolicy = (
        Field(default_factory=StatefulSetPersistentVolumeClaimRetentionPolicy)
    )
    ordinals: StatefulSetOrdinals | None = None


class StatefulSetCondition(KubeModel):
    type: str
    status: str
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class StatefulSetStatus(KubeModel):
    observed_generation: Int64 = 0
    replicas: Int32 = 0
    ready_replicas: Int32 = 0
    current_replicas: Int32 = 0
    updated_replicas: Int32 = 0
    available_replicas: Int32 = 0
    current_revision: str | None = None
    update_revision: str | None = None
    collision_count: Int32 | None = None
    conditions: list[StatefulSetCondition] = Field(default_factory=list)

    def condition(self, condition_type: str) -> StatefulSetCondition | None:
        return find_condition(self.conditions, condition_type)


@kind(
    "apps/v1",
    "StatefulSet",
    plural="statefulsets",
    namespaced=True,
    status_subresource=True,
    scale_subresource=True,
)
class StatefulSet(Resource):
    spec: StatefulSetSpec = Field(default_factory=StatefulSetSpec)
    status: StatefulSetStatus = Field(default_factory=StatefulSetStatus)


# -- DaemonSet ----------------------------------------------------------------


class RollingUpdateDaemonSet(KubeModel):
    max_unavailable: IntOrString = 1
    max_surge: IntOrString = 0


class DaemonSetUpdateStrategy(KubeModel):
    type: str = "RollingUpdate"
    rolling_update: RollingUpdateDaemonSet | None = None

    @model_validator(mode="after")
    def _default_rolling_update(self) -> Self:
        if self.type == "RollingUpdate" and self.rolling_update is None:
            object.__setattr__(self, "rolling_update", RollingUpdateDaemonSet())
        return self


class DaemonSetSpec(KubeModel):
    selector: LabelSelector = Field(default_factory=LabelSelector)
    template: PodTemplateSpec = Field(default_factory=PodTemplateSpec)
    update_strategy: DaemonSetUpdateStrategy = Field(default_factory=DaemonSetUpdateStrategy)
    min_ready_seconds: Int32 | None = None
    revision_history_limit: Int32 = 10


class DaemonSetCondition(KubeModel):
    type: str
    status: str
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class DaemonSetStatus(KubeModel):
    current_number_scheduled: Int32 = 0
    number_misscheduled: Int32 = 0
    desired_number_scheduled: Int32 = 0
    number_ready: Int32 = 0
    observed_generation: Int64 = 0
    updated_number_scheduled: Int32 = 0
    number_available: Int32 = 0
    number_unavailable: Int32 = 0
    collision_count: Int32 | None = None
    conditions: list[DaemonSetCondition] = Field(default_factory=list)

    def condition(self, condition_type: str) -> DaemonSetCondition | None:
        return find_condition(self.conditions, condition_type)


@kind("apps/v1", "DaemonSet", plural="daemonsets", namespaced=True, status_subresource=True)
class DaemonSet(Resource):
    spec: DaemonSetSpec = Field(default_factory=DaemonSetSpec)
    status: DaemonSetStatus = Field(default_factory=DaemonSetStatus)


# -- ControllerRevision -------------------------------------------------------


@kind(
    "apps/v1",
    "ControllerRevision",
    plural="controllerrevisions",
    namespaced=True,
    status_subresource=False,
)
class ControllerRevision(Resource):
    """An immutable snapshot of a StatefulSet's or DaemonSet's template (`data`,
    any JSON) at a revision number."""

    data: dict[str, Any] | None = None
    revision: Int64 = 0
