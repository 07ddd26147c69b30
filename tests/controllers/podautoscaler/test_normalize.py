"""Stabilization windows, scaling policies and the legacy limits, as
kube-controller-manager's normalizeDesiredReplicas* apply them (times are
the clock's monotonic seconds)."""

from __future__ import annotations

from typing import Any

from controllers.podautoscaler.normalize import Recommendations, scale_up_limit
from engine.api.autoscaling import HorizontalPodAutoscalerBehavior


def behavior(**rules: Any) -> HorizontalPodAutoscalerBehavior:
    return HorizontalPodAutoscalerBehavior.model_validate(rules)


def test_legacy_downscale_stabilization_keeps_highest_recent() -> None:
    recs = Recommendations(downscale_window=300)
    assert recs.normalize(None, 5, 5, 1, 10, 0).replicas == 5
    held = recs.normalize(None, 5, 2, 1, 10, 60)
    assert (held.replicas, held.able_reason) == (5, "ScaleDownStabilized")
    assert recs.normalize(None, 5, 2, 1, 10, 200).replicas == 5
    # The t=0 recommendation of 5 left the window; 2 (t=60, 200) remain.
    assert recs.normalize(None, 5, 2, 1, 10, 301).replicas == 2


def test_legacy_scale_up_limit_and_bounds() -> None:
    assert scale_up_limit(1) == 4 and scale_up_limit(3) == 6
    recs = Recommendations()
    up = recs.normalize(None, 2, 10, 1, 20, 0)
    assert (up.replicas, up.limited, up.limited_reason) == (4, True, "ScaleUpLimit")
    recs = Recommendations()
    top = recs.normalize(None, 8, 30, 1, 10, 0)
    assert (top.replicas, top.limited_reason) == (10, "TooManyReplicas")
    low = Recommendations().normalize(None, 3, 1, 2, 10, 0)
    assert (low.replicas, low.limited_reason) == (2, "TooFewReplicas")
    ok = Recommendations().normalize(None, 3, 4, 1, 10, 0)
    assert (ok.replicas, ok.limited, ok.limited_reason) == (4, False, "DesiredWithinRange")


def test_default_behavior_scale_up_pods_or_percent_max() -> None:
    # Defaults: 4 pods or 100 % per 15 s, the larger.
    b = behavior()
    assert Recommendations().normalize(b, 2, 50, 1, 100, 0).replicas == 6  # +4 > +100 %
    assert Recommendations().normalize(b, 10, 50, 1, 100, 0).replicas == 20  # +100 % > +4


def test_scale_up_policy_period_counts_earlier_events() -> None:
    b = behavior(scaleUp={"policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]})
    recs = Recommendations()
    first = recs.normalize(b, 2, 10, 1, 100, 0)
    assert first.replicas == 4 and first.limited_reason == "ScaleUpLimit"
    recs.record_scale(b, 2, 4, 0)
    # 30 s later the period still holds the +2: no room left.
    assert recs.normalize(b, 4, 10, 1, 100, 30).replicas == 4
    # After the 60 s period, another +2.
    assert recs.normalize(b, 4, 10, 1, 100, 61).replicas == 6


def test_select_policy_min_takes_smallest_change() -> None:
    b = behavior(
        scaleUp={
            "selectPolicy": "Min",
            "policies": [
                {"type": "Pods", "value": 4, "periodSeconds": 15},
                {"type": "Percent", "value": 50, "periodSeconds": 15},
            ],
        }
    )
    assert Recommendations().normalize(b, 10, 40, 1, 100, 0).replicas == 14  # +4 < +50 %
    assert Recommendations().normalize(b, 4, 40, 1, 100, 0).replicas == 6  # +50 % < +4


def test_select_policy_disabled_blocks_direction() -> None:
    b = behavior(scaleDown={"selectPolicy": "Disabled"})
    result = Recommendations().normalize(b, 5, 1, 1, 10, 0)
    assert (result.replicas, result.limited_reason) == (5, "ScaleDownLimit")
    assert Recommendations().normalize(b, 5, 8, 1, 10, 0).replicas == 8  # up still allowed


def test_scale_down_percent_rounds_down_and_pods_policy() -> None:
    b = behavior(
        scaleDown={
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Percent", "value": 10, "periodSeconds": 60}],
        }
    )
    # 10 % of 15 is 1.5: the limit is int(13.5) = 13.
    assert Recommendations().normalize(b, 15, 1, 1, 20, 0).replicas == 13
    b = behavior(
        scaleDown={
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 60}],
        }
    )
    recs = Recommendations()
    assert recs.normalize(b, 5, 1, 1, 20, 0).replicas == 4
    recs.record_scale(b, 5, 4, 0)
    assert recs.normalize(b, 4, 1, 1, 20, 30).replicas == 4
    assert recs.normalize(b, 4, 1, 1, 20, 61).replicas == 3


def test_scale_down_stabilization_window() -> None:
    b = behavior(scaleDown={"stabilizationWindowSeconds": 60})
    recs = Recommendations()
    assert recs.normalize(b, 6, 6, 1, 10, 0).replicas == 6
    held = recs.normalize(b, 6, 2, 1, 10, 30)
    assert (held.replicas, held.able_reason) == (6, "ScaleDownStabilized")
    assert recs.normalize(b, 6, 2, 1, 10, 61).replicas == 2


def test_scale_up_stabilization_window() -> None:
    b = behavior(scaleUp={"stabilizationWindowSeconds": 60})
    recs = Recommendations()
    assert recs.normalize(b, 2, 2, 1, 10, 0).replicas == 2
    held = recs.normalize(b, 2, 8, 1, 10, 30)
    assert (held.replicas, held.able_reason) == (2, "ScaleUpStabilized")
    assert recs.normalize(b, 2, 8, 1, 10, 61).replicas == 6  # the window passed; +4 policy


def test_default_scale_down_window_is_five_minutes() -> None:
    b = behavior()
    recs = Recommendations()
    recs.normalize(b, 4, 4, 1, 10, 0)
    assert recs.normalize(b, 4, 1, 1, 10, 299).replicas == 4
    assert recs.normalize(b, 4, 1, 1, 10, 301).replicas == 1


def test_min_and_max_with_behavior() -> None:
    b = behavior(scaleDown={"stabilizationWindowSeconds": 0})
    low = Recommendations().normalize(b, 5, 0, 2, 10, 0)
    assert (low.replicas, low.limited_reason) == (2, "TooFewReplicas")
    high = Recommendations().normalize(b, 9, 50, 1, 10, 0)
    assert (high.replicas, high.limited_reason) == (10, "TooManyReplicas")
