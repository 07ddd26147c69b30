"""The ephemeral volume controller (see `controllers.ephemeralvolume.controller`)."""

from controllers.ephemeralvolume.controller import EphemeralVolumeController, setup

__all__ = ["EphemeralVolumeController", "setup"]
