"""The registry of kubeloop's built-in controllers: one name, one setup.

`CONTROLLERS` maps each controller's name (as `ClusterConfig.controllers` and
the simulation's fuzz targets spell it) to a function that builds it on a
`Manager` (the manager's client, informers, clock and RNG) and returns it. The
order is the order a cluster sets them up in. The `Cluster` facade, the CLI
and the simulation harness all assemble from this one table, so a new
controller is added here and nowhere else; the scheduler is built here too.

Neighbours: each controller package's own `setup`; `runtime.cluster` and
`runtime.simulation` read the table.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from controllers import (
    clusterautoscaler,
    clusterroleaggregation,
    cronjob,
    daemonset,
    deployment,
    disruption,
    endpoints,
    endpointslice,
    endpointslicemirroring,
    ephemeralvolume,
    garbagecollector,
    job,
    loadbalancer,
    namespace,
    nodeipam,
    nodelifecycle,
    podautoscaler,
    replicaset,
    resourcequota,
    rootcacertpublisher,
    serviceaccount,
    statefulset,
    storageprotection,
    ttlafterfinished,
    volume,
)
from controllers.clusterautoscaler import AutoscalingOptions, CloudProvider, ClusterAutoscaler
from controllers.scheduler import Scheduler, SchedulingSimulator
from controllers.scheduler.config import SchedulerConfig
from engine.manager import Manager

__all__ = ["CONTROLLERS", "Setup", "setup_cluster_autoscaler", "setup_scheduler"]

Setup = Callable[[Manager], Any]
"""Builds one controller on a manager and returns it."""


def setup_scheduler(
    manager: Manager,
    *,
    config: SchedulerConfig | None = None,
    rng: random.Random | None = None,
) -> Scheduler:
    """kube-scheduler, run beside the manager's controllers: the default
    profile unless `config` names others, drawing from the manager's RNG
    unless given its own. Every scheduler kubeloop runs is built here."""
    scheduler = Scheduler(
        manager.client, manager.factory, clock=manager.clock, rng=rng or manager.rng, config=config
    )
    manager.add_runnable(scheduler.run)
    return scheduler


def setup_cluster_autoscaler(
    manager: Manager,
    *,
    cloud_provider: CloudProvider | None = None,
    autoscaling: AutoscalingOptions | None = None,
) -> ClusterAutoscaler | None:
    """The cluster autoscaler, deciding with the scheduler's filters
    (`SchedulingSimulator`); nothing without a cloud provider (a cluster
    whose node pools have no `max_count`)."""
    if cloud_provider is None:
        return None
    return clusterautoscaler.setup(
        manager, cloud_provider, SchedulingSimulator(), options=autoscaling
    )


CONTROLLERS: Mapping[str, Setup] = MappingProxyType(
    {
        "scheduler": setup_scheduler,
        "replicaset": replicaset.setup,
        "replicationcontroller": replicaset.setup_replication_controller,
        "deployment": deployment.setup,
        "statefulset": statefulset.setup,
        "daemonset": daemonset.setup,
        "disruption": disruption.setup,
        "garbagecollector": garbagecollector.setup,
        "namespace": namespace.setup,
        "nodelifecycle": nodelifecycle.setup,
        "job": job.setup,
        "cronjob": cronjob.setup,
        "ttlafterfinished": ttlafterfinished.setup,
        "clusterrole-aggregation": clusterroleaggregation.setup,
        "serviceaccount": serviceaccount.setup,
        "root-ca-cert-publisher": rootcacertpublisher.setup,
        "resourcequota": resourcequota.setup,
        "persistentvolume-binder": volume.setup,
        "pvc-protection": storageprotection.setup_pvc_protection,
        "pv-protection": storageprotection.setup_pv_protection,
        "ephemeral-volume": ephemeralvolume.setup,
        "horizontalpodautoscaler": podautoscaler.setup,
        "endpointslice": endpointslice.setup,
        "endpoints": endpoints.setup,
        "endpointslicemirroring": endpointslicemirroring.setup,
        "nodeipam": nodeipam.setup,
        "loadbalancer": loadbalancer.setup,
        "clusterautoscaler": setup_cluster_autoscaler,
    }
)
