"""The EndpointSlice mirroring controller (see `controllers.endpointslicemirroring.controller`)."""

from controllers.endpointslicemirroring.controller import (
    CONTROLLER_NAME,
    EndpointSliceMirroringController,
    mirrored,
    setup,
)

__all__ = ["CONTROLLER_NAME", "EndpointSliceMirroringController", "mirrored", "setup"]
