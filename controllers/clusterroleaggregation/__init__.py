"""The clusterrole-aggregation controller (see `controllers.clusterroleaggregation.controller`)."""

from controllers.clusterroleaggregation.controller import (
    ClusterRoleAggregationController,
    aggregated_rules,
    setup,
)

__all__ = ["ClusterRoleAggregationController", "aggregated_rules", "setup"]
