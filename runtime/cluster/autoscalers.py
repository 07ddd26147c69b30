"""`ReplicaHistory`: each HorizontalPodAutoscaler's replica count over
cluster time, for the run summary.

A store observer: every write of an HPA whose `status.desiredReplicas`
differs from the last one recorded for it appends (cluster seconds,
replicas). The JSON summary's `autoscalers` lists each HPA with its series.

Neighbours: `runtime.cluster.cluster` (installs it), `runtime.summary`.
"""

from __future__ import annotations

from engine.api.autoscaling import HorizontalPodAutoscaler
from engine.clock import Clock
from engine.store import WriteRecord

__all__ = ["ReplicaHistory"]


class ReplicaHistory:
    """(namespace, name) -> [(cluster seconds, desired replicas), ...]."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.series: dict[tuple[str, str], list[tuple[float, int]]] = {}

    def __call__(self, record: WriteRecord) -> None:
        if record.kind != "HorizontalPodAutoscaler" or record.removed:
            return
        hpa = record.object
        assert isinstance(hpa, HorizontalPodAutoscaler)
        status = hpa.status
        if status.observed_generation is None:
            return  # not synced yet: no count to report
        series = self.series.setdefault((record.namespace, record.name), [])
        if not series or series[-1][1] != status.desired_replicas:
            series.append((round(self.clock.monotonic(), 3), status.desired_replicas))

    def to_json(self) -> list[dict[str, object]]:
        return [
            {"namespace": ns, "name": name, "replicas": [list(point) for point in points]}
            for (ns, name), points in sorted(self.series.items())
        ]
