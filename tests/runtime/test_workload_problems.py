"""Nothing reports success for work nothing does: a workload whose kind no
running controller drives, and pods that can never start (unschedulable,
CrashLoopBackOff, a missing ConfigMap), show in the progress table, in the
summary (text and JSON) with their reasons, and make `kubeloop run` exit 1."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from engine.api.apps import ReplicaSet
from engine.api.core import Pod
from runtime.cli import main
from runtime.cluster import ALL_CONTROLLERS, Cluster, ClusterConfig, NodePool
from runtime.cluster.workloads import WORKLOAD_CONTROLLERS, undriven_reason
from runtime.progress import ProgressView

EXAMPLES = Path(__file__).parents[2] / "examples"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", *args, "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


REPLICASET = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx}]
"""


def test_a_disabled_controller_leaves_its_kind_undriven() -> None:
    config = ClusterConfig(
        node_pools=(NodePool(count=1),),
        controllers=tuple(c for c in ALL_CONTROLLERS if c != "replicaset"),
    )

    async def main() -> tuple[bool, list[str], list[str]]:
        async with Cluster(config) as cluster:
            await cluster.apply(REPLICASET)
            await cluster.clock.sleep(30)
            problems = [str(p) for p in cluster.problems()]
            return cluster.converged(), cluster.unconverged(), problems

    converged, left, problems = asyncio.run(main())
    why = "the replicaset controller does not run in this cluster (left out of its config)"
    assert not converged
    assert left == [f"ReplicaSet default/web: {why}"]
    assert problems == [f"ReplicaSet default/web: {why}"]


def test_every_workload_kind_is_driven_once_its_controller_runs() -> None:
    # Data-driven: a kind flips to driven when its controller runs, nothing else.
    for kind, controller in WORKLOAD_CONTROLLERS.items():
        assert undriven_reason(kind, (controller,), ()) is None
        assert undriven_reason(kind, (), ()) is not None
    assert undriven_reason(ReplicaSet, ALL_CONTROLLERS, ALL_CONTROLLERS) is None


def test_unschedulable_pods_are_named_with_the_schedulers_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(REPLICASET.replace("image: nginx", "image: nginx, " + BIG))
    code, summary = run_json(capsys, str(manifest), "--nodes", "2", "--timeout", "30")
    assert code == 1
    assert summary["pods"]["unschedulable"] == 2
    [problem] = summary["problems"]
    assert problem["kind"] == "ReplicaSet" and problem["name"] == "web"
    assert problem["pods"] == 2
    assert problem["reason"].startswith(
        "Unschedulable: 0/2 nodes are available: 2 Insufficient cpu."
    )


BIG = "resources: {requests: {cpu: '100'}}"


def test_a_standalone_pod_no_node_fits_is_not_a_clean_success(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: big}\n"
        f"spec: {{containers: [{{name: c, image: nginx, {BIG}}}]}}\n"
    )
    code, summary = run_json(capsys, str(manifest), "--nodes", "1")
    # Settled (nothing in the cluster can place it), but not a success.
    assert summary["converged"] is True
    assert code == 1 and summary["ok"] is False
    assert [(p["kind"], p["name"]) for p in summary["problems"]] == [("Pod", "big")]


def test_crash_looping_pods_show_the_containers_last_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "rs.yaml"
    crashing = REPLICASET.replace(
        "metadata: {labels: {app: web}}",
        "metadata:\n      labels: {app: web}\n      annotations:\n"
        "        sim.kubeloop.io/ready-after: 5s\n"
        "        sim.kubeloop.io/exit-after: 1s\n"
        "        sim.kubeloop.io/exit-code: '3'",
    )
    # Not ready before its first exit (probed), so never converged in between.
    probe = "readinessProbe: {exec: {command: ['true']}, periodSeconds: 1}"
    manifest.write_text(crashing.replace("image: nginx", f"image: nginx, {probe}"))
    code, summary = run_json(capsys, str(manifest), "--timeout", "120")
    assert code == 1
    [problem] = summary["problems"]
    assert problem["pods"] == 2
    assert problem["reason"] == (
        "container nginx: CrashLoopBackOff (last exit: Error, exit code 3)"
    )


def test_a_missing_configmap_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(
        REPLICASET.replace(
            "image: nginx", "image: nginx, envFrom: [{configMapRef: {name: settings}}]"
        )
    )
    code, summary = run_json(capsys, str(manifest), "--timeout", "60")
    assert code == 1
    [problem] = summary["problems"]
    assert problem["reason"].startswith("container nginx: CreateContainerConfigError: ")
    assert "settings" in problem["reason"]


def test_a_missing_secret_volume_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(
        REPLICASET.replace(
            "containers: [{name: nginx, image: nginx}]",
            "containers: [{name: nginx, image: nginx}]\n"
            "      volumes: [{name: creds, secret: {secretName: token}}]",
        )
    )
    code, summary = run_json(capsys, str(manifest), "--timeout", "60")
    assert code == 1
    [problem] = summary["problems"]
    assert problem["pods"] == 2
    assert problem["reason"] == (
        'FailedMount: MountVolume.SetUp failed for volume "creds" : secret "token" not found'
    )


def test_the_progress_table_shows_problems() -> None:
    async def render() -> str:
        # The cronjob controller left out: its CronJobs are nobody's work.
        controllers = tuple(c for c in ALL_CONTROLLERS if c != "cronjob")
        config = ClusterConfig(node_pools=(NodePool(count=1),), controllers=controllers)
        async with Cluster(config) as cluster:
            await cluster.apply((EXAMPLES / "cronjob.yaml").read_text())
            console = Console(width=200, record=True)
            console.print(ProgressView(cluster, enabled=False).render())
            return console.export_text()

    text = asyncio.run(render())
    assert "CronJob default/hello" in text
    assert "the cronjob controller does not run in this cluster" in text


def test_a_clean_run_still_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(REPLICASET)
    code, summary = run_json(capsys, str(manifest))
    assert code == 0 and summary["ok"] is True and summary["problems"] == []
    assert summary["workloads"] == [
        {
            "kind": "ReplicaSet",
            "namespace": "default",
            "name": "web",
            "desired": 2,
            "scheduled": 2,
            "running": 2,
            "ready": 2,
            "problems": [],
        }
    ]


def test_a_simulation_judges_the_kinds_its_hosted_controllers_drive() -> None:
    import yaml

    from runtime.simulation import Apply, Simulation, SimulationConfig

    async def main() -> tuple[list[str], bool]:
        async with Simulation(SimulationConfig(seed=1)) as sim:
            await sim.step(Apply(manifest=yaml.safe_load(REPLICASET)))
            await sim.run_until_quiescent()
            return [str(p) for p in sim.cluster.problems()], sim.cluster.converged()

    assert asyncio.run(main()) == ([], True)


def test_a_rollout_past_its_progress_deadline_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(
        REPLICASET.replace("kind: ReplicaSet", "kind: Deployment")
        .replace("spec:\n  replicas: 2", "spec:\n  progressDeadlineSeconds: 20\n  replicas: 2")
        .replace("image: nginx", "image: nginx, " + BIG)
    )
    code, summary = run_json(capsys, str(manifest), "--nodes", "1", "--timeout", "120")
    assert code == 1
    reasons = [p["reason"] for p in summary["problems"] if p["kind"] == "Deployment"]
    assert reasons[0].startswith("ProgressDeadlineExceeded: ")
    assert reasons[1].startswith("Unschedulable: ")


QUOTA = """\
apiVersion: v1
kind: ResourceQuota
metadata: {name: two-pods}
spec: {hard: {pods: "2"}}
"""


@pytest.mark.parametrize("kind", ["ReplicaSet", "Deployment", "ReplicationController"])
def test_pods_refused_by_admission_are_named_with_the_replica_failure(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    workload = REPLICASET.replace("kind: ReplicaSet", f"kind: {kind}").replace(
        "replicas: 2", "replicas: 3"
    )
    if kind == "ReplicationController":
        workload = workload.replace("apiVersion: apps/v1", "apiVersion: v1").replace(
            "selector: {matchLabels: {app: web}}", "selector: {app: web}"
        )
    manifest = tmp_path / "quota.yaml"
    manifest.write_text(QUOTA + "---\n" + workload)
    code, summary = run_json(capsys, str(manifest), "--timeout", "60")
    assert code == 1
    [problem] = [p for p in summary["problems"] if p["kind"] == kind]
    reason = problem["reason"]
    assert reason.startswith('ReplicaFailure: FailedCreate: pods "web-'), reason
    assert reason.endswith(
        '" is forbidden: exceeded quota: two-pods, requested: pods=1, used: pods=2, limited: pods=2'
    )


def test_a_pod_for_a_scheduler_that_does_not_run_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The docs' multiple-schedulers example: a pod naming `my-scheduler` stays
    Pending until that scheduler is deployed; kubeloop runs only
    default-scheduler, so the run says so instead of timing out silently."""
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: Pod\nmetadata: {name: second}\n"
        "spec: {schedulerName: my-scheduler, containers: [{name: c, image: pause}]}\n"
    )
    code, summary = run_json(capsys, str(manifest), "--timeout", "30")
    assert code == 1
    [problem] = summary["problems"]
    assert (problem["kind"], problem["name"]) == ("Pod", "second")
    assert problem["reason"] == (
        'no scheduler named "my-scheduler" runs in this cluster (only default-scheduler)'
    )


GATED_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: held}
spec:
  schedulingGates: [{name: example.com/foo}, {name: example.com/bar}]
  containers: [{name: pause, image: registry.k8s.io/pause:3.6}]
"""


def test_a_pod_held_by_scheduling_gates_is_settled_and_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The docs' scheduling-gates example: the pod stays Pending with
    PodScheduled=False, reason SchedulingGated, until something removes its
    gates. That is not work the cluster has left (the run does not wait for
    it), but nothing will start it either, so the run names it."""
    manifest = tmp_path / "pod.yaml"
    manifest.write_text(GATED_POD)
    code, summary = run_json(capsys, str(manifest), "--timeout", "60")
    assert summary["converged"] is True and summary["ended"] == "converged"
    assert code == 1 and summary["ok"] is False
    [problem] = summary["problems"]
    assert (problem["kind"], problem["name"], problem["pods"]) == ("Pod", "held", 1)
    assert problem["reason"] == (
        "SchedulingGated: waiting for its scheduling gates example.com/foo, example.com/bar"
        " to be removed"
    )


def test_a_gated_pod_runs_once_its_gates_are_removed() -> None:
    async def main() -> tuple[bool, list[str], str]:
        async with Cluster(ClusterConfig(node_pools=(NodePool(count=1),))) as cluster:
            await cluster.apply(GATED_POD)
            await cluster.wait_converged(timeout=30)
            gated = cluster.converged(), [str(p) for p in cluster.problems()]
            await cluster.apply(
                GATED_POD.replace(
                    "  schedulingGates: [{name: example.com/foo}, {name: example.com/bar}]\n", ""
                )
            )
            await cluster.wait_converged(timeout=60)
            pod = await cluster.get(Pod, "held")
            assert not cluster.problems()
            return gated[0], gated[1], pod.status.phase or ""

    converged, problems, phase = asyncio.run(main())
    assert converged and problems == [
        "Pod default/held: 1 pod(s) SchedulingGated: waiting for its scheduling gates"
        " example.com/foo, example.com/bar to be removed"
    ]
    assert phase == "Running"


AGENT_SPEC = """\
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      serviceAccountName: agent
      containers: [{name: agent, image: agent}]
"""
DAEMONSET = "apiVersion: apps/v1\nkind: DaemonSet\nmetadata: {name: agent}\nspec:\n" + AGENT_SPEC
STATEFULSET = (
    "apiVersion: apps/v1\nkind: StatefulSet\nmetadata: {name: agent}\n"
    "spec:\n  replicas: 2\n  serviceName: agent\n" + AGENT_SPEC
)
JOB = """\
apiVersion: batch/v1
kind: Job
metadata: {name: agent}
spec:
  template:
    spec:
      restartPolicy: Never
      serviceAccountName: agent
      containers: [{name: agent, image: agent}]
"""
SERVICE_ACCOUNT = "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: agent}\n"


@pytest.mark.parametrize("workload", [DAEMONSET, STATEFULSET, JOB], ids=["ds", "sts", "job"])
def test_pods_refused_by_admission_are_named_with_the_failed_create_event(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workload: str
) -> None:
    """The konnectivity example: a DaemonSet (or StatefulSet, or Job) whose
    ServiceAccount another file makes. Its controller cannot create the pods
    and says so only in FailedCreate events (these kinds have no
    ReplicaFailure condition); the run names that reason instead of timing
    out with none."""
    manifest = tmp_path / "workload.yaml"
    manifest.write_text(workload)
    code, summary = run_json(capsys, str(manifest), "--nodes", "2", "--timeout", "60")
    assert code == 1
    [problem] = summary["problems"]
    assert problem["name"] == "agent"
    assert problem["reason"].startswith("FailedCreate: "), problem
    assert 'pods "agent-' in problem["reason"], problem
    assert problem["reason"].endswith(
        "is forbidden: error looking up service account default/agent: "
        'serviceaccount "agent" not found'
    ), problem


@pytest.mark.parametrize("workload", [DAEMONSET, STATEFULSET, JOB], ids=["ds", "sts", "job"])
def test_a_failed_create_clears_once_the_pods_are_made(workload: str) -> None:
    async def main() -> tuple[list[str], list[str]]:
        async with Cluster(ClusterConfig(node_pools=(NodePool(count=2),))) as cluster:
            await cluster.apply(workload)
            await cluster.clock.sleep(20)
            before = [str(p) for p in cluster.problems()]
            await cluster.apply(SERVICE_ACCOUNT)
            await cluster.wait_converged(timeout=600)
            return before, [str(p) for p in cluster.problems()]

    before, after = asyncio.run(main())
    assert len(before) == 1 and "FailedCreate: " in before[0]
    assert after == []


CLAIMING_POD = """\
apiVersion: resource.k8s.io/v1
kind: ResourceClaim
metadata: {name: gpu}
spec:
  devices:
    requests: [{name: gpu, exactly: {deviceClassName: gpu.example.com}}]
---
apiVersion: v1
kind: Pod
metadata: {name: trainer}
spec:
  resourceClaims: [{name: gpu, resourceClaimName: gpu}]
  containers:
  - name: train
    image: trainer
    resources: {claims: [{name: gpu}]}
"""


def test_a_pod_claiming_devices_waits_for_an_allocation_no_node_can_give(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The docs' DRA examples: a pod with resource claims is placed only where
    its claims can be allocated. kubeloop's nodes run no DRA driver and
    publish no devices, so, as in a cluster without the driver, the pod stays
    Pending, unschedulable, with the scheduler's reason, instead of running
    without its device."""
    manifest = tmp_path / "claim.yaml"
    manifest.write_text(CLAIMING_POD)
    code, summary = run_json(capsys, str(manifest), "--nodes", "2", "--timeout", "60")
    assert code == 1
    assert summary["pods"]["running"] == 0 and summary["pods"]["unschedulable"] == 1
    [problem] = summary["problems"]
    assert (problem["kind"], problem["name"]) == ("Pod", "trainer")
    assert problem["reason"].startswith(
        "Unschedulable: 0/2 nodes are available: cannot allocate all claims."
    ), problem
