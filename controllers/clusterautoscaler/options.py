"""`AutoscalingOptions`: the cluster autoscaler's flags, with Cluster Autoscaler's defaults.

Every field is the CA flag of the same name in snake_case, in seconds where
the flag takes a duration:

* `scan_interval` 10 s: one RunOnce (scale-up, then scale-down) per interval.
* `expander` "random": "random", "least-waste", "most-pods" or "priority",
  or a comma-separated chain ("priority,least-waste") where each expander
  passes its ties to the next and a final random choice breaks what is left.
* `max_nodes_total` 0: no limit on nodes in the whole cluster.
* `max_node_provision_time` 15 min: a node that has not registered by then
  counts as a failed scale-up; its group backs off.
* `initial_node_group_backoff_duration` 5 min, doubling per failure up to
  `max_node_group_backoff_duration` 30 min; forgotten after
  `node_group_backoff_reset_timeout` 3 h without failures.
* `scale_down_enabled` True; `scale_down_utilization_threshold` 0.5 (the
  larger of the cpu and memory requested/allocatable ratios);
  `scale_down_unneeded_time` 10 min; `scale_down_delay_after_add` 10 min;
  `scale_down_delay_after_delete` 0 (= the scan interval, as CA);
  `scale_down_delay_after_failure` 3 min; `scale_down_non_empty_candidates_count`
  30 (non-empty nodes newly checked per loop); `max_empty_bulk_delete` 10;
  `max_pod_eviction_time` 2 min (evictions retried until then);
  `max_graceful_termination_sec` 600 (the longest grace period given to an
  evicted pod); `skip_nodes_with_system_pods` and
  `skip_nodes_with_local_storage` True.

Neighbours: `controllers.clusterautoscaler.autoscaler` (reads them),
`runtime.cluster.config.ClusterConfig.cluster_autoscaler` (where users set them).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EXPANDERS", "AutoscalingOptions"]

EXPANDERS = ("random", "least-waste", "most-pods", "priority")


@dataclass(frozen=True, slots=True)
class AutoscalingOptions:
    """See the module docstring."""

    scan_interval: float = 10.0
    expander: str = "random"
    max_nodes_total: int = 0
    max_node_provision_time: float = 15 * 60.0
    initial_node_group_backoff_duration: float = 5 * 60.0
    max_node_group_backoff_duration: float = 30 * 60.0
    node_group_backoff_reset_timeout: float = 3 * 3600.0
    scale_down_enabled: bool = True
    scale_down_utilization_threshold: float = 0.5
    scale_down_unneeded_time: float = 10 * 60.0
    scale_down_delay_after_add: float = 10 * 60.0
    scale_down_delay_after_delete: float = 0.0
    scale_down_delay_after_failure: float = 3 * 60.0
    scale_down_non_empty_candidates_count: int = 30
    max_empty_bulk_delete: int = 10
    max_pod_eviction_time: float = 2 * 60.0
    max_graceful_termination_sec: int = 600
    skip_nodes_with_system_pods: bool = True
    skip_nodes_with_local_storage: bool = True
    status_config_map_name: str = "cluster-autoscaler-status"
    write_status_config_map: bool = True

    def __post_init__(self) -> None:
        if self.scan_interval <= 0:
            raise ValueError(f"scan_interval must be > 0, got {self.scan_interval}")
        for name in self.expanders:
            if name not in EXPANDERS:
                raise ValueError(
                    f"unknown expander {name!r} in {self.expander!r}; "
                    f"choose from {', '.join(EXPANDERS)}"
                )
        if not 0.0 <= self.scale_down_utilization_threshold <= 1.0:
            raise ValueError(
                "scale_down_utilization_threshold must be within [0, 1], "
                f"got {self.scale_down_utilization_threshold}"
            )
        for name in (
            "max_node_provision_time",
            "initial_node_group_backoff_duration",
            "max_node_group_backoff_duration",
            "scale_down_unneeded_time",
            "scale_down_delay_after_add",
            "scale_down_delay_after_delete",
            "scale_down_delay_after_failure",
            "max_pod_eviction_time",
        ):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if self.max_nodes_total < 0:
            raise ValueError(f"max_nodes_total must be >= 0, got {self.max_nodes_total}")
        if self.max_empty_bulk_delete < 1 or self.scale_down_non_empty_candidates_count < 1:
            raise ValueError(
                "max_empty_bulk_delete and scale_down_non_empty_candidates_count must be >= 1"
            )

    @property
    def expanders(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.expander.split(",") if part.strip())

    @property
    def delay_after_delete(self) -> float:
        return self.scale_down_delay_after_delete or self.scan_interval
