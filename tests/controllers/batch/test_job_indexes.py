"""Per-index failure handling of Indexed Jobs (backoffLimitPerIndex,
maxFailedIndexes, FailIndex) on simulated nodes, and Jobs whose pods are real
processes (the `pi` example with a Python one-liner; an index that fails by
its exit code)."""

from __future__ import annotations

import sys
import time

import yaml

from tests.controllers.batch.support import (
    cluster,
    condition,
    job_manifest,
    pods_of,
    wait_job,
)

PI_JOB = {
    "apiVersion": "batch/v1",
    "kind": "Job",
    "metadata": {"name": "pi"},
    "spec": {
        "backoffLimit": 4,
        "template": {
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "pi",
                        "image": "python",
                        # perl -Mbignum=bpi -wle 'print bpi(2000)', in Python.
                        "command": [
                            sys.executable,
                            "-c",
                            "from decimal import Decimal as D, getcontext as g; g().prec=60; "
                            "print(sum(D(1)/16**k*(D(4)/(8*k+1)-D(2)/(8*k+4)-D(1)/(8*k+5)"
                            "-D(1)/(8*k+6)) for k in range(60)))",
                        ],
                    }
                ],
            }
        },
    },
}


async def test_backoff_limit_per_index_retries_each_index_then_fails_it() -> None:
    async with cluster() as c:
        await c.apply(
            job_manifest(
                completions=3,
                parallelism=3,
                completionMode="Indexed",
                backoffLimitPerIndex=1,
                sim={"exit-after": "1s", "exit-code": "3"},
            )
        )
        j = await wait_job(c)
        failed = j.status.condition("Failed")
        assert failed is not None and failed.reason == "FailedIndexes"
        assert j.status.failed_indexes == "0-2"
        assert j.status.failed == 6
        counts = sorted(
            (
                p.metadata.annotations["batch.kubernetes.io/job-completion-index"],
                p.metadata.annotations["batch.kubernetes.io/job-index-failure-count"],
            )
            for p in pods_of(c)
        )
        # Each index ran twice: once fresh, once more after its first failure.
        assert counts == [("0", "0"), ("0", "1"), ("1", "0"), ("1", "1"), ("2", "0"), ("2", "1")]


async def test_max_failed_indexes_fails_the_job_early() -> None:
    async with cluster() as c:
        await c.apply(
            job_manifest(
                completions=10,
                parallelism=2,
                completionMode="Indexed",
                backoffLimitPerIndex=0,
                maxFailedIndexes=1,
                sim={"exit-after": "1s", "exit-code": "3"},
            )
        )
        j = await wait_job(c)
        failed = j.status.condition("Failed")
        assert failed is not None and failed.reason == "MaxFailedIndexesExceeded"
        assert j.status.failed_indexes == "0-1"
        assert len(pods_of(c)) == 2


async def test_pi_job_runs_as_a_real_process() -> None:
    started = time.monotonic()
    async with cluster(nodes=1, runtime="process", virtual_time=False) as c:
        await c.apply(yaml.safe_dump(PI_JOB))
        j = await wait_job(c, "pi", timeout=60)
        assert condition(j, "Complete") == "True"
        assert j.status.succeeded == 1
        pod = pods_of(c, "pi")[0]
        terminated = pod.status.container_statuses[0].state.terminated
        assert terminated is not None and terminated.exit_code == 0
        assert terminated.reason == "Completed"
    assert time.monotonic() - started < 60


async def test_fail_index_rule_fails_one_index_by_its_exit_code() -> None:
    script = "import os, sys; sys.exit(42 if os.environ['JOB_COMPLETION_INDEX'] == '1' else 0)"
    manifest = yaml.safe_load(
        job_manifest(
            completions=3,
            parallelism=3,
            completionMode="Indexed",
            backoffLimitPerIndex=1,
            podFailurePolicy={
                "rules": [
                    {"action": "FailIndex", "onExitCodes": {"operator": "In", "values": [42]}}
                ]
            },
        )
    )
    manifest["spec"]["template"]["spec"]["containers"][0]["command"] = [
        sys.executable,
        "-c",
        script,
    ]
    async with cluster(nodes=1, runtime="process", virtual_time=False) as c:
        await c.apply(yaml.safe_dump(manifest))
        j = await wait_job(c, timeout=60)
        failed = j.status.condition("Failed")
        assert failed is not None and failed.reason == "FailedIndexes"
        assert j.status.completed_indexes == "0,2"
        assert j.status.failed_indexes == "1"
        # FailIndex: no retry of index 1 despite backoffLimitPerIndex 1.
        assert len(pods_of(c)) == 3
