"""Pure rules of node health: conditions to mark Unknown, taints to apply, zone states.

* `unknown_conditions(status, now)`: the kubelet stopped posting. Ready,
  MemoryPressure, DiskPressure and PIDPressure become Unknown with reason
  NodeStatusUnknown ("Kubelet stopped posting node status."), keeping their
  lastHeartbeatTime; missing ones are added with reason
  NodeStatusNeverUpdated ("Kubelet never posted node status.").
* Taints (Kubernetes' TaintNodesByCondition and taint-based eviction):
  Ready False -> node.kubernetes.io/not-ready, Ready Unknown ->
  node.kubernetes.io/unreachable, each with effect NoSchedule (applied at
  once) and NoExecute (rate limited by zone); spec.unschedulable ->
  node.kubernetes.io/unschedulable:NoSchedule.
* `zone_state(ready, not_ready, threshold)`: Normal, PartialDisruption
  (more than 2 not ready and at least `threshold` of the zone) or
  FullDisruption (none ready), as ComputeZoneState.
* `zone_key(node)`: region and zone labels, as GetZoneKey.

Neighbours: `controllers.nodelifecycle.controller` (applies them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from engine.api import core

__all__ = [
    "NOT_READY",
    "NO_EXECUTE",
    "NO_SCHEDULE",
    "UNREACHABLE",
    "UNSCHEDULABLE",
    "ZoneState",
    "desired_no_execute",
    "desired_no_schedule",
    "ready_status",
    "unknown_conditions",
    "zone_key",
    "zone_state",
]

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
NO_EXECUTE = "NoExecute"
NO_SCHEDULE = "NoSchedule"
CONTROLLED_KEYS = (NOT_READY, UNREACHABLE, UNSCHEDULABLE)
UNKNOWN_TYPES = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
ZoneState = Literal["Normal", "PartialDisruption", "FullDisruption"]


def ready_status(node: core.Node) -> str:
    """ "True", "False" or "Unknown" (a node without a Ready condition is Unknown)."""
    condition = node.status.condition("Ready")
    return condition.status if condition is not None else "Unknown"


def unknown_conditions(status: core.NodeStatus, now: datetime) -> list[core.NodeCondition]:
    existing = {c.type: c for c in status.conditions}
    result = [c for c in status.conditions if c.type not in UNKNOWN_TYPES]
    for ctype in UNKNOWN_TYPES:
        old = existing.get(ctype)
        if old is None:
            result.append(
                core.NodeCondition(
                    type=ctype,
                    status="Unknown",
                    reason="NodeStatusNeverUpdated",
                    message="Kubelet never posted node status.",
                    last_heartbeat_time=now,
                    last_transition_time=now,
                )
            )
        elif old.status != "Unknown":
            result.append(
                old.model_copy(
                    update={
                        "status": "Unknown",
                        "reason": "NodeStatusUnknown",
                        "message": "Kubelet stopped posting node status.",
                        "last_transition_time": now,
                    }
                )
            )
        else:
            result.append(old)
    return result


def desired_no_schedule(node: core.Node) -> set[str]:
    keys: set[str] = set()
    ready = ready_status(node)
    if ready == "False":
        keys.add(NOT_READY)
    elif ready == "Unknown":
        keys.add(UNREACHABLE)
    if node.spec.unschedulable:
        keys.add(UNSCHEDULABLE)
    return keys


def desired_no_execute(node: core.Node) -> str | None:
    ready = ready_status(node)
    if ready == "False":
        return NOT_READY
    if ready == "Unknown":
        return UNREACHABLE
    return None


def with_taints(
    node: core.Node, no_schedule: set[str], no_execute: set[str], now: datetime
) -> list[core.Taint] | None:
    """The node's taints with the controller-owned ones set as given, or None if
    nothing changes. Taints of other owners are kept in place."""
    current = node.spec.taints
    kept = [
        t
        for t in current
        if t.key not in CONTROLLED_KEYS
        or (t.effect == NO_SCHEDULE and t.key in no_schedule)
        or (t.effect == NO_EXECUTE and t.key in no_execute)
    ]
    present = {(t.key, t.effect) for t in kept}
    added = [
        core.Taint(key=key, effect=NO_SCHEDULE, time_added=now)
        for key in sorted(no_schedule)
        if (key, NO_SCHEDULE) not in present
    ] + [
        core.Taint(key=key, effect=NO_EXECUTE, time_added=now)
        for key in sorted(no_execute)
        if (key, NO_EXECUTE) not in present
    ]
    if not added and len(kept) == len(current):
        return None
    return kept + added


def no_execute_keys(node: core.Node) -> set[str]:
    return {t.key for t in node.spec.taints if t.effect == NO_EXECUTE and t.key in CONTROLLED_KEYS}


def zone_key(node: core.Node) -> str:
    labels = node.metadata.labels
    region = labels.get("topology.kubernetes.io/region") or labels.get(
        "failure-domain.beta.kubernetes.io/region", ""
    )
    zone = labels.get("topology.kubernetes.io/zone") or labels.get(
        "failure-domain.beta.kubernetes.io/zone", ""
    )
    return f"{region}:\x00:{zone}" if region or zone else ""


def zone_state(ready: int, not_ready: int, threshold: float) -> ZoneState:
    if ready == 0 and not_ready > 0:
        return "FullDisruption"
    if not_ready > 2 and not_ready / (ready + not_ready) >= threshold:
        return "PartialDisruption"
    return "Normal"
