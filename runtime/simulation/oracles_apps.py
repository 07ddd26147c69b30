"""Simulation oracles for the apps controllers and disruption budgets:
safety invariants (registered in `invariants.SAFETY`) and desired-state
checks (registered in `liveness.DESIRED`).

Safety:

* `statefulset-one-pod-per-identity`: when a StatefulSet's pod is created,
  no other live pod of the set carries the same identity
  (`statefulset.kubernetes.io/pod-name`);
* `statefulset-ordered-ready`: an OrderedReady set creates ordinal n+1 only
  after a pod with ordinal n has been Running and Ready (the first ordinal
  excepted);
* `daemonset-one-pod-per-node`: a DaemonSet never has two live pods (not
  terminating, not finished) for one node, three with a surge;
* `eviction-within-budget`: the evictions a budget grants between two
  recomputations by the disruption controller never exceed the
  `disruptionsAllowed` that recomputation found, and are never granted on a
  status of an older generation.

Desired state (after faults stop):

* `statefulsets`: the status observed, and `spec.replicas` pods each
  running and ready at the update revision (pods at and above the partition;
  OnDelete: any revision), unless a pod no node can take holds them up, or a
  pod on a node that stays down holds its identity;
* `daemonsets`: every node that should run the pod (and whose kubelet runs)
  has exactly one, running and ready at the update revision (unless the
  node has no room for its daemon pod, or for a surge pod, which then waits,
  as it would in Kubernetes), and no node that may not keep one has one;
* `replicationcontrollers`: as many active pods as `spec.replicas`, running
  and ready, status matching;
* `poddisruptionbudgets`: the status describes the current generation and
  its pods' health (`currentHealthy`), unless the sync fails (SyncFailed:
  a pod whose controller has no scale, such as a DaemonSet's, under a
  percentage or maxUnavailable budget), where Kubernetes leaves the counts.

Neighbours: `runtime.simulation.invariants`, `runtime.simulation.liveness`,
the controllers' own status and placement functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from controllers.common.history import HASH_LABEL
from controllers.common.pods import is_pod_active, is_pod_ready
from controllers.daemonset.control import REVISION_LABEL, rolling_limits
from controllers.daemonset.placement import (
    compile_constraints,
    placement,
    target_node,
    with_daemon_tolerations,
)
from controllers.statefulset.identity import POD_NAME_LABEL, ordinal_of, start_ordinal
from controllers.statefulset.status import updated_target
from engine.api import (
    ControllerRevision,
    DaemonSet,
    Node,
    Pod,
    PodDisruptionBudget,
    ReplicationController,
    StatefulSet,
)
from engine.selectors import from_label_selector
from engine.store import WriteRecord
from runtime.simulation.view import ClusterView

__all__ = [
    "DaemonSetOnePodPerNode",
    "EvictionWithinBudget",
    "StatefulSetOrderedReady",
    "daemonsets",
    "poddisruptionbudgets",
    "replicationcontrollers",
    "statefulset_one_pod_per_identity",
    "statefulsets",
]

_TERMINAL = ("Succeeded", "Failed")


def _live(pod: Pod) -> bool:
    return pod.metadata.deletion_timestamp is None and pod.status.phase not in _TERMINAL


def _running_ready(pod: Pod) -> bool:
    return pod.status.phase == "Running" and is_pod_ready(pod)


# -- safety ----------------------------------------------------------------------------------


def statefulset_one_pod_per_identity(record: WriteRecord, view: ClusterView) -> str | None:
    obj = record.object
    if not isinstance(obj, Pod) or record.type != "ADDED":
        return None
    ref = obj.metadata.controller_ref()
    if ref is None or ref.kind != "StatefulSet":
        return None
    identity = obj.metadata.labels.get(POD_NAME_LABEL)
    same = [
        p.metadata.name
        for p in view.pods_of(ref.uid)
        if p.metadata.labels.get(POD_NAME_LABEL) == identity
        and p.metadata.uid != obj.metadata.uid
        and p.status.phase not in _TERMINAL
    ]
    if same:
        return f"statefulset {ref.name}: {obj.metadata.name} created while {same} live"
    return None


class StatefulSetOrderedReady:
    name = "statefulset-ordered-ready"

    def __init__(self) -> None:
        self._ever_ready: set[tuple[str, str]] = set()

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        obj = record.object
        if not isinstance(obj, Pod) or record.removed:
            return None
        key = (obj.metadata.namespace, obj.metadata.name)
        if _running_ready(obj):
            self._ever_ready.add(key)
        if record.type != "ADDED":
            return None
        ref = obj.metadata.controller_ref()
        if ref is None or ref.kind != "StatefulSet":
            return None
        sts = view.lookup(ref.uid)
        if not isinstance(sts, StatefulSet) or sts.spec.pod_management_policy == "Parallel":
            return None
        ordinal = ordinal_of(sts.metadata.name, obj)
        if ordinal <= start_ordinal(sts):
            return None
        previous = (obj.metadata.namespace, f"{sts.metadata.name}-{ordinal - 1}")
        if previous not in self._ever_ready:
            return (
                f"statefulset {sts.metadata.name} (OrderedReady) created {obj.metadata.name} "
                f"before {previous[1]} was ever Running and Ready"
            )
        return None


class DaemonSetOnePodPerNode:
    name = "daemonset-one-pod-per-node"

    def __init__(self) -> None:
        self._surge: dict[str, bool] = {}

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        obj = record.object
        if isinstance(obj, DaemonSet):
            if not record.removed:
                surge = rolling_limits(obj, 100)[0] > 0
                uid = obj.metadata.uid
                self._surge[uid] = self._surge.get(uid, False) or surge
            return None
        if not isinstance(obj, Pod) or record.removed or not _live(obj):
            return None
        ref = obj.metadata.controller_ref()
        if ref is None or ref.kind != "DaemonSet":
            return None
        node = target_node(obj.spec)
        if node is None:
            return None
        on_node = [
            p.metadata.name
            for p in view.pods_of(ref.uid)
            if _live(p) and target_node(p.spec) == node
        ]
        limit = 2 if self._surge.get(ref.uid, False) else 1
        if len(on_node) > limit:
            return f"daemonset {ref.name} has {len(on_node)} live pods for node {node}: {on_node}"
        return None


class EvictionWithinBudget:
    name = "eviction-within-budget"

    def __init__(self) -> None:
        # Per budget uid: (disruptionsAllowed last computed, evictions granted since).
        self._spent: dict[str, tuple[int, int]] = {}

    def observe(self, record: WriteRecord, view: ClusterView) -> str | None:
        obj, previous = record.object, record.previous
        if not isinstance(obj, PodDisruptionBudget) or record.removed:
            return None
        uid = obj.metadata.uid
        status = obj.status
        granted = (
            isinstance(previous, PodDisruptionBudget)
            and len(status.disrupted_pods) == len(previous.status.disrupted_pods) + 1
            and status.disruptions_allowed == previous.status.disruptions_allowed - 1
        )
        if not granted:
            self._spent[uid] = (status.disruptions_allowed, 0)
            return None
        assert isinstance(previous, PodDisruptionBudget)
        if previous.status.observed_generation < obj.metadata.generation:
            return (
                f"budget {obj.metadata.name}: eviction granted on a status of an older generation"
            )
        allowed, spent = self._spent.get(uid, (previous.status.disruptions_allowed, 0))
        spent += 1
        self._spent[uid] = (allowed, spent)
        if spent > allowed:
            return (
                f"budget {obj.metadata.name}: {spent} evictions granted where the disruption "
                f"controller allowed {allowed}"
            )
        return None


# -- desired state ---------------------------------------------------------------------------


def _diff(obj: Any, what: str, have: Any, want: Any) -> Any:
    from runtime.simulation.liveness import Difference

    meta = obj.metadata
    return Difference(type(obj).kind_name, meta.namespace, meta.name, what, have, want)


def _held_up(pods: list[Pod], ctx: Any) -> bool:
    from runtime.simulation.liveness import _settled

    return any(not _running_ready(p) and _settled(p, ctx) for p in pods)


def statefulsets(ctx: Any) -> Iterator[Any]:
    from runtime.simulation.liveness import _settled

    for sts in ctx.objects(StatefulSet):
        if sts.metadata.deletion_timestamp is not None:
            continue
        pods = [p for p in ctx.view.pods_of(sts.metadata.uid) if is_pod_active(p)]
        status = sts.status
        if status.observed_generation < sts.metadata.generation:
            yield _diff(
                sts,
                "status.observedGeneration",
                status.observed_generation,
                sts.metadata.generation,
            )
            continue
        unsettled = sorted(p.metadata.name for p in pods if not _settled(p, ctx))
        if unsettled:
            yield _diff(sts, "pods not running and ready", unsettled, [])
            continue
        if _held_up(pods, ctx):
            continue  # a pod no node can take holds the rest up
        if any(
            p.spec.node_name and not ctx.node_up(p.spec.node_name)
            for p in ctx.view.pods_of(sts.metadata.uid)
        ):
            # A pod on a lost node keeps its identity until it is really gone
            # (Kubernetes waits for the node, or for a force deletion).
            continue
        want = sts.spec.replicas
        if len(pods) != want:
            yield _diff(sts, "active pods", len(pods), want)
        if status.ready_replicas != want:
            yield _diff(sts, "status.readyReplicas", status.ready_replicas, want)
        if sts.spec.update_strategy.type == "RollingUpdate":
            updated = sum(
                1
                for p in pods
                if p.metadata.labels.get("controller-revision-hash") == status.update_revision
            )
            if updated < updated_target(sts):
                yield _diff(sts, "pods at the update revision", updated, updated_target(sts))


def daemonsets(ctx: Any) -> Iterator[Any]:
    from runtime.simulation.liveness import _settled

    nodes = [n for n in ctx.objects(Node) if ctx.node_up(n.metadata.name)]
    for ds in ctx.objects(DaemonSet):
        if ds.metadata.deletion_timestamp is not None:
            continue
        status = ds.status
        if status.observed_generation < ds.metadata.generation:
            yield _diff(
                ds, "status.observedGeneration", status.observed_generation, ds.metadata.generation
            )
            continue
        spec = with_daemon_tolerations(ds.spec.template.spec)
        constraints = compile_constraints(spec)
        pods = [p for p in ctx.view.pods_of(ds.metadata.uid) if is_pod_active(p)]
        revision = _update_hash(ctx, ds)
        # A pod its node has no room for holds the whole rollout up (a stuck
        # surge pod keeps the surge budget, a missing pod the unavailable one),
        # in Kubernetes too: then old pods elsewhere are not a difference.
        held_up = any(not _running_ready(p) and _settled(p, ctx) for p in pods)
        for node in nodes:
            name = node.metadata.name
            here = [p for p in pods if target_node(p.spec) == name]
            place = placement(spec, constraints, node)
            if not place.should_run:
                if here and not place.should_continue_running:
                    yield _diff(ds, f"pods on node {name}", len(here), 0)
                continue
            # A pod the node has no room for (a surge pod beside the old one, say)
            # waits for ever, in Kubernetes too: the rollout is stuck, not broken.
            stuck = [p for p in here if not _running_ready(p) and _settled(p, ctx)]
            placed = [p for p in here if not any(p is q for q in stuck)]
            if not placed and stuck:
                continue  # the node has no room for its daemon pod
            if len(placed) != 1:
                yield _diff(ds, f"pods on node {name}", len(placed), 1)
                continue
            pod = placed[0]
            if not _settled(pod, ctx):
                yield _diff(ds, f"pod on node {name} running and ready", pod.metadata.name, True)
            elif (
                not held_up
                and ds.spec.update_strategy.type == "RollingUpdate"
                and revision is not None
                and pod.metadata.labels.get(REVISION_LABEL) != revision
            ):
                yield _diff(
                    ds,
                    f"pod revision on node {name}",
                    pod.metadata.labels.get(REVISION_LABEL),
                    revision,
                )


def _update_hash(ctx: Any, ds: DaemonSet) -> str | None:
    """The hash of the newest revision of `ds` (what its pods should carry)."""
    newest = None
    for revision in ctx.objects(ControllerRevision):
        ref = revision.metadata.controller_ref()
        if ref is None or ref.uid != ds.metadata.uid:
            continue
        if newest is None or revision.revision > newest.revision:
            newest = revision
    return None if newest is None else newest.metadata.labels.get(HASH_LABEL)


def replicationcontrollers(ctx: Any) -> Iterator[Any]:
    from runtime.simulation.liveness import _settled

    for rc in ctx.objects(ReplicationController):
        if rc.metadata.deletion_timestamp is not None:
            continue
        pods = [p for p in ctx.view.pods_of(rc.metadata.uid) if is_pod_active(p)]
        if len(pods) != rc.spec.replicas:
            yield _diff(rc, "active pods", len(pods), rc.spec.replicas)
        if rc.status.observed_generation < rc.metadata.generation:
            yield _diff(
                rc,
                "status.observedGeneration",
                rc.status.observed_generation,
                rc.metadata.generation,
            )
        if rc.status.replicas != len(pods):
            yield _diff(rc, "status.replicas", rc.status.replicas, len(pods))
        unsettled = sorted(p.metadata.name for p in pods if not _settled(p, ctx))
        if unsettled:
            yield _diff(rc, "pods not running and ready", unsettled, [])


def poddisruptionbudgets(ctx: Any) -> Iterator[Any]:
    for pdb in ctx.objects(PodDisruptionBudget):
        status = pdb.status
        if status.observed_generation < pdb.metadata.generation:
            yield _diff(
                pdb,
                "status.observedGeneration",
                status.observed_generation,
                pdb.metadata.generation,
            )
            continue
        selector = pdb.spec.selector
        condition = status.condition("DisruptionAllowed")
        if selector is None or (condition is not None and condition.reason == "SyncFailed"):
            continue  # no scale to count against (e.g. DaemonSet pods): counts stay as they were
        matcher = from_label_selector(selector)
        healthy = sum(
            1
            for p in ctx.store.objects(Pod)
            if p.metadata.namespace == pdb.metadata.namespace
            and matcher.matches(p.metadata.labels)
            and p.metadata.deletion_timestamp is None
            and p.metadata.name not in status.disrupted_pods
            and is_pod_ready(p)
        )
        if status.current_healthy != healthy:
            yield _diff(pdb, "status.currentHealthy", status.current_healthy, healthy)
