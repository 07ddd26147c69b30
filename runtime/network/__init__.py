"""The process runtime's pod network and data plane: pod addresses (loopback or
network namespaces), kube-proxy, cluster DNS and the ingress controller.

Everything here moves real packets on this machine, so it serves clusters of
process nodes only; simulated nodes model traffic elsewhere. The parts:

* `config` (the knobs of a process cluster's network) and `addresses` (the
  loopback address plan);
* `loopback` and `netns` (the two pod network modes) behind `podnetwork`;
* `proxyrules` (pure: Services + EndpointSlices to forwarding rules, endpoint
  choice), `forward` (TCP/UDP forwarders), `proxier` (kube-proxy);
* `dnsrecords` (pure) and `dnsserver` (cluster DNS);
* `ingress_match` (pure Ingress rule matching) and `ingress` (the controller);
* `plane` assembles them for a `Cluster`.

Neighbours: `runtime.runtimes.process` (uses a pod network),
`runtime.cluster.cluster` (starts the plane), `engine.api` (the kinds read).
"""
