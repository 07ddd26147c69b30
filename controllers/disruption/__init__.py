"""The disruption controller: PodDisruptionBudget status (see
`controllers.disruption.budget`)."""

from controllers.disruption.controller import DisruptionController, setup

__all__ = ["DisruptionController", "setup"]
