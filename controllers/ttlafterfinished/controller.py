"""The TTL-after-finished controller: deletes a finished Job (Complete or
Failed) `ttlSecondsAfterFinished` seconds after it finished (kube-controller-
manager's ttlafterfinished controller).

A Job finished at its `completionTime`, or at the last transition of its
Failed condition. Until its TTL has passed the Job is looked at again when it
will have; then it is read fresh from the API and checked once more (the
TTL may have been changed or removed since the cache saw it) and deleted
with foreground propagation and its uid as a precondition, so its pods go
first and a re-created Job of the same name is never touched.

Neighbours: the job controller (sets the conditions); the garbage
collector (carries out the foreground deletion).
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta

from engine.api import Job
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import Conflict, NotFound
from engine.informer import InformerFactory
from engine.manager import Manager

__all__ = ["TTLAfterFinishedController", "expires_at", "setup"]

_SLACK = 0.001


def expires_at(job: Job) -> datetime | None:
    """When a finished Job with a TTL is due for deletion; None otherwise."""
    ttl = job.spec.ttl_seconds_after_finished
    if ttl is None or job.metadata.deletion_timestamp is not None:
        return None
    finished: datetime | None = None
    for condition in job.status.conditions:
        if condition.status != "True":
            continue
        if condition.type == "Complete":
            finished = job.status.completion_time or condition.last_transition_time
        elif condition.type == "Failed":
            finished = condition.last_transition_time
    if finished is None:
        return None
    return finished + timedelta(seconds=ttl)


class TTLAfterFinishedController:
    def __init__(
        self, client: Client, factory: InformerFactory, clock: Clock, *, workers: int = 5
    ) -> None:
        self.client = client
        self.clock = clock
        self.jobs = factory.informer(Job)
        self.controller = Controller("ttlafterfinished", self, clock=clock, workers=workers)
        self.controller.for_kind(self.jobs)

    async def reconcile(self, request: Request) -> Result:
        job = self.jobs.cache.get(request.name, request.namespace)
        if job is None:
            return Result()
        due = expires_at(job)
        if due is None:
            return Result()
        now = self.clock.now()
        if due > now:
            return Result(requeue_after=(due - now).total_seconds() + _SLACK)
        try:
            fresh = await self.client.get(Job, request.name, namespace=request.namespace)
        except NotFound:
            return Result()
        if fresh.metadata.uid != job.metadata.uid:
            return Result()
        due = expires_at(fresh)
        if due is None:
            return Result()
        if due > now:
            return Result(requeue_after=(due - now).total_seconds() + _SLACK)
        with contextlib.suppress(NotFound, Conflict):
            await self.client.delete(
                Job,
                request.name,
                namespace=request.namespace,
                propagation_policy="Foreground",
                uid=fresh.metadata.uid,
            )
        return Result()


def setup(manager: Manager, *, workers: int = 5) -> TTLAfterFinishedController:
    """Create the TTL-after-finished controller on `manager`'s informers and add it."""
    controller = TTLAfterFinishedController(
        manager.client, manager.factory, manager.clock, workers=workers
    )
    manager.add(controller.controller)
    return controller
