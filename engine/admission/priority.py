"""The Priority admission plugin on the chain (the rules live in
`engine.strategies.admit_pod_priority`, with the shared-spec cache that keeps
pods of one template on one admitted spec)."""

from __future__ import annotations

from engine import strategies
from engine.admission import AdmissionRequest
from engine.api import core
from engine.api.base import Resource

__all__ = ["admit"]


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    if not isinstance(obj, core.Pod):
        return obj
    return strategies.admit_pod_priority(request.store, obj)
