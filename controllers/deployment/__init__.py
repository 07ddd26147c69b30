"""The Deployment controller (see `controllers.deployment.controller`) and the
rollout operations users call (`controllers.deployment.rollout`)."""

from controllers.deployment.controller import DeploymentController, setup
from controllers.deployment.rollout import (
    RolloutFailed,
    deployment_rollout_status,
    pause,
    resume,
    rollback,
    rollout_status,
)

__all__ = [
    "DeploymentController",
    "RolloutFailed",
    "deployment_rollout_status",
    "pause",
    "resume",
    "rollback",
    "rollout_status",
    "setup",
]
