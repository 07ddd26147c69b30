"""The HorizontalPodAutoscaler controller: metrics -> replica count -> scale
(see `controllers.podautoscaler.controller`)."""

from controllers.podautoscaler.controller import HorizontalController, HPAConfig, setup
from controllers.podautoscaler.metrics import ApiMetricsClient, MetricsClient

__all__ = ["ApiMetricsClient", "HPAConfig", "HorizontalController", "MetricsClient", "setup"]
