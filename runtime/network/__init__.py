"""The data plane: simulated traffic routed to simulated pods
(`runtime.network.traffic`), and the process runtime's pod network, where
real packets move: pod addresses (loopback or network namespaces),
kube-proxy, cluster DNS and the ingress controller.

The process runtime's parts serve clusters of process nodes only:

* `config` (the knobs of a process cluster's network) and `addresses` (the
  loopback address plan);
* `loopback` and `netns` (the two pod network modes) behind `podnetwork`;
* `proxyrules` (pure: Services + EndpointSlices to forwarding rules, endpoint
  choice), `forward` (TCP/UDP forwarders), `proxier` (kube-proxy);
* `dnsrecords` (pure) and `dnsserver` (cluster DNS);
* `ingress_match` (pure Ingress rule matching) and `ingress` (the controller);
* `plane` assembles them for a `Cluster`.

Neighbours: `runtime.runtimes.process` (uses a pod network),
`runtime.cluster.cluster` (starts the plane and the router), `engine.api`
(the kinds read), `controllers.common.routing` (kube-proxy's choice, shared).
"""

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
