"""The CronJob controller on the virtual clock: the `hello` example, history
limits, concurrency policies, starting deadlines, the missed start times
rule, suspension, time zones and schedule validation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from engine.api import CronJob, Job
from engine.errors import Invalid
from runtime.cluster import Cluster
from tests.controllers.batch.support import cluster, reasons, store_of, watch_max

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def cronjob_manifest(
    name: str = "tick",
    schedule: str = "* * * * *",
    *,
    run: str = "1s",
    exit_code: int = 0,
    **spec: Any,
) -> str:
    annotations = {"sim.kubeloop.io/exit-after": run, "sim.kubeloop.io/exit-code": str(exit_code)}
    return yaml.safe_dump(
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": name},
            "spec": {
                "schedule": schedule,
                **spec,
                "jobTemplate": {
                    "spec": {
                        "backoffLimit": 0,
                        "template": {
                            "metadata": {"annotations": annotations},
                            "spec": {
                                "restartPolicy": "Never",
                                "containers": [{"name": "main", "image": "busybox:1.36"}],
                            },
                        },
                    }
                },
            },
        }
    )


def jobs(c: Cluster) -> list[Job]:
    return sorted(store_of(c).objects(Job), key=lambda j: j.metadata.name)


def running(c: Cluster) -> int:
    return sum(1 for j in jobs(c) if not j.is_finished and j.metadata.deletion_timestamp is None)


def cronjob(c: Cluster, name: str = "tick") -> CronJob:
    found = store_of(c).try_get(CronJob, name, "default")
    assert found is not None
    return found


async def test_hello_example_runs_every_minute_and_keeps_three_jobs() -> None:
    async with cluster() as c:
        await c.apply(EXAMPLES / "cronjob.yaml")
        start = c.clock.now()
        await c.clock.sleep(5 * 60 + 30)
        cj = cronjob(c, "hello")
        names = [j.metadata.name for j in jobs(c)]
        minutes = int(start.timestamp()) // 60
        assert names == [f"hello-{minutes + n}" for n in (3, 4, 5)]
        assert all(j.is_finished and j.status.succeeded == 1 for j in jobs(c))
        assert cj.status.last_schedule_time == start + timedelta(minutes=5)
        assert cj.status.last_successful_time is not None
        assert cj.status.last_successful_time > start + timedelta(minutes=5)
        assert cj.status.active == []
        stamp = jobs(c)[-1].metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        assert stamp == (start + timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
        await c.wait_for(
            lambda: (
                {"SuccessfulCreate", "SawCompletedJob", "SuccessfulDelete"}
                <= set(reasons(c, "CronJob"))
            ),
            timeout=10,
        )
        assert c.converged()


async def test_failed_jobs_history_limit_keeps_one() -> None:
    async with cluster() as c:
        await c.apply(cronjob_manifest(exit_code=1))
        await c.clock.sleep(4 * 60 + 30)
        finished = [j for j in jobs(c) if j.is_finished]
        assert len(finished) == 1
        assert finished[0].status.condition("Failed") is not None
        assert cronjob(c).status.last_successful_time is None


async def test_forbid_never_runs_two_jobs_at_once() -> None:
    async with cluster() as c:
        await c.apply(cronjob_manifest(run="150s", concurrencyPolicy="Forbid"))
        highest = await watch_max(c, lambda: running(c), 10 * 60)
        assert highest == 1
        await c.wait_for(lambda: "JobAlreadyActive" in reasons(c, "CronJob"), timeout=10)
        # Starts at 1, 4, 7 and 10 minutes: each skipped minute is not made up.
        created = [j for j in jobs(c) if j.status.start_time is not None]
        assert len(created) >= 3


async def test_replace_stops_the_running_job_for_the_new_one() -> None:
    async with cluster() as c:
        await c.apply(cronjob_manifest(run="150s", concurrencyPolicy="Replace"))
        highest = await watch_max(c, lambda: running(c), 5 * 60 + 30)
        assert highest == 1
        cj = cronjob(c)
        assert len(cj.status.active) == 1
        assert cj.status.active[0].name == jobs(c)[-1].metadata.name


async def test_allow_runs_jobs_side_by_side() -> None:
    async with cluster() as c:
        await c.apply(cronjob_manifest(run="150s"))
        highest = await watch_max(c, lambda: running(c), 5 * 60 + 30)
        assert highest == 3


async def test_suspend_stops_new_jobs_and_a_missed_start_is_skipped_past_its_deadline() -> None:
    async with cluster() as c:
        await c.apply(cronjob_manifest(startingDeadlineSeconds=20, suspend=True))
        await c.clock.sleep(150)
        assert jobs(c) == []
        await c.apply(cronjob_manifest(startingDeadlineSeconds=20, suspend=False))
        await c.clock.sleep(5)
        # The start at 2 minutes is 35 s old: past its 20 s deadline.
        assert jobs(c) == []
        await c.clock.sleep(30)
        assert len(jobs(c)) == 1


async def test_too_many_missed_start_times_start_nothing() -> None:
    async with cluster() as c:
        await c.apply(cronjob_manifest(suspend=True))
        await c.clock.sleep(3 * 3600)
        await c.apply(cronjob_manifest(suspend=False))
        await c.wait_for(lambda: "TooManyMissedTimes" in reasons(c, "CronJob"), timeout=10)
        assert jobs(c) == []
        # A starting deadline bounds the look-back, and the schedule runs again.
        await c.apply(cronjob_manifest(suspend=False, startingDeadlineSeconds=200))
        await c.wait_for(lambda: len(jobs(c)) == 1, timeout=60)


async def test_time_zone_moves_the_start_times() -> None:
    async with cluster() as c:
        await c.apply(cronjob_manifest(schedule="0 9 * * *", timeZone="Asia/Tokyo"))
        await c.wait_for(lambda: len(jobs(c)) == 1, timeout=2 * 86400)
        stamp = jobs(c)[0].metadata.annotations["batch.kubernetes.io/cronjob-scheduled-timestamp"]
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        assert at.astimezone(UTC).hour == 0  # 09:00 in Tokyo
        assert at.minute == 0


@pytest.mark.parametrize(
    ("schedule", "zone", "field"),
    [
        ("TZ=UTC 0 * * * *", None, "spec.schedule"),
        ("@every 1h", None, "spec.schedule"),
        ("0 0 L * *", None, "spec.schedule"),
        ("0 0 * * * *", None, "spec.schedule"),
        ("61 * * * *", None, "spec.schedule"),
        ("@hourly", "Mars/Olympus_Mons", "spec.timeZone"),
    ],
)
async def test_schedules_kubernetes_refuses_are_refused(
    schedule: str, zone: str | None, field: str
) -> None:
    extra: dict[str, Any] = {"timeZone": zone} if zone else {}
    async with cluster(nodes=1) as c:
        with pytest.raises(Invalid, match=field.replace(".", r"\.")):
            await c.apply(cronjob_manifest(schedule=schedule, **extra))


@pytest.mark.parametrize(
    "schedule", ["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"]
)
async def test_descriptors_are_accepted(schedule: str) -> None:
    async with cluster(nodes=1) as c:
        await c.apply(cronjob_manifest(schedule=schedule))
        assert cronjob(c).spec.schedule == schedule
