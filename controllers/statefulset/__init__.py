"""The StatefulSet controller: stable pod identities, ordered or parallel
creation, claims per ordinal, rolling updates with history (see
`controllers.statefulset.control`)."""

from controllers.statefulset.controller import StatefulSetController, setup
from controllers.statefulset.status import is_converged, unconverged_reason

__all__ = ["StatefulSetController", "is_converged", "setup", "unconverged_reason"]
