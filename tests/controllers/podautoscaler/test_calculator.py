"""The replica calculator against Kubernetes' documented algorithm and the
situations of its unit tests (replica_calculator_test.go): tolerance,
missing metrics, unready and pending pods, the cpu initialization period and
initial readiness delay, direction flips, and the non-pod metric types."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from controllers.podautoscaler.calculator import (
    CalculationError,
    ReplicaCalculator,
    Tolerances,
    per_pod_replicas,
)
from controllers.podautoscaler.metrics import MetricsUnavailable, PodMetric
from engine.api.autoscaling import CrossVersionObjectReference
from engine.api.base import LabelSelector
from engine.api.core import Pod
from engine.selectors import Selector, parse_selector

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SELECTOR = parse_selector("app=web")
T = Tolerances()


def pod(
    name: str,
    *,
    cpu: str = "1",
    memory: str | None = None,
    phase: str = "Running",
    ready: str | None = "True",
    started_ago: float = 3600.0,
    ready_changed_after_start: float = 10.0,
    deleted: bool = False,
) -> Pod:
    start = NOW - timedelta(seconds=started_ago)
    conditions = []
    if ready is not None:
        conditions.append(
            {
                "type": "Ready",
                "status": ready,
                "lastTransitionTime": (
                    start + timedelta(seconds=ready_changed_after_start)
                ).isoformat(),
            }
        )
    return Pod.model_validate(
        {
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": {"app": "web"},
                **({"deletionTimestamp": NOW.isoformat()} if deleted else {}),
            },
            "spec": {
                "containers": [
                    {
                        "name": "app",
                        "image": "x",
                        "resources": {
                            "requests": {"cpu": cpu, **({"memory": memory} if memory else {})}
                        },
                    }
                ]
            },
            "status": {"phase": phase, "startTime": start.isoformat(), "conditions": conditions},
        }
    )


class FakeMetrics:
    def __init__(
        self,
        pods: dict[str, int] | None = None,
        *,
        object_value: int | None = None,
        external: list[int] | None = None,
        timestamp: datetime = NOW,
    ) -> None:
        self.pods = pods or {}
        self.object_value = object_value
        self.external = external
        self.timestamp = timestamp

    def _info(self) -> dict[str, PodMetric]:
        return {n: PodMetric(self.timestamp, 15.0, v) for n, v in self.pods.items()}

    async def resource_metric(
        self, resource: str, namespace: str, selector: Selector, container: str | None
    ) -> tuple[dict[str, PodMetric], datetime | None]:
        if not self.pods:
            raise MetricsUnavailable("no metrics returned from resource metrics API")
        return self._info(), self.timestamp

    async def raw_metric(
        self, name: str, namespace: str, selector: Selector, metric_selector: LabelSelector | None
    ) -> tuple[dict[str, PodMetric], datetime | None]:
        return self._info(), self.timestamp

    async def object_metric(
        self,
        name: str,
        namespace: str,
        ref: CrossVersionObjectReference,
        metric_selector: LabelSelector | None,
    ) -> tuple[int, datetime | None]:
        if self.object_value is None:
            raise MetricsUnavailable("none")
        return self.object_value, self.timestamp

    async def external_metric(
        self, name: str, namespace: str, metric_selector: LabelSelector | None
    ) -> tuple[list[int], datetime | None]:
        if self.external is None:
            raise MetricsUnavailable("none")
        return self.external, self.timestamp


def calculator(pods: list[Pod], metrics: FakeMetrics) -> ReplicaCalculator:
    return ReplicaCalculator(metrics, lambda ns, sel: pods, now=lambda: NOW)


async def cpu(
    pods: list[Pod], usage: dict[str, int], target: int, current: int, tolerances: Tolerances = T
) -> tuple[int, int]:
    calc = calculator(pods, FakeMetrics(usage))
    result = await calc.resource_replicas(
        current, target, "cpu", tolerances, "default", SELECTOR, None
    )
    return result.replicas, result.utilization


async def test_scale_up() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    assert await cpu(pods, {"a": 300, "b": 500, "c": 700}, 30, 3) == (5, 50)


async def test_scale_down() -> None:
    pods = [pod(n) for n in "abcde"]
    usage = {"a": 100, "b": 300, "c": 500, "d": 250, "e": 250}
    assert await cpu(pods, usage, 50, 5) == (3, 28)


async def test_within_tolerance_no_change() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    assert await cpu(pods, {"a": 1050, "b": 1030, "c": 1070}, 100, 3) == (3, 105)


async def test_per_direction_tolerance() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    usage = {"a": 1050, "b": 1030, "c": 1070}  # 105 %: outside a 1 % scale-up tolerance
    assert await cpu(pods, usage, 100, 3, Tolerances(0.1, 0.01)) == (4, 105)


async def test_unready_pods_ignored_on_scale_up_counted_as_zero() -> None:
    pods = [pod("a", ready="False"), pod("b"), pod("c")]
    # Ready pods at 60 % of 30 %: scale up; the unready pod counts as 0 %.
    assert await cpu(pods, {"a": 300, "b": 500, "c": 700}, 30, 3) == (4, 60)


async def test_pending_pods_are_unready() -> None:
    pods = [pod("a", phase="Pending", ready=None), pod("b"), pod("c")]
    assert await cpu(pods, {"b": 500, "c": 700}, 30, 3) == (4, 60)


async def test_failed_and_deleted_pods_are_ignored() -> None:
    pods = [pod("a", phase="Failed"), pod("b", deleted=True), pod("c"), pod("d")]
    usage = {"a": 900, "b": 900, "c": 500, "d": 700}
    assert await cpu(pods, usage, 30, 4) == (4, 60)  # ceil(2 x 2.0) over the two counted


async def test_missing_metrics_count_full_request_on_scale_down() -> None:
    pods = [pod(n) for n in "abcd"]
    # 10 % of 50 % would give 1; the pod without metrics counts as 100 %.
    assert await cpu(pods, {"a": 100, "b": 100, "c": 100}, 50, 4) == (3, 10)


async def test_missing_metrics_count_zero_on_scale_up() -> None:
    pods = [pod(n) for n in "abcd"]
    assert await cpu(pods, {"a": 900, "b": 900, "c": 900}, 50, 4) == (6, 90)


async def test_missing_metrics_no_change_when_direction_flips() -> None:
    pods = [pod(n) for n in "abcd"]
    # 55 % over 50 % says up; a missing pod at 0 % brings it to 41 %: no change.
    assert await cpu(pods, {"a": 550, "b": 550, "c": 550}, 50, 4) == (4, 55)


async def test_unready_direction_flip_keeps_current() -> None:
    pods = [pod("a", ready="False"), pod("b"), pod("c")]
    # Ready pods at 60 % of 50 %: up; with the unready one at 0 % it is 40 %.
    assert await cpu(pods, {"a": 100, "b": 600, "c": 600}, 50, 3) == (3, 60)


async def test_cpu_initialization_period_ignores_fresh_samples() -> None:
    # Started 1 min ago, Ready 55 s after start: the sample (window 15 s)
    # does not yet cover a whole window since it became ready.
    fresh = pod("a", started_ago=60, ready_changed_after_start=55)
    pods = [fresh, pod("b"), pod("c")]
    assert await cpu(pods, {"a": 1000, "b": 500, "c": 700}, 30, 3) == (4, 60)


async def test_cpu_initialization_period_counts_covered_samples() -> None:
    settled = pod("a", started_ago=60, ready_changed_after_start=10)
    pods = [settled, pod("b"), pod("c")]
    assert await cpu(pods, {"a": 300, "b": 500, "c": 700}, 30, 3) == (5, 50)


async def test_never_ready_pod_after_initialization_is_unready() -> None:
    # Not ready since 10 s after start (within the 30 s readiness delay): never ready.
    never = pod("a", ready="False", started_ago=900, ready_changed_after_start=10)
    pods = [never, pod("b"), pod("c")]
    assert await cpu(pods, {"a": 900, "b": 500, "c": 700}, 30, 3) == (4, 60)


async def test_pod_that_was_ready_counts_after_initialization() -> None:
    # Went unready 2 min after start: it was ready once, its sample counts.
    was_ready = pod("a", ready="False", started_ago=900, ready_changed_after_start=120)
    pods = [was_ready, pod("b"), pod("c")]
    assert await cpu(pods, {"a": 300, "b": 500, "c": 700}, 30, 3) == (5, 50)


async def test_memory_ignores_readiness_timing() -> None:
    fresh = pod("a", started_ago=60, ready_changed_after_start=55, memory="1")
    calc = calculator([fresh, pod("b", memory="1")], FakeMetrics({"a": 1000, "b": 1000}))
    result = await calc.resource_replicas(2, 50, "memory", T, "default", SELECTOR, None)
    assert result.replicas == 4  # both samples count: 100 % of 50 % on two pods


async def test_missing_request_is_an_error() -> None:
    calc = calculator([pod("a")], FakeMetrics({"a": 100}))
    with pytest.raises(CalculationError, match="missing request for memory"):
        await calc.resource_replicas(1, 50, "memory", T, "default", SELECTOR, None)


async def test_no_pods_and_no_metrics_are_errors() -> None:
    with pytest.raises(CalculationError, match="no pods returned by selector"):
        await calculator([], FakeMetrics({"a": 1})).resource_replicas(
            1, 50, "cpu", T, "default", SELECTOR, None
        )
    with pytest.raises(CalculationError, match="unable to get metrics for resource cpu"):
        await calculator([pod("a")], FakeMetrics({})).resource_replicas(
            1, 50, "cpu", T, "default", SELECTOR, None
        )
    with pytest.raises(CalculationError, match="did not receive metrics for targeted pods"):
        await calculator([pod("a", ready="False")], FakeMetrics({"a": 5})).resource_replicas(
            1, 50, "cpu", T, "default", SELECTOR, None
        )


async def test_raw_average_value() -> None:
    pods = [pod("a"), pod("b")]
    calc = calculator(pods, FakeMetrics({"a": 400, "b": 200}))
    replicas, usage, _ = await calc.raw_resource_replicas(
        2, 100, "cpu", T, "default", SELECTOR, None
    )
    assert (replicas, usage) == (6, 300)


async def test_pods_metric_missing_pod_counts_target_on_scale_down() -> None:
    pods = [pod("a"), pod("b"), pod("c")]
    calc = calculator(pods, FakeMetrics({"a": 1000, "b": 1000}))
    replicas, usage, _ = await calc.metric_replicas(3, 10_000, "qps", T, "default", SELECTOR, None)
    # 1 of 10 per pod says 1; the missing pod at the target lifts it: ceil(4/10 x 3) = 2.
    assert (replicas, usage) == (2, 1000)


async def test_object_value_target_scales_by_ready_pods() -> None:
    pods = [pod("a"), pod("b"), pod("c", ready="False")]
    calc = calculator(pods, FakeMetrics(object_value=30_000))
    ref = CrossVersionObjectReference(kind="Ingress", name="main")
    usage, _ = await calc.object_usage("hits", "default", ref, None)
    assert usage == 30_000
    assert calc.value_replicas(3, usage, 10_000, T, "default", SELECTOR) == 6  # 3 x 2 ready


async def test_value_target_within_tolerance_and_from_zero() -> None:
    calc = calculator([pod("a"), pod("b")], FakeMetrics())
    assert calc.value_replicas(2, 10_500, 10_000, T, "default", SELECTOR) == 2
    assert calc.value_replicas(0, 25_000, 10_000, T, "default", SELECTOR) == 3  # by ratio alone


def test_average_value_target_uses_status_replicas() -> None:
    assert per_pod_replicas(50_000, 2, 10_000, T) == (5, 25_000)
    assert per_pod_replicas(21_000, 2, 10_000, T) == (2, 10_500)  # within tolerance


async def test_external_sums_the_series() -> None:
    calc = calculator([pod("a"), pod("b")], FakeMetrics(external=[10_000, 20_000]))
    usage, _ = await calc.external_usage("queue", "default", None)
    assert usage == 30_000
    assert calc.value_replicas(2, usage, 10_000, T, "default", SELECTOR) == 6
    with pytest.raises(CalculationError, match="unable to get external metric"):
        await calculator([], FakeMetrics()).external_usage("queue", "default", None)


def test_tolerances_bounds() -> None:
    assert Tolerances().within(1.1) and Tolerances().within(0.9)
    assert not Tolerances().within(1.11) and not Tolerances().within(0.89)
    assert Tolerances(0.5, 0.0).within(0.6) and not Tolerances(0.5, 0.0).within(1.01)
