"""The HorizontalPodAutoscaler controller (kube-controller-manager's
`horizontalpodautoscaling`, autoscaling/v2).

Every sync period (15 s on the injected clock) each HPA is reconciled:

1. read the target's scale subresource (any kind that has one: Deployment,
   ReplicaSet, StatefulSet, ReplicationController, a custom kind whose CRD
   declares it); failing that, AbleToScale=False FailedGetScale;
2. a target at 0 replicas (with minReplicas > 0) is not autoscaled
   (ScalingActive=False ScalingDisabled); one outside [min, max] is brought
   back inside; otherwise every metric proposes a count
   (`controllers.podautoscaler.calculator`) and the largest wins. An invalid
   metric fails the sync when every metric is invalid, or when the others
   would scale down (no scale-down on partial data): ScalingActive=False with
   the first failure's reason (FailedGetResourceMetric, ...);
3. the proposal is normalized (`controllers.podautoscaler.normalize`):
   stabilization windows and policies with `behavior`, the legacy limits
   without;
4. a changed count is written through the scale subresource
   (SuccessfulRescale event, lastScaleTime), then the status (currentReplicas,
   desiredReplicas, currentMetrics, conditions AbleToScale / ScalingActive /
   ScalingLimited with Kubernetes' reasons and messages) if it changed.

Decisions: a newly created HPA is synced at once (Kubernetes waits one sync
period); its later updates coalesce into the next sync, as Kubernetes' fixed
interval rate limiter does. Tolerance is 0.1 each way unless
`behavior.scaleUp/scaleDown.tolerance` says otherwise. Selector overlap
between HPAs (AmbiguousSelector) is not detected.

Neighbours: `controllers.podautoscaler.metrics` (what it reads),
`engine.events` (events), `engine.api.autoscaling` (the kind).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from controllers.podautoscaler.calculator import (
    CPU_INITIALIZATION_PERIOD,
    DEFAULT_TOLERANCE,
    INITIAL_READINESS_DELAY,
    CalculationError,
    ReplicaCalculator,
    Tolerances,
    per_pod_replicas,
)
from controllers.podautoscaler.metrics import ApiMetricsClient, MetricsClient
from controllers.podautoscaler.normalize import Recommendations
from engine.api.autoscaling import (
    ContainerResourceMetricStatus,
    ExternalMetricStatus,
    HorizontalPodAutoscaler,
    HorizontalPodAutoscalerCondition,
    HorizontalPodAutoscalerStatus,
    MetricSpec,
    MetricStatus,
    MetricValueStatus,
    ObjectMetricStatus,
    PodsMetricStatus,
    ResourceMetricStatus,
)
from engine.api.base import Resource
from engine.api.core import Pod
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import ApiError, BadRequest, Conflict, NotFound
from engine.events import EventRecorder
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.manager import Manager
from engine.quantity import Quantity
from engine.registry import REGISTRY, Registry
from engine.selectors import InvalidSelector, Selector, parse_selector
from engine.store import Scale

__all__ = ["HPAConfig", "HorizontalController", "setup"]

SYNC_PERIOD: Final = 15.0
DOWNSCALE_STABILIZATION: Final = 300.0
_FAILED = -1

_FAILED_REASONS: Final = {
    "Resource": "FailedGetResourceMetric",
    "ContainerResource": "FailedGetContainerResourceMetric",
    "Pods": "FailedGetPodsMetric",
    "Object": "FailedGetObjectMetric",
    "External": "FailedGetExternalMetric",
}


@dataclass(frozen=True, slots=True)
class HPAConfig:
    """kube-controller-manager's --horizontal-pod-autoscaler-* flags."""

    sync_period: float = SYNC_PERIOD
    tolerance: float = DEFAULT_TOLERANCE
    downscale_stabilization: float = DOWNSCALE_STABILIZATION
    cpu_initialization_period: float = CPU_INITIALIZATION_PERIOD
    initial_readiness_delay: float = INITIAL_READINESS_DELAY


class _MetricFailure(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class _Sync:
    """One reconcile's conditions, set in Kubernetes' order (a condition may be
    set several times; the last value wins) and events. A condition's
    lastTransitionTime moves when its status changed at any set, as with
    Kubernetes' setCondition; the stored objects are reused when nothing did."""

    def __init__(self, hpa: HorizontalPodAutoscaler, now: datetime) -> None:
        self.now = now
        self.original = hpa.status.conditions
        # type -> (status, reason, message, status changed)
        self._wanted: dict[str, tuple[str, str, str, bool]] = {}

    def set(self, type_: str, status: str, reason: str, message: str) -> None:
        previous = self._wanted.get(type_)
        if previous is not None:
            moved = previous[3] or previous[0] != status
        else:
            existing = next((c for c in self.original if c.type == type_), None)
            moved = existing is None or existing.status != status
        self._wanted[type_] = (status, reason, message, moved)

    @property
    def conditions(self) -> list[HorizontalPodAutoscalerCondition]:
        result = list(self.original)
        positions = {c.type: i for i, c in enumerate(result)}
        for type_, (status, reason, message, moved) in self._wanted.items():
            i = positions.get(type_)
            existing = result[i] if i is not None else None
            if (
                existing is not None
                and not moved
                and (existing.status, existing.reason, existing.message)
                == (status, reason, message)
            ):
                continue
            condition = HorizontalPodAutoscalerCondition(
                type=type_,
                status=status,
                reason=reason,
                message=message,
                last_transition_time=self.now
                if moved or existing is None
                else existing.last_transition_time,
            )
            if i is None:
                positions[type_] = len(result)
                result.append(condition)
            else:
                result[i] = condition
        return result


def _milli(value: int) -> Quantity:
    return Quantity.from_milli(value)


class HorizontalController:
    """Reconciles HorizontalPodAutoscalers (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        factory: InformerFactory,
        clock: Clock,
        *,
        metrics: MetricsClient | None = None,
        config: HPAConfig | None = None,
        registry: Registry = REGISTRY,
        workers: int = 1,
    ) -> None:
        self.client = client
        self.clock = clock
        self.config = config or HPAConfig()
        self.registry = registry
        self.hpas = factory.informer(HorizontalPodAutoscaler)
        self.pods = factory.informer(Pod)
        self.recorder = EventRecorder(client, clock, "horizontal-pod-autoscaler")
        self.calculator = ReplicaCalculator(
            metrics or ApiMetricsClient(client),
            self._list_pods,
            now=clock.now,
            cpu_initialization_period=self.config.cpu_initialization_period,
            initial_readiness_delay=self.config.initial_readiness_delay,
        )
        self.controller = Controller("horizontalpodautoscaler", self, clock=clock, workers=workers)
        self.controller.informers.extend([self.hpas, self.pods])
        self.hpas.add_event_handler(
            EventHandler(add=self._added, update=self._updated, delete=self._deleted)
        )
        self.pods.add_event_handler(
            EventHandler(add=self._pod_changed, update=self._pod_updated, delete=self._pod_deleted)
        )
        self._pod_versions: dict[str, int] = {}
        self._pod_lists: dict[tuple[str, Selector], tuple[int, list[Pod]]] = {}
        self._state: dict[str, Recommendations] = {}
        self._selectors: dict[str, Selector] = {}
        self._kinds: dict[tuple[str | None, str], type[Resource] | None] = {}
        # Metric statuses by what they say: a steady HPA's status reuses the
        # same objects, so comparing it with the stored one is cheap.
        self._statuses: dict[tuple[Any, ...], MetricStatus] = {}
        self.syncs = 0

    # -- events -----------------------------------------------------------------------

    @staticmethod
    def _request(hpa: HorizontalPodAutoscaler) -> Request:
        return Request(HorizontalPodAutoscaler, hpa.metadata.namespace, hpa.metadata.name)

    def _added(self, hpa: HorizontalPodAutoscaler) -> None:
        self.controller.enqueue(self._request(hpa))

    def _updated(self, old: HorizontalPodAutoscaler, new: HorizontalPodAutoscaler) -> None:
        self.controller.queue.add_after(self._request(new), self.config.sync_period)

    def _deleted(
        self, obj: HorizontalPodAutoscaler | DeletedFinalStateUnknown[HorizontalPodAutoscaler]
    ) -> None:
        hpa = obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj
        self._state.pop(f"{hpa.metadata.namespace}/{hpa.metadata.name}", None)

    # -- helpers ----------------------------------------------------------------------

    def _list_pods(self, namespace: str, selector: Selector) -> list[Pod]:
        # Every sync lists its target's pods; while no pod of the namespace
        # changed (the steady state) the last answer still holds. The cache is
        # updated before pod handlers run, so a bump always follows a change.
        version = self._pod_versions.get(namespace, 0)
        key = (namespace, selector)
        cached = self._pod_lists.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        pods = [p for p in self.pods.cache.list(namespace) if selector.matches(p.metadata.labels)]
        if len(self._pod_lists) >= 100_000:
            self._pod_lists.clear()
        self._pod_lists[key] = (version, pods)
        return pods

    def _pod_changed(self, pod: Pod) -> None:
        namespace = pod.metadata.namespace
        self._pod_versions[namespace] = self._pod_versions.get(namespace, 0) + 1

    def _pod_updated(self, old: Pod, new: Pod) -> None:
        self._pod_changed(new)

    def _pod_deleted(self, obj: Pod | DeletedFinalStateUnknown[Pod]) -> None:
        self._pod_changed(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    def _target_kind(self, api_version: str | None, kind_name: str) -> type[Resource] | None:
        key = (api_version, kind_name)
        if key in self._kinds:
            return self._kinds[key]
        found: type[Resource] | None = None
        if api_version:
            try:
                found = self.registry.lookup(api_version, kind_name).model
            except BadRequest:
                found = None
        else:
            found = next((i.model for i in self.registry if i.kind == kind_name), None)
        if found is not None:
            self._kinds[key] = found
        return found

    def _selector(self, text: str) -> Selector:
        selector = self._selectors.get(text)
        if selector is None:
            selector = self._selectors[text] = parse_selector(text)
        return selector

    # -- reconcile --------------------------------------------------------------------

    async def reconcile(self, request: Request) -> Result:
        hpa = self.hpas.cache.get(request.name, request.namespace)
        if hpa is None:
            self._state.pop(f"{request.namespace}/{request.name}", None)
            return Result()
        try:
            await self.sync(hpa)
        except Conflict:
            pass  # a newer HPA is on its way; the next sync reads it
        except NotFound:
            return Result()
        return Result(requeue_after=self.config.sync_period)

    async def sync(self, hpa: HorizontalPodAutoscaler) -> None:
        """One reconcile of `hpa` (reconcileAutoscaler)."""
        self.syncs += 1
        spec = hpa.spec
        key = f"{hpa.metadata.namespace}/{hpa.metadata.name}"
        state = self._state.get(key)
        if state is None:
            state = self._state[key] = Recommendations(self.config.downscale_stabilization)
        sync = _Sync(hpa, self.clock.now())
        ref = spec.scale_target_ref
        target_kind = self._target_kind(ref.api_version, ref.kind) if ref is not None else None
        scale: Scale | None = None
        error: str
        if ref is None or target_kind is None:
            error = (
                "no scaleTargetRef"
                if ref is None
                else f'no matches for kind "{ref.kind}" in group "{ref.api_version or ""}"'
            )
        else:
            try:
                scale = await self.client.get_scale(
                    target_kind, ref.name, namespace=hpa.metadata.namespace
                )
            except ApiError as failure:
                error = str(failure)
        if scale is None or ref is None or target_kind is None:
            sync.set(
                "AbleToScale",
                "False",
                "FailedGetScale",
                f"the HPA controller was unable to get the target's current scale: {error}",
            )
            self.recorder.record(hpa, "Warning", "FailedGetScale", error)
            await self._write_status(hpa, sync, hpa.status.current_replicas, None, False)
            return
        sync.set(
            "AbleToScale",
            "True",
            "SucceededGetScale",
            "the HPA controller was able to get the target's current scale",
        )
        current = scale.replicas
        minimum = spec.min_replicas
        maximum = spec.max_replicas
        statuses: list[MetricStatus] | None = None
        rescale_reason = ""
        if current == 0 and minimum != 0:
            desired = 0
            sync.set(
                "ScalingActive",
                "False",
                "ScalingDisabled",
                "scaling is disabled since the replica count of the target is zero",
            )
        elif current > maximum:
            rescale_reason = "Current number of replicas above Spec.MaxReplicas"
            desired = maximum
        elif current < minimum:
            rescale_reason = "Current number of replicas below Spec.MinReplicas"
            desired = minimum
        else:
            proposal, metric_name, statuses, problem = await self._compute(hpa, scale, sync)
            if proposal == _FAILED:
                await self._write_status(hpa, sync, current, statuses, False)
                assert problem is not None
                self.recorder.record(hpa, "Warning", "FailedComputeMetricsReplicas", problem)
                return
            desired = max(0, proposal)
            rescale_reason = (
                f"{metric_name} above target" if desired > current else "All metrics below target"
            )
            normalized = state.normalize(
                spec.behavior, current, desired, minimum, maximum, self.clock.monotonic()
            )
            sync.set("AbleToScale", "True", normalized.able_reason, normalized.able_message)
            sync.set(
                "ScalingLimited",
                "True" if normalized.limited else "False",
                normalized.limited_reason,
                normalized.limited_message,
            )
            desired = normalized.replicas
        rescale = desired != current
        if rescale:
            assert target_kind is not None
            try:
                await self.client.scale(
                    target_kind, ref.name, desired, namespace=hpa.metadata.namespace
                )
            except ApiError as failure:
                sync.set(
                    "AbleToScale",
                    "False",
                    "FailedUpdateScale",
                    f"the HPA controller was unable to update the target scale: {failure}",
                )
                self.recorder.record(
                    hpa,
                    "Warning",
                    "FailedRescale",
                    f"New size: {desired}; reason: {rescale_reason}; error: {failure}",
                )
                await self._write_status(hpa, sync, current, statuses, False)
                return
            sync.set(
                "AbleToScale",
                "True",
                "SucceededRescale",
                f"the HPA controller was able to update the target scale to {desired}",
            )
            self.recorder.record(
                hpa, "Normal", "SuccessfulRescale", f"New size: {desired}; reason: {rescale_reason}"
            )
            state.record_scale(spec.behavior, current, desired, self.clock.monotonic())
        await self._write_status(hpa, sync, current, statuses, rescale, desired)

    async def _write_status(
        self,
        hpa: HorizontalPodAutoscaler,
        sync: _Sync,
        current: int,
        statuses: list[MetricStatus] | None,
        rescaled: bool,
        desired: int | None = None,
    ) -> None:
        old = hpa.status
        generation = hpa.metadata.generation
        last_scale_time = sync.now if rescaled else old.last_scale_time
        desired_replicas = old.desired_replicas if desired is None else desired
        current_metrics = (
            old.current_metrics if statuses is None and desired is None else (statuses or [])
        )
        conditions = sync.conditions
        if (
            old.observed_generation == generation
            and old.last_scale_time == last_scale_time
            and old.current_replicas == current
            and old.desired_replicas == desired_replicas
            and old.current_metrics == current_metrics
            and old.conditions == conditions
        ):
            return  # the steady state: nothing to write
        status = HorizontalPodAutoscalerStatus(
            observed_generation=generation,
            last_scale_time=last_scale_time,
            current_replicas=current,
            desired_replicas=desired_replicas,
            current_metrics=current_metrics,
            conditions=conditions,
        )
        await self.client.update_status(hpa.model_copy(update={"status": status}))

    # -- metrics ----------------------------------------------------------------------

    def _tolerances(self, hpa: HorizontalPodAutoscaler) -> Tolerances:
        default = self.config.tolerance
        behavior = hpa.spec.behavior
        if behavior is None:
            return Tolerances(default, default)
        up = behavior.scale_up.tolerance if behavior.scale_up else None
        down = behavior.scale_down.tolerance if behavior.scale_down else None
        return Tolerances(
            float(down.as_fraction()) if down is not None else default,
            float(up.as_fraction()) if up is not None else default,
        )

    async def _compute(
        self, hpa: HorizontalPodAutoscaler, scale: Scale, sync: _Sync
    ) -> tuple[int, str, list[MetricStatus], str | None]:
        """computeReplicasForMetrics: (proposal or -1, metric name, statuses, error)."""
        if not scale.selector:
            message = "selector is required"
            self.recorder.record(hpa, "Warning", "SelectorRequired", message)
            sync.set(
                "ScalingActive",
                "False",
                "InvalidSelector",
                "the HPA target's scale is missing a selector",
            )
            return _FAILED, "", [], message
        try:
            selector = self._selector(scale.selector)
        except InvalidSelector as error:
            message = (
                f"couldn't convert selector into a corresponding internal selector object: {error}"
            )
            self.recorder.record(hpa, "Warning", "InvalidSelector", message)
            sync.set("ScalingActive", "False", "InvalidSelector", message)
            return _FAILED, "", [], message
        tolerances = self._tolerances(hpa)
        metrics = hpa.spec.metrics
        statuses: list[MetricStatus] = []
        replicas = 0
        name = ""
        invalid = 0
        first: _MetricFailure | None = None
        for spec in metrics:
            try:
                proposal, proposal_name, status = await self._compute_metric(
                    hpa, spec, scale, selector, tolerances
                )
            except _MetricFailure as failure:
                self.recorder.record(hpa, "Warning", failure.reason, str(failure))
                if first is None:
                    first = failure
                invalid += 1
                statuses.append(MetricStatus(type=""))
                continue
            statuses.append(status)
            if replicas == 0 or proposal > replicas:
                replicas, name = proposal, proposal_name
        statuses = [s for s in statuses if s.type]
        problem = (
            f"invalid metrics ({invalid} invalid out of {len(metrics)}), first error is: {first}"
            if first is not None
            else None
        )
        if first is not None and (invalid >= len(metrics) or replicas < scale.replicas):
            sync.set(
                "ScalingActive",
                "False",
                first.reason,
                f"the HPA was unable to compute the replica count: {first}",
            )
            return _FAILED, "", statuses, problem
        sync.set(
            "ScalingActive",
            "True",
            "ValidMetricFound",
            f"the HPA was able to successfully calculate a replica count from {name}",
        )
        return replicas, name, statuses, problem

    async def _compute_metric(
        self,
        hpa: HorizontalPodAutoscaler,
        spec: MetricSpec,
        scale: Scale,
        selector: Selector,
        tolerances: Tolerances,
    ) -> tuple[int, str, MetricStatus]:
        reason = _FAILED_REASONS.get(spec.type)
        if reason is None:
            raise _MetricFailure(
                "InvalidMetricSourceType", f'unknown metric source type "{spec.type}"'
            )
        try:
            return await self._metric(hpa, spec, scale, selector, tolerances)
        except CalculationError as error:
            raise _MetricFailure(reason, str(error)) from None

    async def _metric(
        self,
        hpa: HorizontalPodAutoscaler,
        spec: MetricSpec,
        scale: Scale,
        selector: Selector,
        tolerances: Tolerances,
    ) -> tuple[int, str, MetricStatus]:
        namespace = hpa.metadata.namespace
        calc = self.calculator
        current = scale.replicas
        if spec.type in ("Resource", "ContainerResource"):
            source: Any = spec.resource if spec.type == "Resource" else spec.container_resource
            if source is None:
                raise CalculationError(f"missing {spec.type} metric source")
            container = source.container if spec.type == "ContainerResource" else None
            target = source.target
            label = "container resource" if container is not None else "resource"
            if target.average_value is not None:
                try:
                    replicas, usage, _ = await calc.raw_resource_replicas(
                        current,
                        target.average_value.milli_value(),
                        source.name,
                        tolerances,
                        namespace,
                        selector,
                        container,
                    )
                except CalculationError as error:
                    raise CalculationError(f"failed to get {source.name} usage: {error}") from None
                value = MetricValueStatus(average_value=_milli(usage))
                return (
                    replicas,
                    f"{source.name} {label}",
                    self._resource_status(spec.type, source.name, container, value),
                )
            if target.average_utilization is None:
                prefix = "container " if container is not None else ""
                raise CalculationError(
                    f"invalid {prefix}resource metric source: neither an average utilization "
                    "target nor an average value (usage) target was set"
                )
            try:
                proposal = await calc.resource_replicas(
                    current,
                    target.average_utilization,
                    source.name,
                    tolerances,
                    namespace,
                    selector,
                    container,
                )
            except CalculationError as error:
                raise CalculationError(
                    f"failed to get {source.name} utilization: {error}"
                ) from None
            key = (spec.type, source.name, container, proposal.utilization, proposal.raw)
            status = self._status(
                key,
                lambda: self._resource_status(
                    spec.type,
                    source.name,
                    container,
                    MetricValueStatus(
                        average_utilization=proposal.utilization,
                        average_value=_milli(proposal.raw),
                    ),
                ),
            )
            return (
                proposal.replicas,
                f"{source.name} {label} utilization (percentage of request)",
                status,
            )
        if spec.type == "Pods":
            pods = spec.pods
            if pods is None or pods.target.average_value is None:
                raise CalculationError("invalid pods metric source: no average value target")
            try:
                replicas, usage, _ = await calc.metric_replicas(
                    current,
                    pods.target.average_value.milli_value(),
                    pods.metric.name,
                    tolerances,
                    namespace,
                    selector,
                    pods.metric.selector,
                )
            except CalculationError as error:
                raise CalculationError(f"failed to get pods metric value: {error}") from None
            status = MetricStatus(
                type="Pods",
                pods=PodsMetricStatus(
                    metric=pods.metric, current=MetricValueStatus(average_value=_milli(usage))
                ),
            )
            return replicas, f"pods metric {pods.metric.name}", status
        return await self._whole_metric(spec, namespace, selector, tolerances, scale)

    async def _whole_metric(
        self,
        spec: MetricSpec,
        namespace: str,
        selector: Selector,
        tolerances: Tolerances,
        scale: Scale,
    ) -> tuple[int, str, MetricStatus]:
        """An Object or External metric: one usage against a Value target
        (ratio x ready pods) or an AverageValue one (per status replica)."""
        calc = self.calculator
        source: Any = spec.object if spec.type == "Object" else spec.external
        if source is None:
            raise CalculationError(f"missing {spec.type} metric source")
        label = spec.type.lower()
        target = source.target
        if target.type == "Value" and target.value is not None:
            goal, whole = target.value.milli_value(), True
        elif target.type == "AverageValue" and target.average_value is not None:
            goal, whole = target.average_value.milli_value(), False
        else:
            raise CalculationError(
                f"invalid {label} metric source: neither a value target nor an average "
                "value target was set"
            )
        try:
            if spec.type == "Object":
                usage, _ = await calc.object_usage(
                    source.metric.name, namespace, source.described_object, source.metric.selector
                )
            else:
                usage, _ = await calc.external_usage(
                    source.metric.name, namespace, source.metric.selector
                )
            if whole:
                replicas = calc.value_replicas(
                    scale.replicas, usage, goal, tolerances, namespace, selector
                )
                value = MetricValueStatus(value=_milli(usage))
            else:
                replicas, average = per_pod_replicas(usage, scale.status_replicas, goal, tolerances)
                value = MetricValueStatus(average_value=_milli(average))
        except CalculationError as error:
            raise CalculationError(f"failed to get {label} metric value: {error}") from None
        if spec.type == "Object":
            status = MetricStatus(
                type="Object",
                object=ObjectMetricStatus(
                    metric=source.metric, current=value, described_object=source.described_object
                ),
            )
            return replicas, f"{source.described_object.kind} metric {source.metric.name}", status
        status = MetricStatus(
            type="External", external=ExternalMetricStatus(metric=source.metric, current=value)
        )
        return replicas, f"external metric {source.metric.name}", status

    def _status(self, key: tuple[Any, ...], build: Callable[[], MetricStatus]) -> MetricStatus:
        status = self._statuses.get(key)
        if status is None:
            if len(self._statuses) >= 100_000:
                self._statuses.clear()
            status = self._statuses[key] = build()
        return status

    @staticmethod
    def _resource_status(
        type_: str, name: str, container: str | None, value: MetricValueStatus
    ) -> MetricStatus:
        if container is None:
            return MetricStatus(type=type_, resource=ResourceMetricStatus(name=name, current=value))
        return MetricStatus(
            type=type_,
            container_resource=ContainerResourceMetricStatus(
                name=name, container=container, current=value
            ),
        )


def setup(
    manager: Manager,
    *,
    metrics: MetricsClient | None = None,
    config: HPAConfig | None = None,
    registry: Registry = REGISTRY,
) -> HorizontalController:
    """Create the HPA controller on `manager`'s informers and add it (with its
    event recorder). Metrics are read through the manager's client unless
    `metrics` is given."""
    hc = HorizontalController(
        manager.client,
        manager.factory,
        manager.clock,
        metrics=metrics,
        config=config,
        registry=registry,
    )
    manager.add(hc.controller)
    manager.add_runnable(hc.recorder.run)
    return hc
