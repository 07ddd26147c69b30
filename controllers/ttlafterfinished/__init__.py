"""The TTL-after-finished controller (see `controllers.ttlafterfinished.controller`)."""

from controllers.ttlafterfinished.controller import TTLAfterFinishedController, expires_at, setup

__all__ = ["TTLAfterFinishedController", "expires_at", "setup"]
