"""The EndpointSlice controller (see `controllers.endpointslice.controller`)."""

from controllers.endpointslice.controller import (
    EndpointSliceController,
    pod_endpoint_changed,
    services_selecting,
    setup,
)
from controllers.endpointslice.reconciler import (
    CONTROLLER_NAME,
    DEFAULT_MAX_ENDPOINTS_PER_SLICE,
    plan,
    pod_endpoint,
)

__all__ = [
    "CONTROLLER_NAME",
    "DEFAULT_MAX_ENDPOINTS_PER_SLICE",
    "EndpointSliceController",
    "plan",
    "pod_endpoint",
    "pod_endpoint_changed",
    "services_selecting",
    "setup",
]
