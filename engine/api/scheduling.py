"""The scheduling.k8s.io/v1 API group: PriorityClass, cluster-scoped, mapping
a class name to the integer priority pods of that class get (and whether they
may preempt). Resolving a pod's priority from its class needs the store and is
done on pod create, not here.

Neighbours: the scheduler's queue and preemption (read pod priorities).
"""

from __future__ import annotations

from pydantic import StrictBool

from engine.api.base import Resource
from engine.api.integers import Int32
from engine.registry import kind

__all__ = ["PriorityClass"]


@kind(
    "scheduling.k8s.io/v1",
    "PriorityClass",
    plural="priorityclasses",
    namespaced=False,
    status_subresource=False,
)
class PriorityClass(Resource):
    value: Int32
    global_default: StrictBool | None = None
    description: str | None = None
    preemption_policy: str = "PreemptLowerPriority"
