"""The `cluster-autoscaler-status` text, as Cluster Autoscaler writes it.

CA keeps a human-readable report in the kube-system ConfigMap
`cluster-autoscaler-status`, key `status`: a "Cluster-wide" section (Health,
ScaleUp, ScaleDown, each with its probe and transition times) and one section
per node group (with its cloudProviderTarget and min/max sizes). Times use Go's
default format (`2006-01-02 15:04:05.999999999 +0000 UTC`), on the injected clock.

Neighbours: `controllers.clusterautoscaler.autoscaler` (collects the figures,
writes the ConfigMap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

__all__ = ["Condition", "GroupStatus", "Health", "format_status", "go_time"]


def go_time(when: datetime) -> str:
    return when.strftime("%Y-%m-%d %H:%M:%S.%f") + "000 +0000 UTC"


@dataclass(slots=True)
class Condition:
    """One line of the report: a status word, its details, and when it last changed."""

    status: str = ""
    details: str = ""
    transition: datetime | None = None

    def set(self, status: str, details: str, now: datetime) -> None:
        if status != self.status or self.transition is None:
            self.transition = now
        self.status = status
        self.details = details


@dataclass(slots=True)
class Health:
    ready: int = 0
    unready: int = 0
    not_started: int = 0
    registered: int = 0
    long_unregistered: int = 0

    def text(self) -> str:
        return (
            f"ready={self.ready} unready={self.unready} notStarted={self.not_started} "
            f"longNotStarted=0 registered={self.registered} "
            f"longUnregistered={self.long_unregistered}"
        )


@dataclass(slots=True)
class GroupStatus:
    name: str
    min_size: int
    max_size: int
    target: int
    health: Health = field(default_factory=Health)
    health_condition: Condition = field(default_factory=Condition)
    scale_up: Condition = field(default_factory=Condition)
    scale_down: Condition = field(default_factory=Condition)


def _block(label: str, condition: Condition, now: datetime) -> list[str]:
    head = f"  {label + ':':<13}{condition.status}"
    if condition.details:
        head += f" ({condition.details})"
    transition = condition.transition or now
    return [
        head,
        f"{'':15}LastProbeTime:      {go_time(now)}",
        f"{'':15}LastTransitionTime: {go_time(transition)}",
    ]


def format_status(
    now: datetime,
    cluster: tuple[Condition, Condition, Condition],
    groups: list[GroupStatus],
) -> str:
    health, scale_up, scale_down = cluster
    lines = [f"Cluster-autoscaler status at {go_time(now)}:", "Cluster-wide:"]
    lines += _block("Health", health, now)
    lines += _block("ScaleUp", scale_up, now)
    lines += _block("ScaleDown", scale_down, now)
    if groups:
        lines += ["", "NodeGroups:"]
        for group in groups:
            lines.append(f"  {'Name:':<13}{group.name}")
            lines += _block("Health", group.health_condition, now)
            lines += _block("ScaleUp", group.scale_up, now)
            lines += _block("ScaleDown", group.scale_down, now)
    return "\n".join(lines) + "\n"
