"""Helpers for the Job and CronJob tests: a small virtual-clock cluster, Job
manifests with simulated container behaviour, and store readers."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import yaml

from engine.api import Job, Pod
from engine.api.core import Event
from engine.store import Store
from runtime.cluster import Cluster, ClusterConfig, ConvergenceTimeout, NodePool


@asynccontextmanager
async def cluster(nodes: int = 2, **kw: Any) -> AsyncIterator[Cluster]:
    config = ClusterConfig(node_pools=(NodePool(count=nodes),), **kw)
    async with Cluster(config) as running:
        yield running


def store_of(c: Cluster) -> Store:
    assert c.store is not None
    return c.store


def job_manifest(
    name: str = "work",
    *,
    sim: dict[str, str] | None = None,
    restart_policy: str = "Never",
    **spec: Any,
) -> str:
    """A Job whose pods behave as `sim` says (`{"exit-after": "5s"}`)."""
    annotations = {f"sim.kubeloop.io/{k}": v for k, v in (sim or {}).items()}
    doc = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {
            **spec,
            "template": {
                "metadata": {"annotations": annotations},
                "spec": {
                    "restartPolicy": restart_policy,
                    "containers": [{"name": "main", "image": "busybox:1.36"}],
                },
            },
        },
    }
    return yaml.safe_dump(doc)


def job(c: Cluster, name: str = "work") -> Job:
    found = store_of(c).try_get(Job, name, "default")
    assert found is not None, f"no Job {name}"
    return found


def pods_of(c: Cluster, name: str = "work") -> list[Pod]:
    return sorted(
        (
            p
            for p in store_of(c).objects(Pod)
            if p.metadata.labels.get("batch.kubernetes.io/job-name") == name
        ),
        key=lambda p: (p.metadata.creation_timestamp, p.metadata.name),
    )


def reasons(c: Cluster, kind: str = "Job") -> list[str]:
    return [e.reason or "" for e in store_of(c).objects(Event) if e.involved_object.kind == kind]


def condition(j: Job, kind: str) -> str | None:
    found = j.status.condition(kind)
    return None if found is None else found.status


async def wait_job(c: Cluster, name: str = "work", timeout: float = 3600) -> Job:
    """Wait until the Job is Complete or Failed."""

    def finished() -> bool:
        j = store_of(c).try_get(Job, name, "default")
        return j is not None and j.is_finished

    await c.wait_for(finished, timeout=timeout, what=f"job {name} finished")
    return job(c, name)


async def watch_max(c: Cluster, measure: Callable[[], int], seconds: float) -> int:
    """The largest value `measure()` takes, sampled after every store write for `seconds`."""
    highest = measure()

    def record() -> bool:
        nonlocal highest
        highest = max(highest, measure())
        return False

    with contextlib.suppress(ConvergenceTimeout):
        await c.wait_for(record, timeout=seconds)
    return highest
