"""Resource scoring functions, vectorised over nodes, with Kubernetes' integer
arithmetic (Go's truncating division and rounding) so scores match exactly.

Each scorer takes `requested` and `allocatable` as `[resource, node]` int64
matrices (requested already includes the incoming pod) and per-resource
weights, and returns one int64 score per node in 0..100. A resource a node
does not have (allocatable 0) is left out of that node's weighted mean, as
Kubernetes does.

* `least_allocated`: mean of (allocatable - requested) * 100 / allocatable.
* `most_allocated`: mean of min(requested, allocatable) * 100 / allocatable.
* `requested_to_capacity_ratio`: a broken-linear `shape` of utilization
  (0..100) -> score (0..10, scaled to 0..100); resources scoring 0 do not
  count toward the mean, which is rounded half away from zero.
* `balanced_allocation`: (1 - std of the utilization fractions) * 100, each
  fraction capped at 1; with two resources std = |f1 - f2| / 2.

Neighbours: `plugins.node_resources_fit` and `plugins.balanced_allocation`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_CUSTOM_PRIORITY_SCORE",
    "balanced_allocation",
    "balanced_allocation_one",
    "broken_linear",
    "broken_linear_one",
    "least_allocated",
    "least_allocated_one",
    "most_allocated",
    "most_allocated_one",
    "requested_to_capacity_ratio",
    "requested_to_capacity_ratio_one",
]

IntArray = npt.NDArray[np.int64]
MAX_SCORE: Final = 100
MAX_UTILIZATION: Final = 100
MAX_CUSTOM_PRIORITY_SCORE: Final = 10


def _trunc_div(a: IntArray, b: IntArray | int) -> IntArray:
    """Go's integer division (truncates toward zero)."""
    quotient: IntArray = np.abs(a) // np.abs(b)
    return np.where((a < 0) != (np.asarray(b) < 0), -quotient, quotient)


def _weighted_mean(
    per_resource: list[tuple[IntArray, npt.NDArray[np.bool_], int]], nodes: int
) -> IntArray:
    total = np.zeros(nodes, np.int64)
    weights = np.zeros(nodes, np.int64)
    for scores, has, weight in per_resource:
        total += np.where(has, scores * weight, 0)
        weights += np.where(has, weight, 0)
    return np.where(weights > 0, total // np.maximum(weights, 1), 0)


def _all_present(allocatable: IntArray) -> bool:
    return bool(allocatable.size) and int(allocatable.min()) > 0


def _mean_of(scores: IntArray, weights: Sequence[int]) -> IntArray:
    """Weighted mean over resources when every node has every resource."""
    if len(set(weights)) == 1:
        total: IntArray = scores.sum(axis=0) // len(weights)
        return total
    w = np.asarray(weights, np.int64)[:, None]
    weighted: IntArray = (scores * w).sum(axis=0) // int(w.sum())
    return weighted


def least_allocated(requested: IntArray, allocatable: IntArray, weights: Sequence[int]) -> IntArray:
    if _all_present(allocatable):
        free = np.maximum(allocatable - requested, 0)
        return _mean_of(free * MAX_SCORE // allocatable, weights)
    nodes = requested.shape[1]
    parts = []
    for i, weight in enumerate(weights):
        alloc = allocatable[i]
        has = alloc != 0
        free = np.maximum(alloc - requested[i], 0)
        parts.append((free * MAX_SCORE // np.where(has, alloc, 1), has, weight))
    return _weighted_mean(parts, nodes)


def most_allocated(requested: IntArray, allocatable: IntArray, weights: Sequence[int]) -> IntArray:
    if _all_present(allocatable):
        used = np.minimum(requested, allocatable)
        return _mean_of(used * MAX_SCORE // allocatable, weights)
    nodes = requested.shape[1]
    parts = []
    for i, weight in enumerate(weights):
        alloc = allocatable[i]
        has = alloc != 0
        used = np.minimum(requested[i], alloc)
        parts.append((used * MAX_SCORE // np.where(has, alloc, 1), has, weight))
    return _weighted_mean(parts, nodes)


def broken_linear(points: Sequence[tuple[int, int]], utilization: IntArray) -> IntArray:
    """Kubernetes' BuildBrokenLinearFunction over (utilization, score) points."""
    xs = np.array([p[0] for p in points], np.int64)
    ys = np.array([p[1] for p in points], np.int64)
    index = np.searchsorted(xs, utilization, side="left")
    last = len(points) - 1
    below = index == 0
    above = index > last
    i = np.clip(index, 1, last) if last >= 1 else np.zeros_like(index)
    if last == 0:
        return np.full(len(utilization), ys[0], np.int64)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    inner = y0 + _trunc_div((y1 - y0) * (utilization - x0), x1 - x0)
    return np.where(below, ys[0], np.where(above, ys[last], inner))


def requested_to_capacity_ratio(
    requested: IntArray,
    allocatable: IntArray,
    weights: Sequence[int],
    shape: Sequence[tuple[int, int]],
) -> IntArray:
    scale = MAX_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    points = [(u, s * scale) for u, s in shape]
    nodes = requested.shape[1]
    total = np.zeros(nodes, np.int64)
    weight_sum = np.zeros(nodes, np.int64)
    for i, weight in enumerate(weights):
        alloc = allocatable[i]
        req = requested[i]
        has = alloc != 0
        over = (alloc == 0) | (req > alloc)
        utilization = np.where(
            over, MAX_UTILIZATION, req * MAX_UTILIZATION // np.where(has, alloc, 1)
        )
        score = broken_linear(points, utilization)
        counts = has & (score > 0)
        total += np.where(counts, score * weight, 0)
        weight_sum += np.where(counts, weight, 0)
    mean = total / np.maximum(weight_sum, 1)
    rounded = np.floor(mean + 0.5).astype(np.int64)
    return np.where(weight_sum > 0, rounded, 0)


def balanced_allocation(requested: IntArray, allocatable: IntArray) -> IntArray:
    resources, nodes = requested.shape
    if _all_present(allocatable):
        fractions = np.minimum(requested / allocatable, 1.0)
        if resources == 2:
            std = np.abs(fractions[0] - fractions[1]) / 2
        else:
            std = np.sqrt(((fractions - fractions.mean(axis=0)) ** 2).mean(axis=0))
        fast: IntArray = ((1 - std) * MAX_SCORE).astype(np.int64)
        return fast
    has = allocatable != 0
    fractions = np.minimum(requested / np.where(has, allocatable, 1), 1.0)
    if has.all():
        if resources == 2:
            std = np.abs(fractions[0] - fractions[1]) / 2
        elif resources > 2:
            std = np.sqrt(((fractions - fractions.mean(axis=0)) ** 2).mean(axis=0))
        else:
            std = np.zeros(nodes)
    else:
        # Some nodes lack some resources: those are left out per node.
        present = np.where(has, fractions, np.nan)
        counted = has.sum(axis=0)
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pair = (np.nanmax(present, axis=0) - np.nanmin(present, axis=0)) / 2
            spread = np.nanstd(present, axis=0)
        std = np.where(counted == 2, pair, np.where(counted > 2, spread, 0.0))
    scores: IntArray = ((1 - std) * MAX_SCORE).astype(np.int64)
    return scores


# -- one node at a time -------------------------------------------------------------------
# The same formulas on plain ints, as Kubernetes computes them, for refreshing a
# few nodes of a cached column (controllers.scheduler.cache.derived).


def least_allocated_one(
    requested: Sequence[int], allocatable: Sequence[int], weights: Sequence[int]
) -> int:
    score = weight_sum = 0
    for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
        if alloc == 0:
            continue
        score += (0 if req > alloc else (alloc - req) * MAX_SCORE // alloc) * weight
        weight_sum += weight
    return score // weight_sum if weight_sum else 0


def most_allocated_one(
    requested: Sequence[int], allocatable: Sequence[int], weights: Sequence[int]
) -> int:
    score = weight_sum = 0
    for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
        if alloc == 0:
            continue
        score += min(req, alloc) * MAX_SCORE // alloc * weight
        weight_sum += weight
    return score // weight_sum if weight_sum else 0


def _go_div(a: int, b: int) -> int:
    quotient = abs(a) // abs(b)
    return -quotient if (a < 0) != (b < 0) else quotient


def broken_linear_one(points: Sequence[tuple[int, int]], utilization: int) -> int:
    for i, (x, y) in enumerate(points):
        if utilization <= x:
            if i == 0:
                return y
            x0, y0 = points[i - 1]
            return y0 + _go_div((y - y0) * (utilization - x0), x - x0)
    return points[-1][1]


def requested_to_capacity_ratio_one(
    requested: Sequence[int],
    allocatable: Sequence[int],
    weights: Sequence[int],
    shape: Sequence[tuple[int, int]],
) -> int:
    scale = MAX_SCORE // MAX_CUSTOM_PRIORITY_SCORE
    points = [(u, s * scale) for u, s in shape]
    score = weight_sum = 0
    for req, alloc, weight in zip(requested, allocatable, weights, strict=True):
        if alloc == 0:
            continue
        utilization = MAX_UTILIZATION if req > alloc else req * MAX_UTILIZATION // alloc
        resource_score = broken_linear_one(points, utilization)
        if resource_score > 0:
            score += resource_score * weight
            weight_sum += weight
    if weight_sum == 0:
        return 0
    return math.floor(score / weight_sum + 0.5)


def balanced_allocation_one(requested: Sequence[int], allocatable: Sequence[int]) -> int:
    fractions = [
        min(req / alloc, 1.0) for req, alloc in zip(requested, allocatable, strict=True) if alloc
    ]
    if len(fractions) == 2:
        std = abs(fractions[0] - fractions[1]) / 2
    elif len(fractions) > 2:
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
    else:
        std = 0.0
    return int((1 - std) * MAX_SCORE)
