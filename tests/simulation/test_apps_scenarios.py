"""Scenarios the fuzzer found against the apps controllers, replayed: each
failed before its fix and must pass now.

* daemonset-surge-min-ready: a maxSurge update with minReadySeconds stalled
  with two pods on every node (nothing woke the DaemonSet when the new pod
  became available);
* statefulset-pod-recreated-across-relist: a StatefulSet pod re-created under
  its name while the scheduler's informer missed both events stayed pending
  (the scheduler treated it as an update of the old, bound pod);
* daemonset-surge-without-room, daemonset-pod-without-room,
  daemonset-surge-holds-rollout: a surge pod, or a daemon pod, its node has
  no room for waits, and holds the rollout up on every node, as in
  Kubernetes; the desired-state check accepts that;
* statefulset-status-after-lagging-cache: a StatefulSet whose cache had not
  caught up with its own status write compared the right status with a
  stale one, skipped the write, and was not woken again;
* budget-over-daemon-pods: a maxUnavailable budget over DaemonSet pods
  fails to sync (no scale), and keeps its counts, as in Kubernetes;
* hpa-holds-at-a-rounding-fixed-point: an HPA at 50 % of a 70 % target
  holds 3 replicas (ceil(3 * 5/7) = 3), as Kubernetes' formula does; the
  desired-state check wanted minReplicas;
* statefulset-claims-of-a-pending-pod: scaled to 0 (claims deleted,
  whenScaled: Delete) and straight back up, a pod re-created before its
  claim was gone waited pending for ever; the claims of a pending pod are
  created, as Kubernetes' processReplica does;
* job-stale-relist-overcreates: a Job acted on a pod cache a relist from a
  lagging apiserver had taken back in time, and created a second pod for an
  index whose pod was still running (parallelism 1); the Job controller now
  never acts on a pod cache older than one it already acted on, as the
  ReplicaSet controller does.
* job-finalizer-conflict-not-retried: a failed Job's last pod stopped
  (Succeeded) while the Job removed its tracking finalizer from a cached
  copy one write old; the Conflict was dropped and no later event brought
  the Job back, so it never reached Failed. A conflict on a finalizer
  removal now retries the sync.
* job-orphan-finalizer-conflict-not-retried: a Job deleted (Background)
  while its pods were stopping; removing the tracking finalizer from an
  orphaned pod met a Conflict (the cached pod was one write old), the error
  was dropped, and once the pod stopped changing nothing tried again: the
  pods outlived their Job for ever. The orphan's finalizer removal is now
  retried.
* deployment-recreate-switch-while-scaling: a Deployment with two active
  ReplicaSets switched to Recreate with a new size in one write, no faults
  at all; Kubernetes takes that as a scaling event it cannot carry out and
  stays there (kubernetes/kubernetes#125568); the Recreate rollout now
  takes over.
* daemonset-creates-for-a-deleted-set: a DaemonSet controller whose watches
  ran 10 s late still saw its deleted set and, its pods being collected,
  created new ones beside them (two live pods on a node). Like the
  ReplicaSet controller, it now reads the set from the API before creating.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from runtime.simulation.replay import load_scenario_file, replay

SCENARIOS = Path(__file__).parent / "apps_scenarios"
FILES = sorted(SCENARIOS.glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_found_scenario_passes(path: Path) -> None:
    result = replay(load_scenario_file(path))
    assert result.failure is None, result.failure.to_data()
