"""DaemonSet status and convergence (Kubernetes' updateDaemonSetStatus and
`kubectl rollout status daemonset`).

Counted over nodes, from each node's daemon pods (the oldest pod where a
node has several):

* `desiredNumberScheduled`: nodes that should run the pod;
* `currentNumberScheduled`: of those, nodes that have a pod (bound or still
  being scheduled to them);
* `numberMisscheduled`: nodes that have a pod but should not;
* `numberReady` / `numberAvailable`: nodes whose pod is Ready, and Ready for
  more than `minReadySeconds`; `numberUnavailable` the rest of the desired;
* `updatedNumberScheduled`: nodes whose pod is at the update revision.

`is_converged(ds)` holds when the status describes the current generation
and every desired node runs an available pod at the update revision (for
OnDelete, an available pod of any revision), with none misscheduled.

Neighbours: `controllers.daemonset.control` computes it; `runtime` reads
`is_converged`.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api import DaemonSet, DaemonSetStatus

__all__ = ["Counts", "is_converged", "status_of", "unconverged_reason"]


@dataclass(slots=True)
class Counts:
    desired: int = 0
    current: int = 0
    misscheduled: int = 0
    ready: int = 0
    available: int = 0
    updated: int = 0


def status_of(ds: DaemonSet, counts: Counts, collision_count: int) -> DaemonSetStatus:
    return ds.status.model_copy(
        update={
            "observed_generation": ds.metadata.generation,
            "desired_number_scheduled": counts.desired,
            "current_number_scheduled": counts.current,
            "number_misscheduled": counts.misscheduled,
            "number_ready": counts.ready,
            "number_available": counts.available,
            "number_unavailable": counts.desired - counts.available,
            "updated_number_scheduled": counts.updated,
            "collision_count": collision_count,
        }
    )


def unconverged_reason(ds: DaemonSet) -> str | None:
    s = ds.status
    if s.observed_generation < ds.metadata.generation:
        return "status not yet observed"
    want = s.desired_number_scheduled
    updated = s.updated_number_scheduled
    if ds.spec.update_strategy.type == "OnDelete":
        updated = want
    if s.number_available != want or updated != want or s.current_number_scheduled != want:
        return f"{updated} updated, {s.number_available} available of {want} nodes"
    if s.number_misscheduled:
        return f"{s.number_misscheduled} misscheduled"
    return None


def is_converged(ds: DaemonSet) -> bool:
    return unconverged_reason(ds) is None
