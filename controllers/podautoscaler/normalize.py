"""From the metrics' recommendation to the replica count the HPA sets
(kube-controller-manager's `normalizeDesiredReplicas*`), with the memory it
needs: recent recommendations and recent scale events, per HPA.

Without `behavior` (the legacy rules): the highest recommendation of the
last downscale stabilisation window (5 min) is taken, then clamped to
[minReplicas, min(maxReplicas, max(2 x current, 4))].

With `behavior`: the recommendation is held between the lowest
recommendation of the scale-up window and the highest of the scale-down
window (so a rise must persist for `scaleUp.stabilizationWindowSeconds` and
a fall for `scaleDown.stabilizationWindowSeconds`); then the policies limit
the change: each policy allows, from the replica count at the start of its
period (`periodSeconds`, counting the scale events since), `value` more or
fewer pods (Pods) or `value` percent (Percent); `selectPolicy` Max takes the
policy allowing the largest change, Min the smallest, Disabled none. Scale-up
percentages round up, scale-down ones down, as Kubernetes'.

Each step returns the condition Kubernetes sets with it (AbleToScale
ReadyForNewScale / ScaleUpStabilized / ScaleDownStabilized; ScalingLimited
DesiredWithinRange / TooFewReplicas / TooManyReplicas / ScaleUpLimit /
ScaleDownLimit) with its message.

Time is the injected clock's monotonic seconds.

Neighbours: `controllers.podautoscaler.controller` (calls `normalize` per
sync and `record_scale` after a rescale), `engine.api.autoscaling`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from engine.api.autoscaling import HorizontalPodAutoscalerBehavior, HPAScalingRules

__all__ = ["Normalized", "Recommendations", "scale_up_limit"]

_SCALE_UP_LIMIT = (
    "ScaleUpLimit",
    "the desired replica count is increasing faster than the maximum scale rate",
)
_SCALE_DOWN_LIMIT = (
    "ScaleDownLimit",
    "the desired replica count is decreasing faster than the maximum scale rate",
)
_TOO_MANY = ("TooManyReplicas", "the desired replica count is more than the maximum replica count")
_TOO_FEW = ("TooFewReplicas", "the desired replica count is less than the minimum replica count")
_WITHIN = ("DesiredWithinRange", "the desired count is within the acceptable range")

SCALE_UP_LIMIT_FACTOR = 2.0
SCALE_UP_LIMIT_MINIMUM = 4.0
INT32_MAX = 2**31 - 1
INT32_MIN = -(2**31)


@dataclass(frozen=True, slots=True)
class Normalized:
    replicas: int
    able_reason: str
    able_message: str
    limited: bool
    limited_reason: str
    limited_message: str


@dataclass(slots=True)
class _Event:
    change: int
    at: float
    outdated: bool = False


def scale_up_limit(current: int) -> int:
    """The legacy cap on one scale-up: twice the replicas, at least 4."""
    return int(max(SCALE_UP_LIMIT_FACTOR * current, SCALE_UP_LIMIT_MINIMUM))


def _changed_within(period: int, events: list[_Event], now: float) -> int:
    cutoff = now - period
    return sum(e.change for e in events if e.at > cutoff)


def _policy_limit(
    current: int,
    up_events: list[_Event],
    down_events: list[_Event],
    rules: HPAScalingRules,
    now: float,
    *,
    up: bool,
) -> int:
    select = rules.select_policy or "Max"
    if select == "Disabled":
        return current
    widest = select != "Min"
    # Scaling up, the widest change is the highest count; scaling down, the lowest.
    pick_highest = widest == up
    result = INT32_MIN if pick_highest else INT32_MAX
    for policy in rules.policies or []:
        added = _changed_within(policy.period_seconds, up_events, now)
        deleted = _changed_within(policy.period_seconds, down_events, now)
        start = current - added + deleted
        if policy.type == "Pods":
            proposed = start + policy.value if up else start - policy.value
        elif up:
            proposed = math.ceil(start * (1 + policy.value / 100))
        else:
            proposed = int(start * (1 - policy.value / 100))
        result = max(result, proposed) if pick_highest else min(result, proposed)
    return result


def _clamp(
    desired: int, minimum: int, maximum: int, legacy_limit: int | None
) -> tuple[int, str, str]:
    if legacy_limit is not None and maximum > legacy_limit:
        top, limit = legacy_limit, _SCALE_UP_LIMIT
    else:
        top, limit = maximum, _TOO_MANY
    if desired < minimum:
        return (minimum, *_TOO_FEW)
    if desired > top:
        return (top, *limit)
    return (desired, *_WITHIN)


@dataclass(slots=True)
class Recommendations:
    """One HPA's recent recommendations and scale events."""

    downscale_window: float = 300.0
    recommendations: list[tuple[int, float]] = field(default_factory=list)
    up_events: list[_Event] = field(default_factory=list)
    down_events: list[_Event] = field(default_factory=list)

    def _record(self, desired: int, now: float, old_before: float) -> None:
        for i, (_, at) in enumerate(self.recommendations):
            if at < old_before:
                self.recommendations[i] = (desired, now)
                return
        self.recommendations.append((desired, now))

    def normalize(
        self,
        behavior: HorizontalPodAutoscalerBehavior | None,
        current: int,
        desired: int,
        minimum: int,
        maximum: int,
        now: float,
    ) -> Normalized:
        if behavior is None:
            return self._legacy(current, desired, minimum, maximum, now)
        return self._with_behavior(behavior, current, desired, minimum, maximum, now)

    def _legacy(
        self, current: int, desired: int, minimum: int, maximum: int, now: float
    ) -> Normalized:
        cutoff = now - self.downscale_window
        stabilized = desired
        for replicas, at in self.recommendations:
            if at >= cutoff and replicas > stabilized:
                stabilized = replicas
        self._record(desired, now, cutoff)
        if stabilized != desired:
            able = (
                "ScaleDownStabilized",
                "recent recommendations were higher than current one, "
                "applying the highest recent recommendation",
            )
        else:
            able = ("ReadyForNewScale", "recommended size matches current size")
        replicas, reason, message = _clamp(stabilized, minimum, maximum, scale_up_limit(current))
        return Normalized(replicas, *able, replicas != stabilized, reason, message)

    def _with_behavior(
        self,
        behavior: HorizontalPodAutoscalerBehavior,
        current: int,
        desired: int,
        minimum: int,
        maximum: int,
        now: float,
    ) -> Normalized:
        up_rules = behavior.scale_up or HPAScalingRules()
        down_rules = behavior.scale_down or HPAScalingRules()
        up_window = up_rules.stabilization_window_seconds or 0
        down_window = down_rules.stabilization_window_seconds
        if down_window is None:
            down_window = int(self.downscale_window)
        up_cutoff, down_cutoff = now - up_window, now - down_window
        up_recommendation = down_recommendation = desired
        old_index: int | None = None
        for i, (replicas, at) in enumerate(self.recommendations):
            if at > up_cutoff:
                up_recommendation = min(up_recommendation, replicas)
            if at > down_cutoff:
                down_recommendation = max(down_recommendation, replicas)
            if at < up_cutoff and at < down_cutoff:
                old_index = i
        stabilized = min(max(current, up_recommendation), down_recommendation)
        if old_index is not None:
            self.recommendations[old_index] = (desired, now)
        else:
            self.recommendations.append((desired, now))
        if stabilized != desired:
            if desired >= current:
                able = (
                    "ScaleUpStabilized",
                    "recent recommendations were lower than current one, "
                    "applying the lowest recent recommendation",
                )
            else:
                able = (
                    "ScaleDownStabilized",
                    "recent recommendations were higher than current one, "
                    "applying the highest recent recommendation",
                )
        else:
            able = ("ReadyForNewScale", "recommended size matches current size")
        replicas, reason, message = self._rate_limited(
            up_rules, down_rules, current, stabilized, minimum, maximum, now
        )
        return Normalized(replicas, *able, replicas != stabilized, reason, message)

    def _rate_limited(
        self,
        up_rules: HPAScalingRules,
        down_rules: HPAScalingRules,
        current: int,
        desired: int,
        minimum: int,
        maximum: int,
        now: float,
    ) -> tuple[int, str, str]:
        if desired > current:
            limit = max(
                current,
                _policy_limit(current, self.up_events, self.down_events, up_rules, now, up=True),
            )
            top, why = (limit, _SCALE_UP_LIMIT) if maximum > limit else (maximum, _TOO_MANY)
            if desired > top:
                return (top, *why)
        elif desired < current:
            limit = min(
                current,
                _policy_limit(current, self.up_events, self.down_events, down_rules, now, up=False),
            )
            bottom, why = (limit, _SCALE_DOWN_LIMIT) if minimum < limit else (minimum, _TOO_FEW)
            if desired < bottom:
                return (bottom, *why)
        return (desired, *_WITHIN)

    def record_scale(
        self,
        behavior: HorizontalPodAutoscalerBehavior | None,
        previous: int,
        new: int,
        now: float,
    ) -> None:
        """Remember a rescale for the policies' periods (only with behavior)."""
        if behavior is None or new == previous:
            return
        up = new > previous
        rules = behavior.scale_up if up else behavior.scale_down
        events = self.up_events if up else self.down_events
        longest = max(
            (p.period_seconds for p in (rules.policies if rules else None) or []), default=0
        )
        cutoff = now - longest
        for event in events:
            if event.at < cutoff:
                event.outdated = True
        change = abs(new - previous)
        for i, event in enumerate(events):
            if event.outdated:
                events[i] = _Event(change, now)
                return
        events.append(_Event(change, now))
