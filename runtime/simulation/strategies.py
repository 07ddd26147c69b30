"""Hypothesis strategies: realistic manifests, cluster shapes, operations and faults.

Manifests are plain dicts in Kubernetes' JSON shape (what `kubectl apply`
reads), valid by construction: selectors match their template's labels,
requests never exceed limits, a rolling update never has maxSurge and
maxUnavailable both zero. Values come from small pools (images, label values,
taint keys) so that generated objects interact: tolerations meet taints,
node selectors meet node labels, workloads compete for the same nodes.

* `node_pools()`: 1-2 node pools (zones, labels, taints, capacity) for a
  `SimulationConfig`; `nodes()`: Node manifests with the same vocabulary.
* `pod_specs()`, `pods(name)`, `replica_sets(name)`, `deployments(name)`,
  `jobs(name)`, `cron_jobs(name)`, `workloads(name, kinds=...)` (one of
  those kinds; a Deployment or a ReplicaSet by default).
* `faults(kinds, controllers, informers)`: one fault, `at` relative (the
  state machine injects it from "now"); nodes are placeholders `#<i>` the
  machine maps onto its nodes. `fault_schedules(...)`: absolute schedules.
* `operations(names)`: one operation on the named workloads.

Each strategy factory here returns the same strategy object for the same
arguments (`reused`): the workloads are drawn through a `flatmap`, so
without it every draw would build, validate and analyse a fresh tree of
strategies (a tenth of a fuzz example's time went to that). A strategy
object holds no state that a draw depends on, so the examples a seed draws
are the same either way.

Neighbours: `runtime.simulation.faults`, `runtime.simulation.operations`,
`runtime.simulation.machine` (uses them), `engine.manifests` (validates).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

from engine.api.core import Taint
from runtime.cluster import NodePool
from runtime.simulation.faults import (
    ALL_FAULT_KINDS,
    ContainerCrash,
    ControllerCrash,
    Fault,
    FaultSchedule,
    NodeCrash,
    NodePartition,
    NodeSlowStart,
    StaleReads,
    WatchDelay,
    WatchDrop,
    WatchDuplicate,
    WatchGone,
    WatchReorder,
    WriteErrors,
)
from runtime.simulation.operations import (
    Delete,
    DeletePod,
    Operation,
    Scale,
    SetImage,
    Wait,
)

__all__ = [
    "IMAGES",
    "app_label",
    "cron_jobs",
    "deployments",
    "fault_schedules",
    "faults",
    "jobs",
    "node_pools",
    "nodes",
    "operations",
    "pod_specs",
    "pods",
    "replica_sets",
    "reused",
    "workloads",
]

IMAGES = ("nginx:1.27", "nginx:1.28", "redis:7.2", "busybox:1.36", "registry.k8s.io/pause:3.9")
ZONES = ("zone-a", "zone-b")
DISK_TYPES = ("ssd", "hdd")
CPU = ("50m", "100m", "250m", "500m", "1")
MEMORY = ("64Mi", "128Mi", "256Mi", "512Mi")
TAINTS: tuple[dict[str, str], ...] = (
    {"key": "dedicated", "value": "infra", "effect": "NoSchedule"},
    {"key": "gpu", "value": "true", "effect": "NoSchedule"},
    {"key": "spot", "value": "true", "effect": "PreferNoSchedule"},
)
CONTROLLER_INFORMERS = (
    "Pod",
    "ReplicaSet",
    "Deployment",
    "Job",
    "CronJob",
    "Node",
    "Lease",
    "Namespace",
)

F = TypeVar("F", bound=Callable[..., Any])


def reused(factory: F) -> F:
    """`factory`, returning one strategy object per distinct (hashable) set
    of arguments (see the module docstring); unhashable arguments (a list of
    kinds) build a fresh one, as before."""
    cached = functools.cache(factory)

    @functools.wraps(factory)
    def strategy(*args: Any, **kwargs: Any) -> Any:
        try:
            hash((args, tuple(kwargs.items())))
        except TypeError:
            return factory(*args, **kwargs)
        return cached(*args, **kwargs)

    return strategy  # type: ignore[return-value]


# -- cluster shape --------------------------------------------------------------------------


@reused
@st.composite
def _taint_sets(draw: st.DrawFn) -> tuple[dict[str, str], ...]:
    return tuple(draw(st.lists(st.sampled_from(TAINTS), max_size=1, unique_by=lambda t: t["key"])))


@st.composite
def node_pools(draw: st.DrawFn, *, max_nodes: int = 3) -> tuple[NodePool, ...]:
    """One or two pools: a general one, and maybe a tainted or labelled one."""
    first = draw(st.integers(1, max_nodes))
    pools = [
        NodePool(
            name="node",
            count=first,
            cpu=draw(st.sampled_from(("2", "4"))),
            memory=draw(st.sampled_from(("4Gi", "8Gi"))),
            labels={"disktype": draw(st.sampled_from(DISK_TYPES))},
            zones=ZONES,
        )
    ]
    if first < max_nodes and draw(st.booleans()):
        pools.append(
            NodePool(
                name="special",
                count=draw(st.integers(1, max_nodes - first)),
                cpu="2",
                memory="4Gi",
                labels={"disktype": draw(st.sampled_from(DISK_TYPES))},
                taints=tuple(Taint(**t) for t in draw(_taint_sets())),
                zones=ZONES[1:],
            )
        )
    return tuple(pools)


@reused
@st.composite
def nodes(draw: st.DrawFn, name: str | None = None) -> dict[str, Any]:
    """A Node manifest with the vocabulary the workloads use."""
    cpu = draw(st.sampled_from(("2", "4", "8")))
    memory = draw(st.sampled_from(("4Gi", "8Gi", "16Gi")))
    capacity = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name or f"node-{draw(st.integers(0, 9))}",
            "labels": {
                "topology.kubernetes.io/zone": draw(st.sampled_from(ZONES)),
                "disktype": draw(st.sampled_from(DISK_TYPES)),
            },
        },
        "spec": {"taints": list(draw(_taint_sets()))},
        "status": {"capacity": capacity, "allocatable": capacity},
    }


# -- pods and workloads ------------------------------------------------------------------------


@reused
@st.composite
def _resources(draw: st.DrawFn) -> dict[str, Any]:
    cpu_index = draw(st.integers(0, len(CPU) - 1))
    memory_index = draw(st.integers(0, len(MEMORY) - 1))
    resources: dict[str, Any] = {
        "requests": {"cpu": CPU[cpu_index], "memory": MEMORY[memory_index]}
    }
    if draw(st.booleans()):
        resources["limits"] = {
            "cpu": CPU[draw(st.integers(cpu_index, len(CPU) - 1))],
            "memory": MEMORY[draw(st.integers(memory_index, len(MEMORY) - 1))],
        }
    return resources


@reused
@st.composite
def _affinity(draw: st.DrawFn, app: str) -> dict[str, Any] | None:
    choice = draw(st.sampled_from(("none", "none", "zone", "preferred", "spread")))
    if choice == "zone":
        zones = draw(st.lists(st.sampled_from(ZONES), min_size=1, max_size=2, unique=True))
        term = {"key": "topology.kubernetes.io/zone", "operator": "In", "values": sorted(zones)}
        return {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [{"matchExpressions": [term]}]
                }
            }
        }
    if choice == "preferred":
        return {
            "nodeAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": draw(st.integers(1, 100)),
                        "preference": {
                            "matchExpressions": [
                                {"key": "disktype", "operator": "In", "values": ["ssd"]}
                            ]
                        },
                    }
                ]
            }
        }
    if choice == "spread":
        return {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "labelSelector": {"matchLabels": {"app": app}},
                            "topologyKey": "kubernetes.io/hostname",
                        },
                    }
                ]
            }
        }
    return None


@reused
@st.composite
def pod_specs(draw: st.DrawFn, app: str = "app") -> dict[str, Any]:
    """A pod spec: 1-2 containers with requests (and maybe limits), and maybe
    tolerations, a node selector, node affinity or anti-affinity."""
    count = draw(st.integers(1, 2))
    containers = [
        {
            "name": f"c{i}",
            "image": draw(st.sampled_from(IMAGES)),
            "resources": draw(_resources()),
        }
        for i in range(count)
    ]
    spec: dict[str, Any] = {
        "containers": containers,
        "terminationGracePeriodSeconds": draw(st.sampled_from((0, 1, 5, 30))),
    }
    tolerations = draw(st.lists(st.sampled_from(TAINTS), max_size=2, unique_by=lambda t: t["key"]))
    if tolerations:
        spec["tolerations"] = [
            {"key": t["key"], "operator": "Equal", "value": t["value"], "effect": t["effect"]}
            for t in tolerations
        ]
    if draw(st.integers(0, 4)) == 0:
        spec["nodeSelector"] = {"disktype": draw(st.sampled_from(DISK_TYPES))}
    affinity = draw(_affinity(app))
    if affinity is not None:
        spec["affinity"] = affinity
    return spec


def app_label(kind: str, name: str) -> str:
    """The `app` label of a workload: kind and name, so two workloads never
    select each other's pods (overlapping selectors make controllers fight,
    which Kubernetes documents as undefined)."""
    return f"{kind.lower()}-{name}"


def _template(draw: st.DrawFn, app: str) -> tuple[dict[str, str], dict[str, Any]]:
    labels = {"app": app}
    if draw(st.booleans()):
        labels["tier"] = draw(st.sampled_from(("web", "cache", "batch")))
    return labels, {"metadata": {"labels": labels}, "spec": draw(pod_specs(app))}


@reused
@st.composite
def pods(draw: st.DrawFn, name: str) -> dict[str, Any]:
    labels = {"app": app_label("Pod", name)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": draw(pod_specs(name)),
    }


@reused
@st.composite
def replica_sets(draw: st.DrawFn, name: str, *, max_replicas: int = 5) -> dict[str, Any]:
    app = app_label("ReplicaSet", name)
    _, template = _template(draw, app)
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": draw(st.integers(0, max_replicas)),
            "minReadySeconds": draw(st.sampled_from((0, 0, 2))),
            "selector": {"matchLabels": {"app": app}},
            "template": template,
        },
    }


_SURGE = st.one_of(st.integers(0, 2), st.sampled_from(("25%", "50%")))


@reused
@st.composite
def deployments(draw: st.DrawFn, name: str, *, max_replicas: int = 5) -> dict[str, Any]:
    app = app_label("Deployment", name)
    _, template = _template(draw, app)
    strategy: dict[str, Any]
    if draw(st.integers(0, 3)) == 0:
        strategy = {"type": "Recreate"}
    else:
        surge, unavailable = draw(_SURGE), draw(_SURGE)
        if surge in (0, "0%") and unavailable in (0, "0%"):
            surge = 1
        strategy = {
            "type": "RollingUpdate",
            "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
        }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": draw(st.integers(0, max_replicas)),
            "minReadySeconds": draw(st.sampled_from((0, 0, 2))),
            "revisionHistoryLimit": draw(st.sampled_from((0, 2, 10))),
            "selector": {"matchLabels": {"app": app}},
            "strategy": strategy,
            "template": template,
        },
    }


_JOB_RUN = st.sampled_from(("1s", "5s", "20s", "uniform(1s,30s)"))
_EXIT_CODE = st.sampled_from(("0", "0", "0", "1", "42"))
# Start times at least 5 minutes apart (whatever the mix), so that a CronJob's
# runs leave the ESR window a quiet minute between them.
_SCHEDULES = ("*/10 * * * *", "*/15 * * * *", "*/30 * * * *", "@hourly")


@reused
@st.composite
def _job_spec(draw: st.DrawFn, app: str) -> dict[str, Any]:
    _, template = _template(draw, app)
    template["metadata"]["annotations"] = {
        "sim.kubeloop.io/exit-after": draw(_JOB_RUN),
        "sim.kubeloop.io/exit-code": draw(_EXIT_CODE),
    }
    restart = draw(st.sampled_from(("Never", "Never", "OnFailure")))
    template["spec"]["restartPolicy"] = restart
    completions = draw(st.integers(1, 5))
    spec: dict[str, Any] = {
        "completions": completions,
        "parallelism": draw(st.integers(1, 3)),
        "backoffLimit": draw(st.integers(0, 3)),
        "template": template,
    }
    if draw(st.booleans()):
        spec["completionMode"] = "Indexed"
        if restart == "Never" and draw(st.integers(0, 3)) == 0:
            spec["backoffLimitPerIndex"] = draw(st.integers(0, 1))
            spec["maxFailedIndexes"] = draw(st.integers(0, completions))
    if restart == "Never" and draw(st.integers(0, 2)) == 0:
        spec["podFailurePolicy"] = {
            "rules": [
                {"action": "FailJob", "onExitCodes": {"operator": "In", "values": [42]}},
                {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            ]
        }
    if draw(st.integers(0, 4)) == 0:
        spec["activeDeadlineSeconds"] = draw(st.sampled_from((30, 120)))
    if draw(st.integers(0, 4)) == 0:
        spec["ttlSecondsAfterFinished"] = draw(st.sampled_from((0, 30)))
    return spec


@reused
@st.composite
def jobs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A Job: 1-5 completions, parallelism 1-3, either completion mode, pods
    that run 1-30 s and sometimes fail (exit 1, or 42 for a FailJob rule)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": draw(_job_spec(app_label("Job", name))),
    }


@reused
@st.composite
def cron_jobs(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A CronJob starting such Jobs every 10 minutes to every hour, with any
    concurrency policy and small history limits."""
    job_spec = draw(_job_spec(app_label("CronJob", name)))
    job_spec.pop("ttlSecondsAfterFinished", None)
    spec: dict[str, Any] = {
        "schedule": draw(st.sampled_from(_SCHEDULES)),
        "concurrencyPolicy": draw(st.sampled_from(("Allow", "Forbid", "Replace"))),
        "successfulJobsHistoryLimit": draw(st.integers(0, 3)),
        "failedJobsHistoryLimit": draw(st.integers(0, 1)),
        "jobTemplate": {"spec": job_spec},
    }
    if draw(st.booleans()):
        spec["startingDeadlineSeconds"] = draw(st.sampled_from((30, 300)))
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name},
        "spec": spec,
    }


@reused
def workloads(
    name: str, *, kinds: Sequence[str] = ("Deployment", "ReplicaSet")
) -> st.SearchStrategy[dict[str, Any]]:
    """A Deployment, ReplicaSet, Pod, Job or CronJob named `name` (of the kinds allowed)."""
    options = []
    if "Deployment" in kinds:
        options.append(deployments(name))
    if "ReplicaSet" in kinds:
        options.append(replica_sets(name))
    if "Pod" in kinds:
        options.append(pods(name))
    if "Job" in kinds:
        options.append(jobs(name))
    if "CronJob" in kinds:
        options.append(cron_jobs(name))
    return st.one_of(options)


# -- faults -------------------------------------------------------------------------------------

_DURATION = st.sampled_from((5.0, 15.0, 30.0, 60.0))
_AT = st.sampled_from((0.0, 0.0, 1.0, 5.0, 10.0))
_PROBABILITY = st.sampled_from((0.2, 0.5, 1.0))


def faults(
    kinds: Sequence[str] = ALL_FAULT_KINDS,
    *,
    controllers: Sequence[str] = ("replicaset",),
    informers: Sequence[str] = CONTROLLER_INFORMERS,
    max_nodes: int = 3,
    stale_scopes: Sequence[str] = ("cache",),
    every_controller: bool = True,
) -> st.SearchStrategy[Fault]:
    """One fault of the given kinds, `at` relative to when it is injected.
    Controller faults name one of `controllers`, or, if `every_controller`,
    none at all (then they hit every controller that runs)."""
    controller = st.sampled_from(tuple(controllers))
    optional_controller = st.one_of(st.none(), controller) if every_controller else controller
    informer = st.one_of(st.none(), st.sampled_from(tuple(informers)))
    node = st.integers(0, max(0, max_nodes - 1)).map(lambda i: f"#{i}")
    common = {"at": _AT, "duration": _DURATION}
    targeted = {**common, "controller": optional_controller, "informer": informer}
    builders: dict[str, st.SearchStrategy[Any]] = {
        "watch_delay": st.builds(WatchDelay, delay=st.sampled_from((0.5, 2.0, 10.0)), **targeted),
        "watch_drop": st.builds(WatchDrop, probability=_PROBABILITY, **targeted),
        "watch_duplicate": st.builds(WatchDuplicate, probability=_PROBABILITY, **targeted),
        "watch_reorder": st.builds(WatchReorder, jitter=st.sampled_from((0.5, 3.0)), **targeted),
        "watch_gone": st.builds(
            WatchGone,
            at=_AT,
            controller=optional_controller,
            informer=informer,
            relist=st.booleans(),
        ),
        "stale_reads": st.builds(
            StaleReads,
            lag_revisions=st.sampled_from((0, 5, 20)),
            lag_seconds=st.sampled_from((1.0, 5.0)),
            reconnect=st.booleans(),
            scope=st.sampled_from(tuple(stale_scopes)),
            **targeted,
        ),
        "write_errors": st.builds(
            WriteErrors,
            probability=_PROBABILITY,
            errors=st.lists(
                st.sampled_from(("conflict", "server_error", "timeout")),
                min_size=1,
                max_size=3,
                unique=True,
            ).map(tuple),
            **targeted,
        ),
        "controller_crash": st.builds(
            ControllerCrash,
            at=_AT,
            controller=controller,
            after_writes=st.integers(0, 3),
            restart_after=st.sampled_from((0.0, 1.0, 10.0)),
        ),
        "node_crash": st.builds(NodeCrash, node=node, **common),
        "node_partition": st.builds(NodePartition, node=node, **common),
        "node_slow_start": st.builds(
            NodeSlowStart, node=node, latency=st.sampled_from((5.0, 20.0)), **common
        ),
        "container_crash": st.builds(ContainerCrash, at=_AT, node=node, count=st.integers(1, 3)),
    }
    chosen = [builders[k] for k in ALL_FAULT_KINDS if k in kinds]
    if not chosen:
        raise ValueError("faults() needs at least one fault kind")
    return st.one_of(chosen)


@st.composite
def fault_schedules(
    draw: st.DrawFn,
    kinds: Sequence[str] = ALL_FAULT_KINDS,
    *,
    controllers: Sequence[str] = ("replicaset",),
    node_names: Sequence[str] = ("node-0", "node-1", "node-2"),
    horizon: float = 120.0,
    max_faults: int = 4,
) -> FaultSchedule:
    """An absolute schedule of up to `max_faults` faults within `horizon` seconds."""
    items = draw(
        st.lists(
            st.tuples(
                faults(kinds, controllers=controllers, max_nodes=len(node_names)),
                st.floats(0, horizon, allow_nan=False).map(lambda t: round(t, 1)),
            ),
            max_size=max_faults,
        )
    )
    placed: list[Fault] = []
    for fault, start in items:
        update: dict[str, Any] = {"at": fault.at + start}
        node = getattr(fault, "node", None)
        if node is not None and node.startswith("#"):
            update["node"] = node_names[int(node[1:]) % len(node_names)]
        placed.append(fault.model_copy(update=update))
    return FaultSchedule(faults=tuple(sorted(placed, key=lambda f: f.at)))


# -- operations -----------------------------------------------------------------------------------

_AFTER = st.sampled_from((0.0, 0.5, 2.0, 10.0))


def operations(names: dict[str, str]) -> st.SearchStrategy[Operation]:
    """One operation on the workloads `names` (name -> kind)."""
    if not names:
        return st.builds(Wait, after=_AFTER)
    ordered = sorted(names.items())
    pick = st.sampled_from(ordered)
    return st.one_of(
        st.builds(
            lambda nk, r, a: Scale(kind=nk[1], name=nk[0], replicas=r, after=a),
            pick,
            st.integers(0, 6),
            _AFTER,
        ),
        st.builds(
            lambda nk, image, a: SetImage(kind=nk[1], name=nk[0], image=image, after=a),
            pick,
            st.sampled_from(IMAGES),
            _AFTER,
        ),
        st.builds(lambda nk, a: Delete(kind=nk[1], name=nk[0], after=a), pick, _AFTER),
        st.builds(
            lambda nk, i, a: DeletePod(owner=nk[0], index=i, after=a),
            pick,
            st.integers(0, 5),
            _AFTER,
        ),
        st.builds(Wait, after=_AFTER),
    )
