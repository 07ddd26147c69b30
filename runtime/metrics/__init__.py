"""The metrics pipeline: `MetricsServer` (resource metrics scraped from
kubelets) and `CustomMetrics` (published custom and external metrics), both
served read only through the store."""

from runtime.metrics.custom import CustomMetrics
from runtime.metrics.server import METRIC_RESOLUTION, MetricsServer, PodSample

__all__ = ["METRIC_RESOLUTION", "CustomMetrics", "MetricsServer", "PodSample"]
