"""Two broken Website reconcilers, and the fuzz targets that catch them.

Each is a classic controller bug that a few hand-written tests miss; the
harness finds it, shrinks it to a couple of steps, and names the user's
oracle that caught it (`examples.fuzz_website`'s invariant and check):

* `GeneratedNames` names its ReplicaSet with generateName and finds it again
  by looking through its cache for one the Website controls. When the cache
  has not seen its last create yet (a delayed or lost watch event), it
  creates a second ReplicaSet: the safety invariant `website-one-replicaset`
  fails (`GENERATED_NAMES`, watch faults). The correct reconciler's fixed
  name turns that second create into AlreadyExists.
* `StatusFirst` writes status.observedGeneration, its "done" mark, before the
  work, and skips the spec of a Website whose mark is current. Anything that
  stops the reconcile between the mark and the ReplicaSet write (a crash, or
  just AlreadyExists from a cache that lags its own create) leaves the
  ReplicaSet missing or out of date for good: the desired-state check
  `websites` fails the ESR liveness check (`STATUS_FIRST`, controller crashes).

tests/simulation/test_custom_target.py hunts both within the CI example
budget and replays the scenario files written for them:
`kubeloop replay .kubeloop/failures/<Machine>.yaml`.

Neighbours: `examples.fuzz_website` (the correct reconciler and its oracles).
"""

from __future__ import annotations

import dataclasses

from controllers.common.ownership import is_controlled_by
from engine.api import ReplicaSet
from engine.controller import Request, Result
from engine.errors import AlreadyExists, Conflict, NotFound
from examples.fuzz_website import (
    WEBSITE,
    Website,
    WebsiteReconciler,
    WebsiteStatus,
    desired_replica_set,
)
from runtime.cluster import NodePool

__all__ = ["GENERATED_NAMES", "STATUS_FIRST", "GeneratedNames", "StatusFirst"]


class GeneratedNames(WebsiteReconciler):
    """Bug: a generated ReplicaSet name, found again only through the cache."""

    async def reconcile(self, request: Request) -> Result:
        site = self.sites.cache.get(request.name, request.namespace)
        if site is None or site.metadata.deletion_timestamp is not None:
            return Result()
        want = desired_replica_set(site)
        owned = [
            rs
            for rs in self.replica_sets.cache.list(request.namespace)
            if is_controlled_by(rs, site)
        ]
        try:
            if not owned:
                if not await self.still_exists(site):
                    return Result(requeue=True)
                meta = want.metadata.model_copy(
                    update={"name": "", "generate_name": f"{want.metadata.name}-"}
                )
                have: ReplicaSet = await self.client.create(
                    want.model_copy(update={"metadata": meta})
                )
            else:
                have = owned[0]
                if (
                    have.spec.replicas != want.spec.replicas
                    or have.spec.template != want.spec.template
                ):
                    spec = have.spec.model_copy(
                        update={"replicas": want.spec.replicas, "template": want.spec.template}
                    )
                    have = await self.client.update(have.model_copy(update={"spec": spec}))
            await _report(self, site, have)
        except (Conflict, AlreadyExists, NotFound):
            return Result(requeue=True)
        return Result()


class StatusFirst(WebsiteReconciler):
    """Bug: the "done" mark (status.observedGeneration) is written before the work."""

    async def reconcile(self, request: Request) -> Result:
        site = self.sites.cache.get(request.name, request.namespace)
        if site is None or site.metadata.deletion_timestamp is not None:
            return Result()
        want = desired_replica_set(site)
        have = self.replica_sets.cache.get(want.metadata.name, request.namespace)
        try:
            if site.status.observed_generation == site.metadata.generation:
                if have is not None:  # done already, as far as the mark says
                    await _report(self, site, have)
                return Result()
            status = site.status.model_copy(
                update={"observed_generation": site.metadata.generation}
            )
            site = await self.client.update_status(site.model_copy(update={"status": status}))
            if have is None:
                have = await self.client.create(want)
            elif have.spec != want.spec:
                have = await self.client.update(have.model_copy(update={"spec": want.spec}))
        except (Conflict, AlreadyExists, NotFound):
            return Result(requeue=True)
        return Result()


async def _report(reconciler: WebsiteReconciler, site: Website, rs: ReplicaSet) -> None:
    status = WebsiteStatus(
        ready_replicas=rs.status.ready_replicas, observed_generation=site.metadata.generation
    )
    if site.status != status:
        await reconciler.client.update_status(site.model_copy(update={"status": status}))


# One node keeps each example short, and each target draws only the faults and
# operations its bug needs, so that the CI budget finds and shrinks it in
# seconds; the oracles are WEBSITE's.
_FOCUSED = {
    "node_pools": (NodePool(count=1),),
    "max_nodes": 1,
    "esr_bound": 120.0,
    "esr_window": 10.0,
}

GENERATED_NAMES = dataclasses.replace(
    WEBSITE,
    name="website-generated-names",
    custom_controllers={"website": GeneratedNames},
    fault_kinds=("watch_delay", "watch_drop"),
    informers=("ReplicaSet",),
    workload_names=("blog", "shop", "docs", "wiki"),
    rules=frozenset({"apply", "inject"}),
    ref="examples.fuzz_website.buggy:GENERATED_NAMES",
    **_FOCUSED,  # type: ignore[arg-type]
)
"""The Website target with `GeneratedNames`: caught by `safety:website-one-replicaset`."""

STATUS_FIRST = dataclasses.replace(
    WEBSITE,
    name="website-status-first",
    custom_controllers={"website": StatusFirst},
    fault_kinds=("controller_crash",),
    rules=frozenset({"apply", "inject", "wait"}),
    ref="examples.fuzz_website.buggy:STATUS_FIRST",
    **_FOCUSED,  # type: ignore[arg-type]
)
"""The Website target with `StatusFirst`: caught by `liveness:esr` (check `websites`)."""
