"""Service address allocation, as the apiserver's Service REST storage does it.

Role: on Service create and update the store calls `ServiceAllocator.admit`,
which fills in what the apiserver fills in and refuses what it refuses:

- `ipFamilies` / `ipFamilyPolicy`: the cluster is single-stack IPv4, so every
  Service but ExternalName gets `ipFamilies: [IPv4]`; the policy defaults to
  `SingleStack`, except for a headless Service without a selector, which gets
  `RequireDualStack` as Kubernetes gives it (on a single-stack cluster that
  still means IPv4 only). Asking for IPv6 is refused.
- `clusterIP` / `clusterIPs`: a free address of the service CIDR (default
  10.96.0.0/12, kubeadm's), chosen with the store's seeded RNG from the upper
  band first (Kubernetes' static sub-range: the lower band is kept for
  addresses users choose, such as a DNS Service's .10); a user's address is
  honoured if free, else refused with Kubernetes' messages ("provided IP is
  already allocated", "the provided IP (...) is not in the valid range").
  `None` makes a headless Service; ExternalName Services get no address.
  The first address (10.96.0.1) belongs to the `kubernetes` Service.
- `nodePort`: NodePort and LoadBalancer Services (unless
  `allocateLoadBalancerNodePorts: false`) get one per port from 30000-32767,
  a user's number honoured if free ("provided port is already allocated");
  a LoadBalancer with `externalTrafficPolicy: Local` also gets a
  `healthCheckNodePort`. Changing the type away from NodePort/LoadBalancer
  releases them; to ExternalName releases the address.

Everything is released when the Service is removed (`release`). The allocator
keeps no state of its own that the Service table does not hold: `rebuild`
recomputes it from the stored Services, as the apiserver's repair loop does
after a restart, so it never drifts from what is stored.

Neighbours: `engine.store` (calls admit/release/rebuild), `engine.strategies`
(`kubernetes_service`, the default Service the store makes at start).
"""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from dataclasses import dataclass

from engine.api.core import Service, ServicePort, ServiceSpec
from engine.errors import FieldError, Invalid

__all__ = [
    "DEFAULT_NODE_PORT_RANGE",
    "DEFAULT_SERVICE_CIDR",
    "ServiceAllocator",
    "parse_port_range",
]

DEFAULT_SERVICE_CIDR = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = "30000-32767"
_NODE_PORT_TYPES = ("NodePort", "LoadBalancer")


def parse_port_range(text: str) -> tuple[int, int]:
    """`"30000-32767"` (the apiserver's --service-node-port-range) as (first, last)."""
    try:
        first_text, last_text = text.split("-")
        first, last = int(first_text), int(last_text)
    except ValueError:
        raise ValueError(f"invalid node port range {text!r}: expected FIRST-LAST") from None
    if not 1 <= first <= last <= 65535:
        raise ValueError(f"invalid node port range {text!r}: ports must be 1-65535, first <= last")
    return first, last


@dataclass(slots=True)
class _Owned:
    """What one Service holds: its address and node ports."""

    ip: int | None
    ports: frozenset[int]


class ServiceAllocator:
    """Cluster IPs and node ports of the stored Services (see the module docstring)."""

    def __init__(
        self,
        service_cidr: str = DEFAULT_SERVICE_CIDR,
        node_port_range: str = DEFAULT_NODE_PORT_RANGE,
        *,
        rng: random.Random | None = None,
    ) -> None:
        try:
            network = ipaddress.ip_network(service_cidr, strict=True)
        except ValueError as error:
            raise ValueError(f"invalid service CIDR {service_cidr!r}: {error}") from None
        if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen > 29:
            raise ValueError(f"service CIDR {service_cidr!r} must be an IPv4 range of /29 or wider")
        self.network = network
        self.node_ports = parse_port_range(node_port_range)
        self.rng = rng or random.Random(0)
        self._first = int(network.network_address) + 1
        self._last = int(network.broadcast_address) - 1
        size = self._last - self._first + 1
        # Kubernetes' static band: min(max(16, size/16), 256) addresses at the bottom.
        self._static_end = self._first + min(max(16, size // 16), 256)
        self._ips: set[int] = set()
        self._ports: set[int] = set()
        self._by_service: dict[tuple[str, str], _Owned] = {}

    @property
    def kubernetes_ip(self) -> str:
        """The first address of the range, the `kubernetes` Service's."""
        return str(ipaddress.IPv4Address(self._first))

    # -- bookkeeping ----------------------------------------------------------------

    def rebuild(self, services: Iterable[Service]) -> None:
        """Forget everything and take the allocations of `services` (the stored ones)."""
        self._ips.clear()
        self._ports.clear()
        self._by_service.clear()
        for service in services:
            self._hold(service)

    def _hold(self, service: Service) -> None:
        ip = self._ip_value(service.spec.cluster_ip)
        ports = frozenset(_node_ports(service.spec))
        if ip is not None:
            self._ips.add(ip)
        self._ports.update(ports)
        self._by_service[_key(service)] = _Owned(ip, ports)

    def release(self, service: Service) -> None:
        owned = self._by_service.pop(_key(service), None)
        if owned is None:
            return
        if owned.ip is not None:
            self._ips.discard(owned.ip)
        self._ports.difference_update(owned.ports)

    def allocated_ips(self) -> set[str]:
        return {str(ipaddress.IPv4Address(v)) for v in self._ips}

    def allocated_ports(self) -> set[int]:
        return set(self._ports)

    def _ip_value(self, text: str | None) -> int | None:
        if not text or text == "None":
            return None
        try:
            value = int(ipaddress.IPv4Address(text))
        except ValueError:
            return None
        return value if self._first <= value <= self._last else None

    # -- admission ------------------------------------------------------------------

    def admit(self, service: Service, current: Service | None) -> Service:
        """The Service as it is to be stored (addresses and ports filled in);
        raises Invalid when refused. Takes nothing: the store calls `record`
        once the write is committed. `current` is the stored version on an
        update, None on create."""
        spec = service.spec
        errors: list[FieldError] = []
        update: dict[str, object] = {}
        previous = self._by_service.get(_key(service)) if current is not None else None
        families = self._families(spec, errors)
        update.update(families)
        _, ip_update = self._cluster_ip(spec, current, previous, errors)
        update.update(ip_update)
        _, port_update = self._node_port_plan(spec, current, previous, errors)
        update.update(port_update)
        if errors:
            raise Invalid(f'Service "{service.metadata.name}"', errors)
        new_spec = spec.model_copy(update=update) if update else spec
        return service if new_spec is spec else service.model_copy(update={"spec": new_spec})

    def record(self, service: Service) -> None:
        """Take the allocations of a committed (created or updated) Service."""
        self.release(service)
        self._hold(service)

    def _families(self, spec: ServiceSpec, errors: list[FieldError]) -> dict[str, object]:
        if spec.type == "ExternalName":
            return {}
        update: dict[str, object] = {}
        for index, family in enumerate(spec.ip_families):
            if family != "IPv4":
                errors.append(
                    FieldError(
                        f"spec.ipFamilies[{index}]",
                        f"Invalid value: {family!r}: not configured on this cluster "
                        "(single-stack IPv4)",
                    )
                )
        if not spec.ip_families:
            update["ip_families"] = ["IPv4"]
        headless_selectorless = spec.cluster_ip == "None" and not spec.selector
        policy = spec.ip_family_policy
        if policy is None:
            update["ip_family_policy"] = (
                "RequireDualStack" if headless_selectorless else "SingleStack"
            )
        elif policy not in ("SingleStack", "PreferDualStack", "RequireDualStack"):
            errors.append(
                FieldError(
                    "spec.ipFamilyPolicy",
                    f'Unsupported value: "{policy}": supported values: "PreferDualStack", '
                    '"RequireDualStack", "SingleStack"',
                )
            )
        elif policy == "RequireDualStack" and not headless_selectorless:
            errors.append(
                FieldError(
                    "spec.ipFamilyPolicy",
                    'Invalid value: "RequireDualStack": this cluster is not configured '
                    "for dual-stack services",
                )
            )
        return update

    def _cluster_ip(
        self,
        spec: ServiceSpec,
        current: Service | None,
        previous: _Owned | None,
        errors: list[FieldError],
    ) -> tuple[int | None, dict[str, object]]:
        if spec.type == "ExternalName":
            # An ExternalName Service has no address (one it had is released).
            if spec.cluster_ip not in (None, "") or spec.cluster_ips:
                if current is not None and spec.cluster_ip == current.spec.cluster_ip:
                    return None, {"cluster_ip": None, "cluster_ips": []}
                errors.append(FieldError("spec.clusterIP", "must be empty for 'type' ExternalName"))
            return None, {}
        requested = spec.cluster_ip or (spec.cluster_ips[0] if spec.cluster_ips else None)
        if spec.cluster_ips and spec.cluster_ip and spec.cluster_ips[0] != spec.cluster_ip:
            errors.append(
                FieldError(
                    "spec.clusterIPs",
                    "Invalid value: element [0] must match clusterIP",
                )
            )
            return None, {}
        if current is not None and current.spec.type != "ExternalName":
            kept = current.spec.cluster_ip
            if requested not in (None, "", kept):
                errors.append(FieldError("spec.clusterIPs[0]", "Invalid value: field is immutable"))
                return None, {}
            value = previous.ip if previous is not None else self._ip_value(kept)
            return value, {"cluster_ip": kept, "cluster_ips": [kept] if kept else []}
        if requested == "None":
            return None, {"cluster_ip": "None", "cluster_ips": ["None"]}
        if requested:
            try:
                value = int(ipaddress.IPv4Address(requested))
            except ValueError:
                errors.append(
                    FieldError(
                        "spec.clusterIPs[0]",
                        f'Invalid value: "{requested}": must be a valid IP address',
                    )
                )
                return None, {}
            if not self._first <= value <= self._last:
                errors.append(
                    FieldError(
                        "spec.clusterIPs",
                        f'Invalid value: ["{requested}"]: failed to allocate IP {requested}: '
                        f"the provided IP ({requested}) is not in the valid range. "
                        f"The range of valid IPs is {self.network}",
                    )
                )
                return None, {}
            if value in self._ips:
                errors.append(
                    FieldError(
                        "spec.clusterIPs",
                        f'Invalid value: ["{requested}"]: failed to allocate IP {requested}: '
                        "provided IP is already allocated",
                    )
                )
                return None, {}
        else:
            value = self._free_ip()
            if value is None:
                errors.append(
                    FieldError(
                        "spec.clusterIPs",
                        "failed to allocate IP: range is full",
                    )
                )
                return None, {}
        text = str(ipaddress.IPv4Address(value))
        return value, {"cluster_ip": text, "cluster_ips": [text]}

    def _free_ip(self) -> int | None:
        # Dynamic allocation prefers the upper band and falls back to the lower.
        for low, high in ((self._static_end, self._last), (self._first, self._static_end - 1)):
            size = high - low + 1
            if size <= 0:
                continue
            start = self.rng.randrange(size)
            for step in range(size):
                value = low + (start + step) % size
                if value not in self._ips:
                    return value
        return None

    def _node_port_plan(
        self,
        spec: ServiceSpec,
        current: Service | None,
        previous: _Owned | None,
        errors: list[FieldError],
    ) -> tuple[set[int], dict[str, object]]:
        wants = spec.type in _NODE_PORT_TYPES and not (
            spec.type == "LoadBalancer" and spec.allocate_load_balancer_node_ports is False
        )
        mine = previous.ports if previous is not None else frozenset()
        taken = self._ports - mine
        first, last = self.node_ports
        chosen: set[int] = set()
        # An update that leaves a node port out keeps the one the port had
        # (the apiserver's patchAllocatedValues).
        kept = {
            (p.port, p.protocol): p.node_port
            for p in (current.spec.ports if current is not None else ())
            if p.node_port and p.node_port in mine
        }
        new_ports: list[ServicePort] = []
        changed = False
        for index, port in enumerate(spec.ports):
            number = port.node_port
            if spec.type not in _NODE_PORT_TYPES:
                if number:
                    new_ports.append(port.model_copy(update={"node_port": None}))
                    changed = True
                else:
                    new_ports.append(port)
                continue
            if number:
                at = f"spec.ports[{index}].nodePort"
                if not first <= number <= last:
                    errors.append(
                        FieldError(
                            at,
                            f"Invalid value: {number}: provided port is not in the valid "
                            f"range. The range of valid ports is {first}-{last}",
                        )
                    )
                elif number in taken or (number in chosen and not _same_number(spec, port)):
                    errors.append(
                        FieldError(
                            at, f"Invalid value: {number}: provided port is already allocated"
                        )
                    )
                chosen.add(number)
                new_ports.append(port)
            elif wants:
                free = kept.get((port.port, port.protocol))
                if free is None or free in chosen:
                    free = self._free_port(taken | chosen)
                if free is None:
                    errors.append(FieldError(f"spec.ports[{index}].nodePort", "range is full"))
                    new_ports.append(port)
                    continue
                chosen.add(free)
                new_ports.append(port.model_copy(update={"node_port": free}))
                changed = True
            else:
                new_ports.append(port)
        update: dict[str, object] = {"ports": new_ports} if changed else {}
        health = spec.health_check_node_port
        needs_health = spec.type == "LoadBalancer" and spec.external_traffic_policy == "Local"
        if needs_health:
            if not health and current is not None:
                health = current.spec.health_check_node_port
                if health:
                    update["health_check_node_port"] = health
            if health:
                if health in taken or health in chosen:
                    errors.append(
                        FieldError(
                            "spec.healthCheckNodePort",
                            f"Invalid value: {health}: provided port is already allocated",
                        )
                    )
                chosen.add(health)
            else:
                free = self._free_port(taken | chosen)
                if free is not None:
                    chosen.add(free)
                    update["health_check_node_port"] = free
        elif health:
            update["health_check_node_port"] = None
        return chosen, update

    def _free_port(self, taken: set[int]) -> int | None:
        first, last = self.node_ports
        size = last - first + 1
        start = self.rng.randrange(size)
        for step in range(size):
            value = first + (start + step) % size
            if value not in taken:
                return value
        return None


def _same_number(spec: ServiceSpec, port: ServicePort) -> bool:
    """Two ports of one Service may share a node port only if they differ in
    protocol (TCP and UDP on 53, say) — Kubernetes allows exactly that."""
    same = [p for p in spec.ports if p.node_port == port.node_port]
    return len({p.protocol for p in same}) == len(same)


def _node_ports(spec: ServiceSpec) -> set[int]:
    ports = {p.node_port for p in spec.ports if p.node_port}
    if spec.health_check_node_port:
        ports.add(spec.health_check_node_port)
    return ports


def _key(service: Service) -> tuple[str, str]:
    return (service.metadata.namespace or "default", service.metadata.name)
