"""Scheduler configuration: profiles keyed by `schedulerName`, their plugins and
weights, and the scheduler-wide knobs, with Kubernetes' defaults.

A `Profile` lists its plugins in order (kube-scheduler's multiPoint: each
plugin takes part in every extension point it implements); a plugin's weight
matters only for Score. `DEFAULT_PLUGINS` is kube-scheduler's default set and
weights (TaintToleration 3, NodeAffinity 2, NodeResourcesFit 1,
PodTopologySpread 2, InterPodAffinity 2, NodeResourcesBalancedAllocation 1,
ImageLocality 1). Plugin arguments are plain mappings, given per plugin in
`Profile.plugin_args` (e.g. `{"NodeResourcesFit": {"scoringStrategy":
{"type": "MostAllocated"}}}`, spelled as in KubeSchedulerConfiguration).

To add your own plugin: register a factory `(args, handle) -> plugin` in the
registry passed to the Scheduler and name it in a profile, e.g.

    profile = Profile(plugins=(*DEFAULT_PLUGINS, PluginSpec("MyScore", weight=5)))
    Scheduler(..., config=SchedulerConfig(profiles=(profile,)),
              registry={**default_registry(), "MyScore": lambda args, h: MyScore(h)})

`percentage_of_nodes_to_score`: 0 is Kubernetes' adaptive default (every node
below 100 nodes, else max(5, 50 - N/125) percent, at least 100 feasible nodes);
100 scores every feasible node.

Neighbours: `controllers.scheduler.framework` (builds plugins from a
profile), `controllers.scheduler.plugins.registry` (the default factories),
`controllers.scheduler.scheduler` (reads SchedulerConfig).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from controllers.scheduler.handle import Handle

__all__ = [
    "DEFAULT_PLUGINS",
    "DEFAULT_SCHEDULER_NAME",
    "PluginFactory",
    "PluginSpec",
    "Profile",
    "SchedulerConfig",
]

DEFAULT_SCHEDULER_NAME: Final = "default-scheduler"
PluginArgs = Mapping[str, Any] | None
PluginFactory = Callable[[PluginArgs, "Handle"], Any]


@dataclass(frozen=True, slots=True)
class PluginSpec:
    name: str
    weight: int | None = None
    args: PluginArgs = None


DEFAULT_PLUGINS: Final = (
    PluginSpec("SchedulingGates"),
    PluginSpec("PrioritySort"),
    PluginSpec("NodeUnschedulable"),
    PluginSpec("NodeName"),
    PluginSpec("TaintToleration", 3),
    PluginSpec("NodeAffinity", 2),
    PluginSpec("NodePorts"),
    PluginSpec("NodeResourcesFit", 1),
    PluginSpec("VolumeRestrictions"),
    PluginSpec("NodeVolumeLimits"),
    PluginSpec("VolumeBinding"),
    PluginSpec("VolumeZone"),
    PluginSpec("PodTopologySpread", 2),
    PluginSpec("InterPodAffinity", 2),
    PluginSpec("DefaultPreemption"),
    PluginSpec("NodeResourcesBalancedAllocation", 1),
    PluginSpec("ImageLocality", 1),
    PluginSpec("DefaultBinder"),
    PluginSpec("DynamicResources"),  # appended, as kube-scheduler does with DRA enabled
)


@dataclass(frozen=True, slots=True)
class Profile:
    """One scheduler name and how it schedules."""

    scheduler_name: str = DEFAULT_SCHEDULER_NAME
    plugins: tuple[PluginSpec, ...] = DEFAULT_PLUGINS
    disabled: frozenset[str] = frozenset()
    plugin_args: Mapping[str, PluginArgs] = field(default_factory=dict)
    percentage_of_nodes_to_score: int | None = None

    def __post_init__(self) -> None:
        pct = self.percentage_of_nodes_to_score
        if pct is not None and not 0 <= pct <= 100:
            raise ValueError(f"percentageOfNodesToScore must be within 0..100, got {pct}")
        names = [p.name for p in self.plugins]
        if len(set(names)) != len(names):
            raise ValueError(f"profile {self.scheduler_name!r} lists a plugin twice: {names}")


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """Scheduler-wide settings (KubeSchedulerConfiguration and queue defaults)."""

    profiles: tuple[Profile, ...] = (Profile(),)
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0
    max_unschedulable_seconds: float = 300.0
    unschedulable_flush_interval: float = 30.0
    assumed_pod_ttl_seconds: float = 0.0
    """How long an assumed pod whose bind was written waits for the informer to
    confirm it before it is forgotten; 0 (kube-scheduler's value since
    kubernetes#106361): never. Forgetting a pod that is bound frees room it
    holds: when its event is lost or late, other pods would be placed there."""
    bind_workers: int = 16
    record_scheduled_events: bool = True
    record_plugin_results: bool = False
    yield_every: int = 16

    def __post_init__(self) -> None:
        if not self.profiles:
            raise ValueError("at least one profile is required")
        names = [p.scheduler_name for p in self.profiles]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate scheduler names in profiles: {names}")
        if not 0 <= self.percentage_of_nodes_to_score <= 100:
            raise ValueError(
                "percentageOfNodesToScore must be within 0..100, "
                f"got {self.percentage_of_nodes_to_score}"
            )
        if self.pod_initial_backoff_seconds <= 0 or (
            self.pod_max_backoff_seconds < self.pod_initial_backoff_seconds
        ):
            raise ValueError("need 0 < podInitialBackoffSeconds <= podMaxBackoffSeconds")
        if self.bind_workers < 1:
            raise ValueError("bind_workers must be at least 1")
