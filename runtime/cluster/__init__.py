"""The `Cluster` facade: a whole cluster from one `ClusterConfig`, as an async
context manager, plus `SyncCluster` for plain scripts."""

from runtime.cluster.apply import Applied, ApplyError
from runtime.cluster.cluster import Cluster, ConvergenceTimeout
from runtime.cluster.config import ALL_CONTROLLERS, ClusterConfig, NodePool
from runtime.cluster.drain import DrainTimeout, UnmanagedPods
from runtime.cluster.sync import SyncCluster
from runtime.cluster.tracker import PodCounts
from runtime.cluster.workloads import Problem, WorkloadRow

__all__ = [
    "ALL_CONTROLLERS",
    "Applied",
    "ApplyError",
    "Cluster",
    "ClusterConfig",
    "ConvergenceTimeout",
    "DrainTimeout",
    "NodePool",
    "PodCounts",
    "Problem",
    "SyncCluster",
    "UnmanagedPods",
    "WorkloadRow",
]
