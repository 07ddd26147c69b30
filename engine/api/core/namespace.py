"""core/v1 Namespace: cluster-scoped; its phase is Active until deletion marks
it Terminating, and the `kubernetes` finalizer in spec.finalizers holds it
until the namespace controller has emptied it.

Neighbours: `engine.strategies` (adds the finalizer on create, marks
Terminating), the namespace controller, `engine.api.defaulting` (the
`kubernetes.io/metadata.name` label).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from engine.api.base import KubeModel, Resource
from engine.api.core.common import find_condition
from engine.registry import kind

__all__ = ["Namespace", "NamespaceCondition", "NamespaceSpec", "NamespaceStatus"]


class NamespaceSpec(KubeModel):
    finalizers: list[str] = Field(default_factory=list)


class NamespaceCondition(KubeModel):
    type: str
    status: str
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class NamespaceStatus(KubeModel):
    phase: str = "Active"
    conditions: list[NamespaceCondition] = Field(default_factory=list)

    def condition(self, condition_type: str) -> NamespaceCondition | None:
        return find_condition(self.conditions, condition_type)


@kind("v1", "Namespace", plural="namespaces", namespaced=False, status_subresource=True)
class Namespace(Resource):
    spec: NamespaceSpec = Field(default_factory=NamespaceSpec)
    status: NamespaceStatus = Field(default_factory=NamespaceStatus)
