"""The ReplicaSet controller, which drives ReplicationControllers too (see
`controllers.replicaset.controller`)."""

from controllers.replicaset.controller import (
    BURST_REPLICAS,
    ReplicaSetController,
    setup,
    setup_replication_controller,
)
from controllers.replicaset.status import calculate_status

__all__ = [
    "BURST_REPLICAS",
    "ReplicaSetController",
    "calculate_status",
    "setup",
    "setup_replication_controller",
]
