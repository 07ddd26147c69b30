"""The legacy Endpoints controller (see `controllers.endpoints.controller`)."""

from controllers.endpoints.controller import (
    LABEL_SKIP_MIRROR,
    MAX_CAPACITY,
    OVER_CAPACITY_ANNOTATION,
    EndpointsController,
    desired_subsets,
    setup,
)

__all__ = [
    "LABEL_SKIP_MIRROR",
    "MAX_CAPACITY",
    "OVER_CAPACITY_ANNOTATION",
    "EndpointsController",
    "desired_subsets",
    "setup",
]
