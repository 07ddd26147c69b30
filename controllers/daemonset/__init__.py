"""The DaemonSet controller: one pod per eligible node, placed by the
scheduler through a node-name affinity, rolling updates with maxUnavailable
or maxSurge, and ControllerRevision history (see
`controllers.daemonset.control`)."""

from controllers.daemonset.controller import DaemonSetController, setup
from controllers.daemonset.status import is_converged, unconverged_reason

__all__ = ["DaemonSetController", "is_converged", "setup", "unconverged_reason"]
