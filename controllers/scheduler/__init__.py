"""kube-scheduler for kubeloop: a Scheduler coroutine with Kubernetes' queue,
framework, default plugins (weights and defaults included) and preemption,
over a columnar node snapshot so that filtering and scoring one pod against
thousands of nodes is a handful of vector operations.

    from controllers.scheduler import Scheduler
    scheduler = Scheduler(client, manager.factory, clock=clock, rng=random.Random(1))
    manager.add_runnable(scheduler.run)

Your own plugin, next to the defaults (see `config` and `adapters`):

    from controllers.scheduler import (
        DEFAULT_PLUGINS, PerNodeScore, PluginSpec, Profile, SchedulerConfig, default_registry,
    )

    def prefer_spot(pod, node):            # 0..100 for one node
        return 100 if node.metadata.labels.get("lifecycle") == "spot" else 0

    registry = {**default_registry(),
                "PreferSpot": lambda args, handle: PerNodeScore("PreferSpot", prefer_spot, handle)}
    profile = Profile(plugins=(*DEFAULT_PLUGINS, PluginSpec("PreferSpot", weight=3)))
    Scheduler(client, factory, clock=clock, registry=registry,
              config=SchedulerConfig(profiles=(profile,)))

Modules: `scheduler` (the loop, binding, failure handling), `queue`,
`algorithm` (one cycle), `fastpath`, `framework` and `interfaces` (plugin
protocols), `cache` (snapshot, counters, assume/forget), `plugins`,
`preemption`, `diagnostics`, `config`, `status_writer`, `recorder`, and
`simulator` (what-if filtering for others, e.g. the cluster autoscaler).
"""

from __future__ import annotations

from controllers.scheduler.adapters import PerNodeFilter, PerNodeScore
from controllers.scheduler.config import (
    DEFAULT_PLUGINS,
    DEFAULT_SCHEDULER_NAME,
    PluginSpec,
    Profile,
    SchedulerConfig,
)
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.diagnostics import AttemptRecord
from controllers.scheduler.handle import Handle
from controllers.scheduler.plugins.registry import default_registry
from controllers.scheduler.podinfo import PodInfo
from controllers.scheduler.scheduler import Scheduler, SchedulerStatistics
from controllers.scheduler.simulator import SchedulingSimulator
from controllers.scheduler.status import Code, Status
from controllers.scheduler.window import Window

__all__ = [
    "DEFAULT_PLUGINS",
    "DEFAULT_SCHEDULER_NAME",
    "AttemptRecord",
    "Code",
    "CycleState",
    "Handle",
    "PerNodeFilter",
    "PerNodeScore",
    "PluginSpec",
    "PodInfo",
    "Profile",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerStatistics",
    "SchedulingSimulator",
    "Status",
    "Window",
    "default_registry",
]
