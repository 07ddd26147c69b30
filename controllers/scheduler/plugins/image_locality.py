"""ImageLocality (Score, weight 1): favours nodes that already have the pod's
container images, each image's size scaled by the share of nodes holding it
(so a ubiquitous image does not pull every pod to one node), clamped between
23 MiB and 1000 MiB per container, mapped to 0..100.

Neighbours: `cache.snapshot.NodeTable.images` (presence and size columns),
`controllers.scheduler.podinfo.normalized_image_name`.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np

from controllers.scheduler.config import PluginArgs
from controllers.scheduler.cycle_state import CycleState
from controllers.scheduler.handle import Handle
from controllers.scheduler.interfaces import ScoreResult, Slots
from controllers.scheduler.plugins.helpers import MAX_NODE_SCORE
from controllers.scheduler.podinfo import PodInfo

__all__ = ["ImageLocality", "calculate_priority"]

MB: Final = 1024 * 1024
MIN_THRESHOLD: Final = 23 * MB
MAX_CONTAINER_THRESHOLD: Final = 1000 * MB


def calculate_priority(sum_scores: Any, containers: int) -> Any:
    """Kubernetes' calculatePriority, for an int or an int64 array."""
    max_threshold = MAX_CONTAINER_THRESHOLD * containers
    clamped = np.clip(sum_scores, MIN_THRESHOLD, max_threshold)
    return MAX_NODE_SCORE * (clamped - MIN_THRESHOLD) // (max_threshold - MIN_THRESHOLD)


class ImageLocality:
    name: Final = "ImageLocality"
    default_weight: Final = 1

    def __init__(self, handle: Handle) -> None:
        self.table = handle.table

    def score(self, state: CycleState, pod: PodInfo, slots: Slots) -> ScoreResult:
        table = self.table
        if not table.images:
            return 0  # no node reports images: every node scores calculatePriority(0) = 0
        containers = len(pod.pod.spec.containers) + len(pod.pod.spec.init_containers)
        columns = [table.images.get(name) for name in pod.images]
        if containers == 0 or all(c is None for c in columns):
            return 0
        total_nodes = max(table.count, 1)
        sums = np.zeros(len(slots), np.int64)
        for column in columns:
            if column is None:
                continue
            spread = column.nodes / total_nodes
            scaled = (column.size[slots] * spread).astype(np.int64)
            sums += np.where(column.present[slots], scaled, 0)
        result: ScoreResult = calculate_priority(sums, containers)
        return result


def new(_args: PluginArgs, handle: Handle) -> Any:
    return ImageLocality(handle)
