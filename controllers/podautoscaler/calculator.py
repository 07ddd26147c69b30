"""The replica calculator: how many replicas one metric asks for
(kube-controller-manager's `replica_calculator.go`, same rules, same order).

For pod metrics (Resource, ContainerResource, Pods) the pods matching the
target's selector are grouped first:

* deleted (deletionTimestamp set) and Failed pods are ignored;
* Pending pods are *unready*;
* pods without a sample are *missing*;
* for cpu only: a pod within the cpu initialization period (5 min after it
  started) counts as unready while it is not Ready or its sample was taken
  less than one window after its last readiness change; after that period, a
  pod that is not Ready and never was (its Ready condition changed within
  the initial readiness delay, 30 s, of its start) is unready;
* the rest are ready.

The usage ratio over the ready pods' samples decides: within tolerance
(`Tolerances`, 0.1 each way unless behavior sets its own) nothing changes;
otherwise, with no unready or missing pods, ceil(ratio x ready). Else missing
pods count as 100 % of their request (or the target, if higher) when scaling
down and 0 % when scaling up, unready pods as 0 % when scaling up, the ratio
is computed again, and the current count stays if the new ratio is within
tolerance, reverses the direction, or the new count would move the other
way.

Object and External metrics are compared with their target as a whole
(Value: ratio x ready pods; AverageValue: ceil(total / target) against the
status replica count).

Neighbours: `controllers.podautoscaler.metrics` (samples),
`controllers.podautoscaler.controller` (calls it per metric).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from controllers.podautoscaler.metrics import (
    MetricsClient,
    MetricsUnavailable,
    PodMetric,
    PodMetricsInfo,
)
from engine.api.autoscaling import CrossVersionObjectReference
from engine.api.base import LabelSelector
from engine.api.core import Pod
from engine.selectors import Selector

__all__ = ["CalculationError", "ReplicaCalculator", "Tolerances", "per_pod_replicas"]

DEFAULT_TOLERANCE = 0.1
CPU_INITIALIZATION_PERIOD = 300.0
INITIAL_READINESS_DELAY = 30.0


class CalculationError(Exception):
    """The metric gives no replica count (the message is Kubernetes')."""


@dataclass(frozen=True, slots=True)
class Tolerances:
    """Usage ratios within [1 - scale_down, 1 + scale_up] change nothing."""

    scale_down: float = DEFAULT_TOLERANCE
    scale_up: float = DEFAULT_TOLERANCE

    def within(self, ratio: float) -> bool:
        return 1.0 - self.scale_down <= ratio <= 1.0 + self.scale_up


@dataclass(frozen=True, slots=True)
class ResourceProposal:
    replicas: int
    utilization: int
    raw: int
    timestamp: datetime | None


PodLister = Callable[[str, Selector], Sequence[Pod]]


def pod_request(pod: Pod, container: str | None, resource: str) -> int:
    """The pod's request of `resource` in thousandths: its containers' and
    restartable init containers' (sidecars'), or the named container's."""
    total = 0
    spec = pod.spec
    sidecars = [c for c in spec.init_containers if c.restart_policy == "Always"]
    for c in (*spec.containers, *sidecars):
        if container is not None and c.name != container:
            continue
        request = c.resources.requests.get(resource)
        if request is None:
            raise CalculationError(
                f"missing request for {resource} in container {c.name} of Pod {pod.metadata.name}"
            )
        total += request.milli_value()
    return total


def _utilization_ratio(
    metrics: PodMetricsInfo, requests: dict[str, int], target: int
) -> tuple[float, int, int]:
    """(usage ratio, utilization %, average raw value) over pods with a request."""
    metrics_total = requests_total = entries = 0
    for name, metric in metrics.items():
        request = requests.get(name)
        if request is None:
            continue  # missing requests are checked elsewhere: an extraneous metric
        metrics_total += metric.value
        requests_total += request
        entries += 1
    if requests_total == 0:
        raise CalculationError("no metrics returned matched known pods")
    utilization = metrics_total * 100 // requests_total
    return utilization / target, utilization, metrics_total // entries


def _usage_ratio(metrics: PodMetricsInfo, target: int) -> tuple[float, int]:
    usage = sum(m.value for m in metrics.values()) // len(metrics)
    return usage / target, usage


class ReplicaCalculator:
    """See the module docstring. `pods(namespace, selector)` lists the pods."""

    def __init__(
        self,
        metrics: MetricsClient,
        pods: PodLister,
        *,
        now: Callable[[], datetime],
        cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD,
        initial_readiness_delay: float = INITIAL_READINESS_DELAY,
    ) -> None:
        self.metrics = metrics
        self.pods = pods
        self.now = now
        self.cpu_initialization_period = timedelta(seconds=cpu_initialization_period)
        self.initial_readiness_delay = timedelta(seconds=initial_readiness_delay)
        self._requests: dict[tuple[int, str | None, str], tuple[Pod, int]] = {}

    # -- pod metrics ----------------------------------------------------------------

    def _pod_requests(
        self, pods: Sequence[Pod], container: str | None, resource: str
    ) -> dict[str, int]:
        # Pods are immutable: a pod's request is read once per pod object.
        requests: dict[str, int] = {}
        cache = self._requests
        for pod in pods:
            key = (id(pod), container, resource)
            cached = cache.get(key)
            if cached is None or cached[0] is not pod:
                if len(cache) >= 100_000:
                    cache.clear()
                cached = cache[key] = (pod, pod_request(pod, container, resource))
            requests[pod.metadata.name] = cached[1]
        return requests

    def _listed(self, namespace: str, selector: Selector) -> Sequence[Pod]:
        pods = self.pods(namespace, selector)
        if not pods:
            raise CalculationError("no pods returned by selector while calculating replica count")
        return pods

    def group_pods(
        self, pods: Sequence[Pod], metrics: PodMetricsInfo, resource: str
    ) -> tuple[int, set[str], set[str], set[str]]:
        """(ready count, unready, missing, ignored) as the module docstring says."""
        ready = 0
        unready: set[str] = set()
        missing: set[str] = set()
        ignored: set[str] = set()
        now = self.now()
        for pod in pods:
            name = pod.metadata.name
            phase = pod.status.phase
            if pod.metadata.deletion_timestamp is not None or phase == "Failed":
                ignored.add(name)
                continue
            if phase == "Pending":
                unready.add(name)
                continue
            metric = metrics.get(name)
            if metric is None:
                missing.add(name)
                continue
            if resource == "cpu" and self._cpu_unready(pod, metric, now):
                unready.add(name)
                continue
            ready += 1
        return ready, unready, missing, ignored

    def _cpu_unready(self, pod: Pod, metric: PodMetric, now: datetime) -> bool:
        condition = pod.status.condition("Ready")
        start = pod.status.start_time
        if condition is None or start is None:
            return True
        changed = condition.last_transition_time or start
        if start + self.cpu_initialization_period > now:
            # Within the initialisation period: unready, or not one whole
            # window of samples since its last readiness change.
            return condition.status == "False" or metric.timestamp < changed + timedelta(
                seconds=metric.window
            )
        # Unready and never ready since it started.
        return condition.status == "False" and start + self.initial_readiness_delay > changed

    def _known(self, pods: Sequence[Pod], metrics: PodMetricsInfo) -> PodMetricsInfo:
        names = {p.metadata.name for p in pods}
        return {name: m for name, m in metrics.items() if name in names}

    async def _resource_metric(
        self, resource: str, namespace: str, selector: Selector, container: str | None
    ) -> tuple[PodMetricsInfo, datetime | None]:
        try:
            return await self.metrics.resource_metric(resource, namespace, selector, container)
        except MetricsUnavailable as error:
            raise CalculationError(
                f"unable to get metrics for resource {resource}: {error}"
            ) from None

    async def resource_replicas(
        self,
        current: int,
        target_utilization: int,
        resource: str,
        tolerances: Tolerances,
        namespace: str,
        selector: Selector,
        container: str | None,
    ) -> ResourceProposal:
        """GetResourceReplicas: a Utilization target (percent of requests)."""
        metrics, timestamp = await self._resource_metric(resource, namespace, selector, container)
        pods = self._listed(namespace, selector)
        metrics = self._known(pods, metrics)
        ready, unready, missing, ignored = self.group_pods(pods, metrics, resource)
        for name in ignored | unready:
            metrics.pop(name, None)
        if not metrics:
            raise CalculationError(
                "did not receive metrics for targeted pods (pods might be unready)"
            )
        requests = self._pod_requests(pods, container, resource)
        ratio, utilization, raw = _utilization_ratio(metrics, requests, target_utilization)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if tolerances.within(ratio):
                return ResourceProposal(current, utilization, raw, timestamp)
            return ResourceProposal(math.ceil(ratio * ready), utilization, raw, timestamp)
        if missing:
            if ratio < 1.0:
                fallback = max(100, target_utilization)
                for name in missing:
                    metrics[name] = PodMetric(_EPOCH, 0.0, requests[name] * fallback // 100)
            elif ratio > 1.0:
                for name in missing:
                    metrics[name] = PodMetric(_EPOCH, 0.0, 0)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(_EPOCH, 0.0, 0)
        new_ratio, _, _ = _utilization_ratio(metrics, requests, target_utilization)
        replicas = self._rebalanced(current, ratio, new_ratio, len(metrics), tolerances)
        return ResourceProposal(replicas, utilization, raw, timestamp)

    @staticmethod
    def _rebalanced(
        current: int, ratio: float, new_ratio: float, counted: int, tolerances: Tolerances
    ) -> int:
        if (
            tolerances.within(new_ratio)
            or (ratio < 1.0 and new_ratio > 1.0)
            or (ratio > 1.0 and new_ratio < 1.0)
        ):
            return current  # too small a change, or the direction would flip
        replicas = math.ceil(new_ratio * counted)
        if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
            return current  # the count of pods considered would flip the direction
        return replicas

    async def raw_resource_replicas(
        self,
        current: int,
        target_usage: int,
        resource: str,
        tolerances: Tolerances,
        namespace: str,
        selector: Selector,
        container: str | None,
    ) -> tuple[int, int, datetime | None]:
        """GetRawResourceReplicas: an AverageValue target on a resource."""
        metrics, timestamp = await self._resource_metric(resource, namespace, selector, container)
        replicas, usage = self._plain(
            metrics, current, target_usage, tolerances, namespace, selector, resource
        )
        return replicas, usage, timestamp

    async def metric_replicas(
        self,
        current: int,
        target_usage: int,
        name: str,
        tolerances: Tolerances,
        namespace: str,
        selector: Selector,
        metric_selector: LabelSelector | None,
    ) -> tuple[int, int, datetime | None]:
        """GetMetricReplicas: a Pods metric's AverageValue target."""
        try:
            metrics, timestamp = await self.metrics.raw_metric(
                name, namespace, selector, metric_selector
            )
        except MetricsUnavailable as error:
            raise CalculationError(f"unable to get metric {name}: {error}") from None
        replicas, usage = self._plain(
            metrics, current, target_usage, tolerances, namespace, selector, ""
        )
        return replicas, usage, timestamp

    def _plain(
        self,
        metrics: PodMetricsInfo,
        current: int,
        target_usage: int,
        tolerances: Tolerances,
        namespace: str,
        selector: Selector,
        resource: str,
    ) -> tuple[int, int]:
        """calcPlainMetricReplicas: average usage per pod against the target."""
        pods = self._listed(namespace, selector)
        metrics = self._known(pods, metrics)
        ready, unready, missing, ignored = self.group_pods(pods, metrics, resource)
        for name in ignored | unready:
            metrics.pop(name, None)
        if not metrics:
            raise CalculationError(
                "did not receive metrics for targeted pods (pods might be unready)"
            )
        ratio, usage = _usage_ratio(metrics, target_usage)
        scale_up_with_unready = bool(unready) and ratio > 1.0
        if not scale_up_with_unready and not missing:
            if tolerances.within(ratio):
                return current, usage
            return math.ceil(ratio * ready), usage
        if missing:
            fill = target_usage if ratio < 1.0 else 0
            for name in missing:
                metrics[name] = PodMetric(_EPOCH, 0.0, fill)
        if scale_up_with_unready:
            for name in unready:
                metrics[name] = PodMetric(_EPOCH, 0.0, 0)
        new_ratio, _ = _usage_ratio(metrics, target_usage)
        return self._rebalanced(current, ratio, new_ratio, len(metrics), tolerances), usage

    # -- object and external metrics ----------------------------------------------

    def _ready_pods(self, namespace: str, selector: Selector) -> int:
        pods = self._listed(namespace, selector)
        return sum(1 for p in pods if p.status.phase == "Running" and p.is_ready)

    def _usage_ratio_replicas(
        self,
        current: int,
        ratio: float,
        tolerances: Tolerances,
        namespace: str,
        selector: Selector,
    ) -> int:
        if current == 0:
            return math.ceil(ratio)  # scale from zero by the ratio alone
        if tolerances.within(ratio):
            return current
        try:
            ready = self._ready_pods(namespace, selector)
        except CalculationError as error:
            raise CalculationError(f"unable to calculate ready pods: {error}") from None
        return math.ceil(ratio * ready)

    def value_replicas(
        self,
        current: int,
        usage: int,
        target: int,
        tolerances: Tolerances,
        namespace: str,
        selector: Selector,
    ) -> int:
        """GetObjectMetricReplicas / GetExternalMetricReplicas: a Value target
        for one usage (an object's metric, or an external metric's sum)."""
        return self._usage_ratio_replicas(current, usage / target, tolerances, namespace, selector)

    async def object_usage(
        self,
        name: str,
        namespace: str,
        ref: CrossVersionObjectReference,
        metric_selector: LabelSelector | None,
    ) -> tuple[int, datetime | None]:
        """The Object metric `name` of `ref`."""
        try:
            return await self.metrics.object_metric(name, namespace, ref, metric_selector)
        except MetricsUnavailable as error:
            raise CalculationError(
                f"unable to get metric {name}: {error} on {ref.kind} {namespace}/{ref.name}"
            ) from None

    async def external_usage(
        self, name: str, namespace: str, metric_selector: LabelSelector | None
    ) -> tuple[int, datetime | None]:
        """The sum of the External metric's series the selector matches."""
        try:
            values, timestamp = await self.metrics.external_metric(name, namespace, metric_selector)
        except MetricsUnavailable as error:
            raise CalculationError(
                f"unable to get external metric {namespace}/{name}/{metric_selector}: {error}"
            ) from None
        return sum(values), timestamp


def per_pod_replicas(
    usage: int, status_replicas: int, target_average: int, tolerances: Tolerances
) -> tuple[int, int]:
    """GetObjectPerPodMetricReplicas / GetExternalPerPodMetricReplicas: an
    AverageValue target for a whole usage: (replicas, usage per pod)."""
    replicas = status_replicas
    if status_replicas > 0:
        ratio = usage / (target_average * status_replicas)
    else:
        ratio = math.inf if usage > 0 else 0.0
    if not tolerances.within(ratio):
        replicas = math.ceil(usage / target_average)
    average = math.ceil(usage / status_replicas) if status_replicas else usage
    return replicas, average


_EPOCH = datetime.fromtimestamp(0).astimezone()
