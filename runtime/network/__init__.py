"""The simulated data plane: traffic routed to simulated pods (see
`runtime.network.traffic`)."""

from runtime.network.traffic import (
    RequestRates,
    Target,
    TrafficRouter,
    TrafficStats,
)

__all__ = [
    "RequestRates",
    "Target",
    "TrafficRouter",
    "TrafficStats",
]
