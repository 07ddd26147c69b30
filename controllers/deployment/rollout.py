"""Rollout operations on a Deployment, as `kubectl rollout` performs them
through the API: undo (roll back to a revision), pause, resume, and status
(wait until a rollout completes).

* `rollback(client, name, to_revision=0)` finds the ReplicaSet numbered
  `to_revision` (0: the one before the current) and writes its template,
  without the pod-template-hash label, back into the Deployment, with its
  annotations. The controller then sees the old template as new again and
  makes that ReplicaSet current under the next revision number. A paused
  Deployment cannot be rolled back; a template that already matches is skipped.
* `pause` / `resume` set `spec.paused`.
* `rollout_status(client, name)` returns once the rollout is complete, with
  kubectl's message, and raises `RolloutFailed` when the Deployment reports
  ProgressDeadlineExceeded (or is deleted, or runs another revision than the
  one asked for). It watches the Deployment; it never polls. Time limits are
  the caller's (`anyio.fail_after`, virtual on a VirtualClock).

Neighbours: `controllers.deployment.revisions` (revision numbers, template
comparison), `controllers.deployment.conditions`; the Cluster facade and the
CLI expose these.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

from controllers.deployment import conditions as cond
from controllers.deployment.revisions import (
    ANNOTATIONS_NOT_COPIED,
    POD_TEMPLATE_HASH_LABEL,
    equal_ignore_hash,
)
from controllers.deployment.revisions import revision as revision_number
from engine.api import Deployment, ReplicaSet
from engine.client import Client
from engine.errors import Conflict, Gone
from engine.watch import DELETED

__all__ = [
    "RolloutFailed",
    "deployment_rollout_status",
    "pause",
    "resume",
    "rollback",
    "rollout_status",
]

_CONFLICT_RETRIES: Final = 5


class RolloutFailed(Exception):
    """A rollout operation cannot succeed (kubectl's error, as its message)."""


async def _edit(
    client: Client,
    name: str,
    namespace: str | None,
    change: Callable[[Deployment], Deployment | None],
) -> Deployment:
    """Read, change and write a Deployment, retrying on conflicts. `change`
    returns None when nothing needs writing."""
    for attempt in range(_CONFLICT_RETRIES):
        d = await client.get(Deployment, name, namespace=namespace)
        changed = change(d)
        if changed is None:
            return d
        try:
            return await client.update(changed)
        except Conflict:
            if attempt == _CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


async def pause(client: Client, name: str, *, namespace: str | None = None) -> Deployment:
    """`kubectl rollout pause`: stop rolling out template changes."""

    def change(d: Deployment) -> Deployment:
        if d.spec.paused:
            raise RolloutFailed(f'deployment "{name}" is already paused')
        return d.model_copy(update={"spec": d.spec.model_copy(update={"paused": True})})

    return await _edit(client, name, namespace, change)


async def resume(client: Client, name: str, *, namespace: str | None = None) -> Deployment:
    """`kubectl rollout resume`: continue rolling out."""

    def change(d: Deployment) -> Deployment:
        if not d.spec.paused:
            raise RolloutFailed(f'deployment "{name}" is not paused')
        return d.model_copy(update={"spec": d.spec.model_copy(update={"paused": None})})

    return await _edit(client, name, namespace, change)


async def rollback(
    client: Client, name: str, *, namespace: str | None = None, to_revision: int = 0
) -> str:
    """`kubectl rollout undo [--to-revision=N]`. Returns kubectl's message
    ("rolled back", or why it was skipped); raises RolloutFailed."""
    if to_revision < 0:
        raise RolloutFailed(f"unable to find specified revision {to_revision} in history")

    async def target(d: Deployment) -> ReplicaSet:
        listing = await client.list(ReplicaSet, namespace=d.metadata.namespace)
        owned = [
            rs
            for rs in listing.items
            if (ref := rs.metadata.controller_ref()) is not None and ref.uid == d.metadata.uid
        ]
        return _revision_to_restore(d, owned, to_revision)

    for attempt in range(_CONFLICT_RETRIES):
        d = await client.get(Deployment, name, namespace=namespace)
        rs = await target(d)
        if d.spec.paused:
            raise RolloutFailed(
                "you cannot rollback a paused deployment; resume it first with "
                "'kubectl rollout resume' and try again"
            )
        if equal_ignore_hash(rs.spec.template, d.spec.template):
            number = revision_number(rs)
            return f"skipped rollback (current template already matches revision {number})"
        template_meta = rs.spec.template.metadata
        labels = {k: v for k, v in template_meta.labels.items() if k != POD_TEMPLATE_HASH_LABEL}
        template = rs.spec.template.model_copy(
            update={"metadata": template_meta.model_copy(update={"labels": labels})}
        )
        annotations = {
            k: v for k, v in d.metadata.annotations.items() if k in ANNOTATIONS_NOT_COPIED
        }
        annotations.update(
            {k: v for k, v in rs.metadata.annotations.items() if k not in ANNOTATIONS_NOT_COPIED}
        )
        restored = d.model_copy(
            update={
                "metadata": d.metadata.model_copy(update={"annotations": annotations}),
                "spec": d.spec.model_copy(update={"template": template}),
            }
        )
        try:
            await client.update(restored)
            return "rolled back"
        except Conflict:
            if attempt == _CONFLICT_RETRIES - 1:
                raise
    raise AssertionError("unreachable")


def _revision_to_restore(d: Deployment, owned: list[ReplicaSet], to_revision: int) -> ReplicaSet:
    latest: tuple[int, ReplicaSet] | None = None
    previous: tuple[int, ReplicaSet] | None = None
    for rs in owned:
        number = revision_number(rs)
        if number is None:
            continue
        if to_revision > 0:
            if number == to_revision:
                return rs
            continue
        if latest is None or latest[0] < number:
            previous, latest = latest, (number, rs)
        elif previous is None or previous[0] < number:
            previous = (number, rs)
    if to_revision > 0:
        raise RolloutFailed(f"unable to find specified revision {to_revision} in history")
    if previous is None:
        raise RolloutFailed(f'no rollout history found for deployment "{d.metadata.name}"')
    return previous[1]


def deployment_rollout_status(d: Deployment, revision_wanted: int = 0) -> tuple[str, bool]:
    """kubectl's DeploymentStatusViewer: (message, done) for one observation;
    raises RolloutFailed for a rollout that cannot complete."""
    name = d.metadata.name
    if revision_wanted > 0:
        running = revision_number(d)
        if running != revision_wanted:
            raise RolloutFailed(
                f"desired revision ({revision_wanted}) is different from the running "
                f"revision ({running})"
            )
    status = d.status
    if d.metadata.generation > status.observed_generation:
        return "Waiting for deployment spec update to be observed...", False
    progressing = status.condition(cond.PROGRESSING)
    if progressing is not None and progressing.reason == cond.TIMED_OUT:
        raise RolloutFailed(f'deployment "{name}" exceeded its progress deadline')
    wanted = d.spec.replicas
    prefix = f'Waiting for deployment "{name}" rollout to finish: '
    if status.updated_replicas < wanted:
        return (
            f"{prefix}{status.updated_replicas} out of {wanted} new replicas have been updated...",
            False,
        )
    if status.replicas > status.updated_replicas:
        old = status.replicas - status.updated_replicas
        return f"{prefix}{old} old replicas are pending termination...", False
    if status.available_replicas < status.updated_replicas:
        available, updated = status.available_replicas, status.updated_replicas
        return f"{prefix}{available} of {updated} updated replicas are available...", False
    return f'deployment "{name}" successfully rolled out', True


async def rollout_status(
    client: Client,
    name: str,
    *,
    namespace: str | None = None,
    revision: int = 0,
    on_progress: Callable[[str], Awaitable[None] | None] | None = None,
) -> str:
    """`kubectl rollout status deployment/NAME`: wait (watching the Deployment)
    until its rollout is complete and return the final message. `on_progress`
    receives each intermediate message."""
    selector = f"metadata.name={name}"
    while True:
        d = await client.get(Deployment, name, namespace=namespace)
        message, done = deployment_rollout_status(d, revision)
        if done:
            return message
        await _report(on_progress, message)
        try:
            watcher = await client.watch(
                Deployment,
                namespace=d.metadata.namespace,
                field_selector=selector,
                since=int(d.metadata.resource_version),
            )
        except Gone:
            continue
        try:
            while True:
                for event in await watcher.next_batch():
                    if event.object is None:
                        continue  # a bookmark
                    if event.type == DELETED:
                        raise RolloutFailed("object has been deleted")
                    message, done = deployment_rollout_status(event.object, revision)
                    if done:
                        return message
                    await _report(on_progress, message)
        except (Gone, StopAsyncIteration):
            continue  # cut off: read again and resume
        finally:
            watcher.stop()


async def _report(
    on_progress: Callable[[str], Awaitable[None] | None] | None, message: str
) -> None:
    if on_progress is None:
        return
    result = on_progress(message)
    if result is not None:
        await result
