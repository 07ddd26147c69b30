"""The ReplicaSet controller (see `controllers.replicaset.controller`)."""

from controllers.replicaset.controller import BURST_REPLICAS, ReplicaSetController, setup
from controllers.replicaset.status import calculate_status

__all__ = ["BURST_REPLICAS", "ReplicaSetController", "calculate_status", "setup"]
