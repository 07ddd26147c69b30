"""The simulated router's kube-proxy rules on a fixed store: ClientIP
affinity, Local traffic policy, pods that stop answering, the latency
histogram and the per-pod rates."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.network import _router_fixture
from engine.api import Node, Pod, Service
from runtime.network.traffic import TrafficRouter, TrafficStats


def _service_update(router: TrafficRouter, **spec: object) -> None:
    store = router.store
    service = store.get(Service, "web", "default")
    store.update(service.model_copy(update={"spec": service.spec.model_copy(update=spec)}))


def test_uniform_choice_spreads_over_every_endpoint() -> None:
    router, target = _router_fixture(10)
    stats = router.route(target, 10_000)
    assert (stats.requests, stats.errors) == (10_000, 0)
    rates = router.rates.snapshot()
    assert len(rates) == 10
    counts = np.array(list(rates.values())) * router.rates.window
    assert counts.sum() == 10_000 and counts.min() > 800


def test_client_ip_affinity_keeps_each_client_on_one_endpoint() -> None:
    router, target = _router_fixture(10)
    router.clients = 1
    _service_update(router, session_affinity="ClientIP")
    router.route(target, 500)
    router.route(target, 500)
    assert len(router.rates.snapshot()) == 1


def test_local_internal_policy_drops_requests_arriving_at_nodes_without_endpoints() -> None:
    router, target = _router_fixture(4)
    router.store.create(Node.model_validate({"metadata": {"name": "node-1"}}))
    _service_update(router, internal_traffic_policy="Local")
    stats = router.route(target, 10_000)
    assert 4_000 < stats.errors < 6_000  # the half arriving at node-1
    assert stats.reasons == {"refused": stats.errors}


def test_a_pod_that_is_gone_fails_its_share() -> None:
    router, target = _router_fixture(4)
    store = router.store
    store.delete(Pod, "web-0", "default", grace_period_seconds=0)
    stats = router.route(target, 4_000)
    assert 700 < stats.errors < 1_300
    assert stats.reasons == {"pod not serving": stats.errors}


def test_histogram_percentiles_within_one_percent() -> None:
    stats = TrafficStats()
    values = np.linspace(1.0, 100.0, 10_000)
    stats.succeed(values)
    assert stats.percentile(50) == pytest.approx(50.5, rel=0.01)
    assert stats.percentile(99) == pytest.approx(99.0, rel=0.01)
    assert stats.to_json()["requests"] == 10_000


@pytest.mark.parametrize(
    ("rows", "mean"),
    [
        ([(0, 5.0, 0.0)], 5.0),  # constant 5 ms
        ([(1, 10.0, 20.0)], 15.0),  # uniform(10ms, 20ms)
        ([(2, 4.0, 0.0)], 4.0),  # exponential, mean 4 ms
        ([(3, 30.0, 2.0)], 30.0),  # normal(30ms, 2ms)
        ([(0, 5.0, 0.0), (3, 30.0, 2.0)], 17.5),  # mixed kinds, half each
    ],
)
def test_latency_sampling_per_distribution(
    rows: list[tuple[float, float, float]], mean: float
) -> None:
    router, _ = _router_fixture(1)
    params = np.array(rows, dtype=float)
    picks = np.arange(200_000) % len(rows)
    sampled = router._sample(params, picks)
    assert sampled.size == picks.size and sampled.min() >= 0
    assert sampled.mean() == pytest.approx(mean, rel=0.02)
