"""What the scheduler needs to know about one pod, computed once per pod.

`PodInfo.of(pod)` reads a Pod into plain Python values: its resource requests
as Kubernetes' PodRequests computes them (app containers summed, init
containers as a running maximum with sidecars added, pod-level resources,
overhead), the "non-zero" requests scoring uses (100m cpu / 200Mi memory for a
container that names none), host ports, tolerations, compiled node affinity,
pod (anti-)affinity terms with their namespaces resolved, and topology spread
constraints with `matchLabelKeys` merged into their selectors.

Pods made from one template share their spec's parts (containers, affinity,
constraints) as the same objects, so the costly compilations are memoised by
object identity (`_memo`); a pod costs a few microseconds to read.

Neighbours: `controllers.scheduler.affinity` (the compiled rule types),
`controllers.scheduler.cache` (keeps PodInfo of assigned pods), the queue
(keeps QueuedPodInfo around PodInfo), and every plugin (reads PodInfo).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, TypeVar

from controllers.scheduler.affinity import (
    NO_NODE_AFFINITY,
    AffinityTerm,
    NodeAffinitySpec,
    SpreadConstraint,
    WeightedTerm,
    compile_node_affinity,
)
from controllers.scheduler.requests import (
    DEFAULT_MEMORY_REQUEST,
    DEFAULT_MILLI_CPU_REQUEST,
    Requests,
    compute_requests,
)
from engine.api.core import Container, Pod, PodSpec, Toleration
from engine.api.core.placement import Affinity, PodAffinityTerm, TopologySpreadConstraint
from engine.selectors import Operator, Requirement, Selector, from_label_selector

__all__ = [
    "DEFAULT_MEMORY_REQUEST",
    "DEFAULT_MILLI_CPU_REQUEST",
    "HostPort",
    "PodInfo",
    "Requests",
    "compute_requests",
    "host_ports_of",
    "normalized_image_name",
    "same_scheduling_inputs",
]

WILDCARD_IP: Final = "0.0.0.0"
_EPOCH: Final = datetime.min

HostPort = tuple[str, str, int]
"""(protocol, hostIP, hostPort); hostIP is 0.0.0.0 when unset."""

T = TypeVar("T")


class _IdentityMemo:
    """Results keyed by the identity of an immutable input, which is kept alive
    so its id cannot be reused. Bounded: cleared when full."""

    __slots__ = ("_entries", "_limit")

    def __init__(self, limit: int = 4096) -> None:
        self._entries: dict[int, tuple[object, Any]] = {}
        self._limit = limit

    def get(self, key: object, compute: Callable[[], T]) -> T:
        entry = self._entries.get(id(key))
        if entry is not None and entry[0] is key:
            value: T = entry[1]
            return value
        value = compute()
        if len(self._entries) >= self._limit:
            self._entries.clear()
        self._entries[id(key)] = (key, value)
        return value


_memo_requests = _IdentityMemo()
_memo_affinity = _IdentityMemo()
_memo_selectors = _IdentityMemo()
_memo_ports = _IdentityMemo()
_memo_images = _IdentityMemo()


def _requests_of(spec: PodSpec) -> Requests:
    # Containers lists are shared by pods of one template even when defaulting
    # copied the spec; overhead and pod-level resources are usually empty.
    if spec.overhead or spec.resources is not None or spec.init_containers:
        return compute_requests(spec)
    return _memo_requests.get(spec.containers, lambda: compute_requests(spec))


def host_ports_of(spec: PodSpec) -> tuple[HostPort, ...]:
    ports: list[HostPort] = []
    containers: Iterable[Container] = spec.containers
    sidecars = [c for c in spec.init_containers if c.restart_policy == "Always"]
    if sidecars:
        containers = [*sidecars, *spec.containers]
    for container in containers:
        ports.extend(
            (port.protocol or "TCP", port.host_ip or WILDCARD_IP, port.host_port)
            for port in container.ports
            if port.host_port
        )
    return tuple(ports)


def _ports_of(spec: PodSpec) -> tuple[HostPort, ...]:
    if spec.init_containers:
        return host_ports_of(spec)
    return _memo_ports.get(spec.containers, lambda: host_ports_of(spec))


def normalized_image_name(name: str) -> str:
    """Kubernetes' normalizedImageName: an untagged image means `:latest`."""
    if name.rfind(":") <= name.rfind("/"):
        return name + ":latest"
    return name


def _node_affinity_of(spec: PodSpec) -> NodeAffinitySpec:
    affinity = spec.affinity
    selector = spec.node_selector
    if affinity is None or affinity.node_affinity is None:
        if not selector:
            return NO_NODE_AFFINITY
        return _memo_affinity.get(selector, lambda: compile_node_affinity(selector, None))
    if not selector:
        return _memo_affinity.get(affinity, lambda: compile_node_affinity({}, affinity))
    return compile_node_affinity(selector, affinity)


def _images(spec: PodSpec) -> tuple[str, ...]:
    return tuple(
        normalized_image_name(c.image) for c in spec.all_containers() if c.image is not None
    )


def _selector(selector: Any) -> Selector:
    if selector is None:
        return from_label_selector(None)
    compiled: Selector = _memo_selectors.get(selector, lambda: from_label_selector(selector))
    return compiled


def _merge_label_keys(
    selector: Selector, labels: dict[str, str], match: list[str], mismatch: list[str]
) -> Selector:
    extra = [Requirement.make(k, Operator.IN, (labels[k],)) for k in match if k in labels]
    extra += [Requirement.make(k, Operator.NOT_IN, (labels[k],)) for k in mismatch if k in labels]
    return selector.add(*extra) if extra else selector


def _affinity_term(term: PodAffinityTerm, namespace: str, labels: dict[str, str]) -> AffinityTerm:
    selector = _selector(term.label_selector)
    if term.match_label_keys or term.mismatch_label_keys:
        selector = _merge_label_keys(
            selector, labels, term.match_label_keys, term.mismatch_label_keys
        )
    ns_selector = None if term.namespace_selector is None else _selector(term.namespace_selector)
    namespaces = frozenset(term.namespaces)
    if not namespaces and ns_selector is None:
        namespaces = frozenset((namespace,))
    return AffinityTerm(namespaces, ns_selector, selector, term.topology_key)


@dataclass(frozen=True, slots=True)
class PodAffinityRules:
    required_affinity: tuple[AffinityTerm, ...] = ()
    required_anti_affinity: tuple[AffinityTerm, ...] = ()
    preferred_affinity: tuple[WeightedTerm, ...] = ()
    preferred_anti_affinity: tuple[WeightedTerm, ...] = ()

    @property
    def empty(self) -> bool:
        return not (
            self.required_affinity
            or self.required_anti_affinity
            or self.preferred_affinity
            or self.preferred_anti_affinity
        )


_NO_POD_AFFINITY: Final = PodAffinityRules()


def _pod_affinity(
    affinity: Affinity | None, namespace: str, labels: dict[str, str]
) -> PodAffinityRules:
    if affinity is None or (affinity.pod_affinity is None and affinity.pod_anti_affinity is None):
        return _NO_POD_AFFINITY
    aff = affinity.pod_affinity
    anti = affinity.pod_anti_affinity

    def terms(items: list[PodAffinityTerm]) -> tuple[AffinityTerm, ...]:
        return tuple(_affinity_term(t, namespace, labels) for t in items)

    def weighted(items: list[Any]) -> tuple[WeightedTerm, ...]:
        return tuple(
            WeightedTerm(w.weight, _affinity_term(w.pod_affinity_term, namespace, labels))
            for w in items
        )

    return PodAffinityRules(
        required_affinity=terms(aff.required_during_scheduling_ignored_during_execution)
        if aff
        else (),
        required_anti_affinity=terms(anti.required_during_scheduling_ignored_during_execution)
        if anti
        else (),
        preferred_affinity=weighted(aff.preferred_during_scheduling_ignored_during_execution)
        if aff
        else (),
        preferred_anti_affinity=weighted(anti.preferred_during_scheduling_ignored_during_execution)
        if anti
        else (),
    )


def _spread(
    constraints: list[TopologySpreadConstraint], labels: dict[str, str]
) -> tuple[SpreadConstraint, ...]:
    out = []
    for c in constraints:
        selector = _selector(c.label_selector)
        if c.match_label_keys:
            selector = _merge_label_keys(selector, labels, c.match_label_keys, [])
        out.append(
            SpreadConstraint(
                max_skew=c.max_skew,
                topology_key=c.topology_key,
                when_unsatisfiable=c.when_unsatisfiable,
                selector=selector,
                min_domains=c.min_domains if c.min_domains is not None else 1,
                honor_node_affinity=(c.node_affinity_policy or "Honor") == "Honor",
                honor_node_taints=(c.node_taints_policy or "Ignore") == "Honor",
            )
        )
    return tuple(out)


def same_scheduling_inputs(old: Pod, new: Pod) -> bool:
    """True when everything PodInfo reads is unchanged between two versions of a
    pod (the parts are compared by identity: copies share what they keep)."""
    a, b = old.spec, new.spec
    if a is not b and not (
        a.containers is b.containers
        and a.init_containers is b.init_containers
        and a.overhead is b.overhead
        and a.resources is b.resources
        and a.affinity is b.affinity
        and a.node_selector is b.node_selector
        and a.tolerations is b.tolerations
        and a.topology_spread_constraints is b.topology_spread_constraints
        and a.scheduling_gates is b.scheduling_gates
        and a.priority == b.priority
        and a.preemption_policy == b.preemption_policy
    ):
        return False
    return (
        old.metadata.labels is new.metadata.labels
        and old.metadata.namespace == new.metadata.namespace
        and old.metadata.creation_timestamp == new.metadata.creation_timestamp
    )


@dataclass(slots=True, eq=False)
class PodInfo:
    """One pod as the scheduler reads it. Immutable after construction, except
    the fields the cache and preemption annotate (`pod` is swapped for a newer
    version of the same pod when only its status changed)."""

    pod: Pod
    key: tuple[str, str]
    uid: str
    namespace: str
    labels: dict[str, str]
    priority: int
    preemption_policy: str
    requests: Requests
    host_ports: tuple[HostPort, ...]
    tolerations: tuple[Toleration, ...]
    node_affinity: NodeAffinitySpec
    pod_affinity: PodAffinityRules
    spread: tuple[SpreadConstraint, ...]
    images: tuple[str, ...]
    scheduling_gates: tuple[str, ...]
    created: datetime
    extra: dict[str, Any] = field(default_factory=dict)
    _started: tuple[Pod, datetime] | None = None

    @classmethod
    def of(
        cls,
        pod: Pod,
        *,
        priority: int | None = None,
        preemption_policy: str | None = None,
    ) -> PodInfo:
        """Read `pod`. `priority`/`preemption_policy` override what the spec says
        (the scheduler resolves them from a PriorityClass when the spec has none)."""
        spec = pod.spec
        meta = pod.metadata
        labels = meta.labels
        namespace = meta.namespace or "default"
        affinity = spec.affinity
        node_affinity = _node_affinity_of(spec)
        return cls(
            pod=pod,
            key=(namespace, meta.name),
            uid=meta.uid,
            namespace=namespace,
            labels=labels,
            priority=priority if priority is not None else (spec.priority or 0),
            preemption_policy=preemption_policy or spec.preemption_policy or "PreemptLowerPriority",
            requests=_requests_of(spec),
            host_ports=_ports_of(spec),
            tolerations=tuple(spec.tolerations),
            node_affinity=node_affinity,
            pod_affinity=_pod_affinity(affinity, namespace, labels),
            spread=_spread(spec.topology_spread_constraints, labels)
            if spec.topology_spread_constraints
            else (),
            images=_memo_images.get(spec.containers, lambda: _images(spec))
            if not spec.init_containers
            else _images(spec),
            scheduling_gates=tuple(g.name for g in spec.scheduling_gates),
            created=meta.creation_timestamp or _EPOCH,
        )

    def with_pod(self, pod: Pod) -> PodInfo:
        """This info for a newer version of the same pod: reuses what cannot
        have changed when spec and labels are the same objects as before."""
        if same_scheduling_inputs(self.pod, pod):
            clone = PodInfo(
                pod=pod,
                key=self.key,
                uid=pod.metadata.uid,
                namespace=self.namespace,
                labels=self.labels,
                priority=self.priority,
                preemption_policy=self.preemption_policy,
                requests=self.requests,
                host_ports=self.host_ports,
                tolerations=self.tolerations,
                node_affinity=self.node_affinity,
                pod_affinity=self.pod_affinity,
                spread=self.spread,
                images=self.images,
                scheduling_gates=self.scheduling_gates,
                created=self.created,
            )
            return clone
        return PodInfo.of(pod, priority=self.priority, preemption_policy=self.preemption_policy)

    @property
    def name(self) -> str:
        return self.key[1]

    @property
    def node_name(self) -> str:
        return self.pod.spec.node_name or ""

    @property
    def is_terminating(self) -> bool:
        return self.pod.metadata.deletion_timestamp is not None

    @property
    def start_time(self) -> datetime:
        """When the pod started (for preemption's tie-break), else its creation."""
        started = self._started
        if started is None or started[0] is not self.pod:
            started = (self.pod, self.pod.status.start_time or self.created)
            self._started = started
        return started[1]

    def __repr__(self) -> str:
        return f"PodInfo({self.key[0]}/{self.key[1]})"
