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

import warnings
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_CUSTOM_PRIORITY_SCORE",
    "balanced_allocation",
    "broken_linear",
    "least_allocated",
    "most_allocated",
    "requested_to_capacity_ratio",
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


def least_allocated(requested: IntArray, allocatable: IntArray, weights: Sequence[int]) -> IntArray:
    nodes = requested.shape[1]
    parts = []
    for i, weight in enumerate(weights):
        alloc = allocatable[i]
        has = alloc != 0
        free = np.maximum(alloc - requested[i], 0)
        parts.append((free * MAX_SCORE // np.where(has, alloc, 1), has, weight))
    return _weighted_mean(parts, nodes)


def most_allocated(requested: IntArray, allocatable: IntArray, weights: Sequence[int]) -> IntArray:
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
