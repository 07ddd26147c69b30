"""The Job controller on the virtual clock: completions and parallelism, both
completion modes, failure handling (backoffLimit with back-off, the pod
failure policy, per-index limits, deadlines), success policy, suspension,
pod replacement, tracking finalizers and node loss."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.api import Job, Pod
from engine.errors import Invalid
from runtime.cluster import Cluster
from tests.controllers.batch.support import (
    cluster,
    condition,
    job,
    job_manifest,
    pods_of,
    reasons,
    store_of,
    wait_job,
    watch_max,
)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def active(c: Cluster, name: str = "work") -> int:
    return sum(
        1
        for p in pods_of(c, name)
        if p.status.phase not in ("Succeeded", "Failed") and p.metadata.deletion_timestamp is None
    )


def three_pods(*, suspend: bool) -> str:
    return job_manifest(completions=3, parallelism=3, suspend=suspend, sim={"exit-after": "30s"})


async def test_pi_example_completes_with_one_pod() -> None:
    async with cluster() as c:
        await c.apply(EXAMPLES / "job.yaml")
        j = await wait_job(c, "pi")
        assert condition(j, "Complete") == "True"
        assert condition(j, "SuccessCriteriaMet") == "True"
        assert j.status.succeeded == 1 and j.status.failed == 0 and j.status.active == 0
        assert j.status.start_time is not None and j.status.completion_time is not None
        pods = pods_of(c, "pi")
        assert [p.status.phase for p in pods] == ["Succeeded"]
        # Counted, so the tracking finalizer is gone; the pod stays for its logs.
        assert pods[0].metadata.finalizers == []
        assert j.status.uncounted_terminated_pods is not None
        assert j.status.uncounted_terminated_pods.succeeded == []
        assert j.spec.selector is not None
        uid = j.metadata.uid
        assert j.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
        assert pods[0].metadata.labels["batch.kubernetes.io/job-name"] == "pi"
        await c.wait_for(lambda: {"SuccessfulCreate", "Completed"} <= set(reasons(c)), timeout=10)
        assert c.converged()


async def test_completions_never_run_more_than_parallelism_at_once() -> None:
    async with cluster(nodes=3) as c:
        await c.apply(job_manifest(completions=7, parallelism=3, sim={"exit-after": "10s"}))
        highest = await watch_max(c, lambda: active(c), 200)
        j = await wait_job(c)
        assert highest == 3
        assert j.status.succeeded == 7
        assert len(pods_of(c)) == 7
        assert all(p.status.phase == "Succeeded" for p in pods_of(c))


async def test_work_queue_job_finishes_when_one_pod_succeeded_and_none_runs() -> None:
    async with cluster() as c:
        await c.apply(job_manifest(parallelism=3, sim={"exit-after": "uniform(5s,20s)"}))
        j = await wait_job(c)
        assert condition(j, "Complete") == "True"
        # No completions: no pod is started after the first success.
        assert len(pods_of(c)) == 3
        assert j.status.succeeded == 3


async def test_indexed_job_gives_each_index_its_pod_hostname_and_env() -> None:
    async with cluster() as c:
        await c.apply(job_manifest(completions=5, parallelism=2, completionMode="Indexed"))
        j = await wait_job(c)
        assert j.status.completed_indexes == "0-4"
        assert j.status.succeeded == 5
        pods = pods_of(c)
        indexes = sorted(
            int(p.metadata.annotations["batch.kubernetes.io/job-completion-index"]) for p in pods
        )
        assert indexes == [0, 1, 2, 3, 4]
        for pod in pods:
            index = pod.metadata.annotations["batch.kubernetes.io/job-completion-index"]
            assert pod.metadata.labels["batch.kubernetes.io/job-completion-index"] == index
            assert pod.spec.hostname == f"work-{index}"
            assert pod.metadata.name.startswith(f"work-{index}-")
            env = {e.name: e for e in pod.spec.containers[0].env}
            source = env["JOB_COMPLETION_INDEX"].value_from
            assert source is not None and source.field_ref is not None
            assert "job-completion-index" in source.field_ref.field_path


async def test_backoff_limit_fails_the_job_after_exponential_backoff() -> None:
    async with cluster() as c:
        await c.apply(job_manifest(backoffLimit=3, sim={"exit-after": "1s", "exit-code": "1"}))
        j = await wait_job(c)
        assert condition(j, "Failed") == "True"
        assert j.status.condition("Failed").reason == "BackoffLimitExceeded"  # type: ignore[union-attr]
        assert condition(j, "FailureTarget") == "True"
        assert j.status.failed == 4 and j.status.succeeded == 0
        pods = pods_of(c)
        assert len(pods) == 4
        created = [p.metadata.creation_timestamp for p in pods]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(created)]  # type: ignore[operator]
        # 10 s, 20 s, 40 s of back-off after each failure (plus the pod's own run).
        assert [round(g) >= want for g, want in zip(gaps, (10, 20, 40))] == [True] * 3
        assert gaps[1] > gaps[0] + 5 and gaps[2] > gaps[1] + 15
        await c.wait_for(lambda: "BackoffLimitExceeded" in reasons(c), timeout=10)


async def test_pod_failure_policy_fail_job_on_exit_code() -> None:
    policy = {
        "rules": [
            {
                "action": "FailJob",
                "onExitCodes": {"containerName": "main", "operator": "In", "values": [42]},
            },
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
        ]
    }
    async with cluster() as c:
        await c.apply(
            job_manifest(
                completions=8,
                parallelism=2,
                backoffLimit=6,
                podFailurePolicy=policy,
                sim={"exit-after": "2s", "exit-code": "42"},
            )
        )
        j = await wait_job(c)
        failed = j.status.condition("Failed")
        assert failed is not None and failed.reason == "PodFailurePolicy"
        assert "exit code 42" in (failed.message or "")
        # The first failures fail the Job: no retries up to the backoff limit.
        assert len(pods_of(c)) == 2
        assert j.spec.pod_replacement_policy == "Failed"


async def test_pod_failure_policy_ignores_disruptions_and_counts_other_failures() -> None:
    policy = {
        "rules": [
            {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]},
            {"action": "Count", "onExitCodes": {"operator": "NotIn", "values": [0]}},
        ]
    }
    async with cluster(nodes=2) as c:
        await c.apply(
            job_manifest(
                completions=2,
                parallelism=2,
                backoffLimit=0,
                podFailurePolicy=policy,
                sim={"exit-after": "600s"},
            )
        )
        await c.wait_for(lambda: active(c) == 2 and all(p.spec.node_name for p in pods_of(c)))
        victim = pods_of(c)[0]
        node = victim.spec.node_name
        assert node is not None
        await c.crash_node(node)
        from engine.api.core import Node

        await c.delete(Node, node)
        j = await wait_job(c, timeout=7200)
        # The pod lost with its node got DisruptionTarget from the pod GC and
        # was ignored: backoffLimit 0 was not exceeded and it was replaced.
        assert condition(j, "Complete") == "True", j.status
        assert j.status.failed == 0 and j.status.succeeded == 2
        lost = store_of(c).try_get(Pod, victim.metadata.name, "default")
        assert lost is None
        assert len(pods_of(c)) == 2


async def test_active_deadline_fails_the_job_and_stops_its_pods() -> None:
    async with cluster() as c:
        await c.apply(
            job_manifest(
                parallelism=2, completions=2, activeDeadlineSeconds=30, sim={"exit-after": "never"}
            )
        )
        j = await wait_job(c)
        failed = j.status.condition("Failed")
        assert failed is not None and failed.reason == "DeadlineExceeded"
        assert j.status.start_time is not None and failed.last_transition_time is not None
        assert (failed.last_transition_time - j.status.start_time).total_seconds() >= 30
        assert j.status.active == 0
        assert all(
            p.status.phase in ("Succeeded", "Failed") or p.metadata.deletion_timestamp
            for p in pods_of(c)
        )
        await c.wait_for(lambda: "DeadlineExceeded" in reasons(c), timeout=10)


async def test_suspend_deletes_active_pods_and_resume_runs_to_completion() -> None:
    async with cluster() as c:
        await c.apply(
            job_manifest(completions=3, parallelism=3, suspend=True, sim={"exit-after": "30s"})
        )
        await c.wait_for(lambda: condition(job(c), "Suspended") == "True")
        assert pods_of(c) == [] and job(c).status.start_time is None
        await c.apply(
            job_manifest(completions=3, parallelism=3, suspend=False, sim={"exit-after": "30s"})
        )
        await c.wait_for(lambda: active(c) == 3)
        await c.clock.sleep(5)
        await c.apply(
            job_manifest(completions=3, parallelism=3, suspend=True, sim={"exit-after": "30s"})
        )
        await c.wait_for(lambda: active(c) == 0 and condition(job(c), "Suspended") == "True")
        suspended = job(c)
        # Pods stopped by the suspension are not failures.
        await c.clock.sleep(60)
        assert job(c).status.failed == 0 and suspended.status.succeeded == 0
        await c.apply(
            job_manifest(completions=3, parallelism=3, suspend=False, sim={"exit-after": "30s"})
        )
        j = await wait_job(c)
        assert condition(j, "Complete") == "True" and condition(j, "Suspended") == "False"
        assert j.status.succeeded == 3 and j.status.failed == 0
        await c.wait_for(lambda: {"Suspended", "Resumed"} <= set(reasons(c)), timeout=10)


async def test_success_policy_completes_an_indexed_job_early() -> None:
    policy = {"rules": [{"succeededIndexes": "0", "succeededCount": 1}]}
    async with cluster() as c:
        await c.apply(
            job_manifest(
                completions=4,
                parallelism=4,
                completionMode="Indexed",
                successPolicy=policy,
                sim={"exit-after": "5s"},
            )
        )
        j = await wait_job(c)
        met = j.status.condition("SuccessCriteriaMet")
        assert met is not None and met.reason == "SuccessPolicy"
        assert condition(j, "Complete") == "True"


async def test_parallelism_scale_down_deletes_extra_pods() -> None:
    async with cluster(nodes=3) as c:
        await c.apply(job_manifest(completions=6, parallelism=4, sim={"exit-after": "100s"}))
        await c.wait_for(lambda: active(c) == 4)
        await c.apply(job_manifest(completions=6, parallelism=1, sim={"exit-after": "100s"}))
        await c.wait_for(lambda: active(c) == 1)
        highest = await watch_max(c, lambda: active(c), 60)
        assert highest == 1


async def test_pod_replacement_policy_failed_waits_for_the_pod_to_fail() -> None:
    async with cluster() as c:
        await c.apply(
            job_manifest(
                completions=1,
                podReplacementPolicy="Failed",
                sim={"exit-after": "100s", "shutdown-after": "never"},
            )
        )
        await c.wait_for(lambda: active(c) == 1 and pods_of(c)[0].status.phase == "Running")
        first = pods_of(c)[0]
        await c.delete(Pod, first.metadata.name, "default")
        await c.clock.sleep(25)
        # Still terminating (it ignores SIGTERM; killed after the 30 s grace
        # period): no replacement yet, though the back-off would allow one.
        assert len(pods_of(c)) == 1
        assert job(c).status.terminating == 1
        replaced = lambda: any(p.metadata.name != first.metadata.name for p in pods_of(c))  # noqa: E731
        await c.wait_for(replaced, timeout=120)
        assert store_of(c).try_get(Pod, first.metadata.name, "default") is None
        j = await wait_job(c)
        assert j.status.failed == 1 and j.status.succeeded == 1


async def test_terminating_pods_are_replaced_at_once_by_default() -> None:
    async with cluster() as c:
        await c.apply(
            job_manifest(completions=1, sim={"exit-after": "100s", "shutdown-after": "20s"})
        )
        await c.wait_for(lambda: active(c) == 1 and pods_of(c)[0].status.phase == "Running")
        first = pods_of(c)[0]
        await c.delete(Pod, first.metadata.name, "default")
        # Counted as failed at once, so replaced after the first back-off (10 s)
        # while it still takes 20 s to stop.
        await c.wait_for(lambda: len(pods_of(c)) == 2, timeout=15)
        assert store_of(c).try_get(Pod, first.metadata.name, "default") is not None
        j = await wait_job(c)
        assert condition(j, "Complete") == "True"
        assert j.status.failed == 1 and j.status.succeeded == 1


async def test_ttl_after_finished_deletes_the_job_and_its_pods() -> None:
    async with cluster() as c:
        await c.apply(job_manifest(ttlSecondsAfterFinished=100))
        j = await wait_job(c)
        finished_at = j.status.completion_time
        assert finished_at is not None
        await c.clock.sleep(90)
        assert store_of(c).try_get(Job, "work", "default") is not None
        await c.wait_for(lambda: store_of(c).try_get(Job, "work", "default") is None, timeout=30)
        await c.wait_for(lambda: pods_of(c) == [], timeout=30)


async def test_node_loss_replaces_the_lost_pod_and_counts_it_failed() -> None:
    async with cluster(nodes=2) as c:
        await c.apply(job_manifest(completions=2, parallelism=2, sim={"exit-after": "900s"}))
        await c.wait_for(lambda: active(c) == 2 and all(p.spec.node_name for p in pods_of(c)))
        node = pods_of(c)[0].spec.node_name
        assert node is not None
        await c.crash_node(node)
        # Not-ready, then tainted; the pod's 300 s toleration runs out and it is
        # evicted; with TerminatingOrFailed it is replaced at once.
        j = await wait_job(c, timeout=7200)
        assert condition(j, "Complete") == "True"
        assert j.status.succeeded == 2 and j.status.failed == 1


async def test_on_failure_restarts_count_towards_the_backoff_limit() -> None:
    async with cluster() as c:
        await c.apply(
            job_manifest(
                backoffLimit=2,
                restart_policy="OnFailure",
                sim={"exit-after": "1s", "exit-code": "1"},
            )
        )
        j = await wait_job(c)
        failed = j.status.condition("Failed")
        assert failed is not None and failed.reason == "BackoffLimitExceeded"
        # One pod, restarted in place until its restarts reached the limit,
        # then deleted with the Job's failure (and counted as failed).
        assert j.status.failed == 1 and j.status.succeeded == 0
        assert pods_of(c) == []


async def test_a_jobs_template_and_completions_are_immutable() -> None:
    async with cluster(nodes=1) as c:
        await c.apply(job_manifest(completions=2, sim={"exit-after": "5s"}))
        with pytest.raises(Invalid, match=r"spec\.template"):
            await c.apply(job_manifest(completions=2, sim={"exit-after": "6s"}))
        with pytest.raises(Invalid, match=r"spec\.completions"):
            await c.apply(job_manifest(completions=3, sim={"exit-after": "5s"}))
        # Mutable: parallelism, backoffLimit, activeDeadlineSeconds, suspend, TTL.
        await c.apply(job_manifest(completions=2, parallelism=2, sim={"exit-after": "5s"}))
        assert job(c).spec.parallelism == 2


async def test_deleting_a_running_job_lets_its_pods_go() -> None:
    async with cluster() as c:
        await c.apply(job_manifest(completions=3, parallelism=3, sim={"exit-after": "60s"}))
        await c.wait_for(lambda: active(c) == 3)
        await c.delete(Job, "work", "default")
        # The garbage collector deletes the pods; their tracking finalizer
        # must not keep them once the Job is gone.
        await c.wait_for(lambda: pods_of(c) == [], timeout=120)


async def test_an_unscheduled_pod_deleted_under_replacement_policy_failed_is_replaced() -> None:
    manifest = yaml.safe_load(
        job_manifest(completions=1, podReplacementPolicy="Failed", sim={"exit-after": "5s"})
    )
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["resources"] = {"requests": {"cpu": "64"}}  # no node has that much
    async with cluster() as c:
        await c.apply(yaml.safe_dump(manifest))
        await c.wait_for(lambda: len(pods_of(c)) == 1)
        first = pods_of(c)[0]
        await c.delete(Pod, first.metadata.name, "default")
        # Never bound, so no kubelet fails it: the pod GC marks it Failed and
        # lets it go, and the Job makes a new one.
        replaced = lambda: any(p.metadata.name != first.metadata.name for p in pods_of(c))  # noqa: E731
        await c.wait_for(replaced, timeout=120)
        assert store_of(c).try_get(Pod, first.metadata.name, "default") is None
        assert job(c).status.failed == 1


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"backoffLimitPerIndex": 1, "completions": 2}, "spec.backoffLimitPerIndex"),
        (
            {"backoffLimitPerIndex": 1, "completions": 2, "completionMode": "Indexed"},
            "spec.template.spec.restartPolicy",
        ),
        (
            {"maxFailedIndexes": 1, "completions": 2, "completionMode": "Indexed"},
            "spec.backoffLimitPerIndex",
        ),
        ({"podFailurePolicy": {"rules": []}}, "spec.template.spec.restartPolicy"),
    ],
)
async def test_job_specs_kubernetes_refuses(spec: dict[str, Any], field: str) -> None:
    async with cluster(nodes=1) as c:
        with pytest.raises(Invalid, match=field.replace(".", r"\.")):
            await c.apply(job_manifest(restart_policy="OnFailure", **spec))
