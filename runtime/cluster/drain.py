"""`kubectl drain NODE --ignore-daemonsets --force` on a cluster.

1. Cordon: the node is marked `spec.unschedulable`.
2. Every pod bound to the node is evicted (`Client.evict`, honouring
   PodDisruptionBudgets and the pod's own grace period, or
   `grace_period_seconds`), except DaemonSet pods (their controller would put
   them back; `--ignore-daemonsets`) and mirror pods (the kubelet owns them).
   Pods without a controller are evicted too, as `--force` allows; pass
   `force=False` to refuse (kubectl's default), which names them.
3. An eviction refused with 429 TooManyRequests (a budget would be
   violated) is retried every 5 seconds of cluster time, as kubectl does,
   until `timeout`; then `DrainTimeout` names the pods left.
4. Returns once every evicted pod is gone from the API.

Neighbours: `runtime.cluster.cluster` (`Cluster.drain_node`),
`engine.eviction`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Final

import anyio

from engine.api import Node, Pod
from engine.client import Client
from engine.errors import NotFound, TooManyRequests

__all__ = ["DrainTimeout", "UnmanagedPods", "drain"]

RETRY_SECONDS: Final = 5.0
MIRROR_ANNOTATION: Final = "kubernetes.io/config.mirror"


class DrainTimeout(TimeoutError):
    """Pods could not be evicted (or did not go) before the timeout."""


class UnmanagedPods(RuntimeError):
    """`force=False` and the node runs pods no controller manages."""


def _skipped(pod: Pod) -> bool:
    ref = pod.metadata.controller_ref()
    if ref is not None and ref.kind == "DaemonSet":
        return True
    return MIRROR_ANNOTATION in pod.metadata.annotations


async def drain(
    client: Client,
    node: str,
    wait_gone: Callable[[list[Pod], float | None], Awaitable[bool]],
    *,
    timeout: float | None = None,
    grace_period_seconds: int | None = None,
    force: bool = True,
) -> list[str]:
    """Cordon and drain `node`; returns the names (`ns/name`) of the pods evicted.
    `wait_gone(pods, timeout)` waits until none of `pods` exists (False on timeout)."""
    started = anyio.current_time()
    current = await client.get(Node, node)
    if not current.spec.unschedulable:
        await client.patch(Node, node, {"spec": {"unschedulable": True}})
    listed = await client.list(Pod, field_selector=f"spec.nodeName={node}")
    pods = [p for p in listed.items if not _skipped(p)]
    if not force:
        unmanaged = [p.metadata.name for p in pods if p.metadata.controller_ref() is None]
        if unmanaged:
            raise UnmanagedPods(
                f"cannot delete pods that declare no controller (use force): {', '.join(unmanaged)}"
            )
    pending = {p.metadata.uid: p for p in pods}
    evicted: list[str] = []
    try:
        with anyio.fail_after(timeout):
            while True:
                for uid, pod in list(pending.items()):
                    meta = pod.metadata
                    try:
                        await client.evict(
                            meta.name,
                            namespace=meta.namespace,
                            grace_period_seconds=grace_period_seconds,
                        )
                    except TooManyRequests:
                        continue
                    except NotFound:
                        pass
                    evicted.append(f"{meta.namespace}/{meta.name}")
                    del pending[uid]
                if not pending:
                    break
                await anyio.sleep(RETRY_SECONDS)
    except TimeoutError:
        left = ", ".join(f"{p.metadata.namespace}/{p.metadata.name}" for p in pending.values())
        raise DrainTimeout(f"drain of {node} timed out; not evicted: {left}") from None
    remaining = None if timeout is None else max(0.0, timeout - (anyio.current_time() - started))
    if not await wait_gone(pods, remaining):
        raise DrainTimeout(f"drain of {node} timed out waiting for evicted pods to terminate")
    return evicted
