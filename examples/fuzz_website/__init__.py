"""Fuzzing your own controller: a `Website` custom kind and its reconciler, run
by kubeloop's simulation harness under faults (see the README, "Fuzzing your
own controller").

* `Website` (example.kubeloop.dev/v1): `spec.replicas` and `spec.image`;
  `status.readyReplicas` and `status.observedGeneration`.
* `WebsiteReconciler`: level-triggered. Reads the Website and the ReplicaSet
  named after it from its caches, creates or updates that ReplicaSet (owned by
  the Website, so the garbage collector removes it with the Website), then
  copies the ReplicaSet's ready count into the Website's status. The fixed
  name makes the create idempotent: a cache that has not seen the ReplicaSet
  yet, or a create that timed out after committing, ends in AlreadyExists,
  never in a second ReplicaSet. Every update carries the resourceVersion it
  was computed from, so a stale cache ends in Conflict, and a retry. Before
  creating, it checks that the Website still lives (`still_exists`).
* `setup(manager)`: how the harness builds it (on each restart, fresh: no
  memory survives a crash but what is in the store).
* `websites(name)`: a hypothesis strategy of Website manifests.
* `website_converged`: the desired-state check, `one_replicaset`: a safety
  invariant, each added to a copy of the built-in registries.
* `WEBSITE`: the `FuzzTarget` tying it together.

`examples.fuzz_website.buggy` holds broken variants the harness catches.
Hypothesis is imported only when the fuzzer draws Websites, so `kubeloop
replay` of a Website scenario runs without it. Run it, from the repository root:

    kubeloop fuzz --target examples.fuzz_website:WEBSITE --examples 50
    pytest tests/simulation/test_custom_target.py

Neighbours: `runtime.simulation` (the harness), `controllers.common.ownership`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pydantic import Field

from controllers.common.ownership import is_controlled_by, new_controller_ref
from engine.api import LabelSelector, ObjectMeta, PodTemplateSpec, ReplicaSet
from engine.api.apps import ReplicaSetSpec
from engine.api.base import KubeModel, Resource
from engine.api.core import Container, PodSpec
from engine.client import Client
from engine.controller import Controller, Request, Result
from engine.errors import AlreadyExists, Conflict, NotFound
from engine.manager import Manager
from engine.registry import kind
from engine.store import WriteRecord
from runtime.simulation import DESIRED, SAFETY, DesiredContext, Difference, FuzzTarget
from runtime.simulation.faults import ALL_FAULT_KINDS
from runtime.simulation.view import ClusterView

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = [
    "DESIRED_STATE",
    "INVARIANTS",
    "WEBSITE",
    "Website",
    "WebsiteReconciler",
    "controlled_replica_sets",
    "desired_replica_set",
    "one_replicaset",
    "setup",
    "website_converged",
    "websites",
]


class WebsiteSpec(KubeModel):
    replicas: int = Field(1, ge=0)
    image: str = Field("nginx:1.27", min_length=1)


class WebsiteStatus(KubeModel):
    ready_replicas: int = 0
    observed_generation: int = 0


@kind("example.kubeloop.dev/v1", "Website", status_subresource=True)
class Website(Resource):
    spec: WebsiteSpec = Field(default_factory=WebsiteSpec)
    status: WebsiteStatus = Field(default_factory=WebsiteStatus)


def replica_set_name(site: Website) -> str:
    return f"website-{site.metadata.name}"


def desired_replica_set(site: Website) -> ReplicaSet:
    """The ReplicaSet `site` asks for (a new object: safe to hand to create)."""
    labels = {"website": site.metadata.name}
    template = PodTemplateSpec(
        metadata=ObjectMeta(labels=labels),
        spec=PodSpec(containers=[Container(name="web", image=site.spec.image)]),
    )
    return ReplicaSet(
        metadata=ObjectMeta(
            name=replica_set_name(site),
            namespace=site.metadata.namespace,
            labels=labels,
            owner_references=[new_controller_ref(site)],
        ),
        spec=ReplicaSetSpec(
            replicas=site.spec.replicas,
            selector=LabelSelector(match_labels=labels),
            template=template,
        ),
    )


class WebsiteReconciler:
    """Keeps one ReplicaSet per Website and reports its readiness."""

    def __init__(self, manager: Manager) -> None:
        self.client: Client = manager.client
        self.sites = manager.factory.informer(Website)
        self.replica_sets = manager.factory.informer(ReplicaSet)
        self.controller = Controller("website", self, clock=manager.clock)
        self.controller.for_kind(self.sites)
        self.controller.owns(self.replica_sets, Website)
        manager.add(self.controller)

    async def reconcile(self, request: Request) -> Result:
        # Only the identity comes in: read the current state, never the event.
        site = self.sites.cache.get(request.name, request.namespace)
        if site is None or site.metadata.deletion_timestamp is not None:
            return Result()  # the garbage collector removes its ReplicaSet
        want = desired_replica_set(site)
        have = self.replica_sets.cache.get(want.metadata.name, request.namespace)
        if have is not None and not is_controlled_by(have, site):
            # A namesake left by a deleted Website of the same name: wait for
            # the garbage collector rather than take over (its deletion
            # enqueues this Website again; the requeue covers a lost event).
            return Result(requeue_after=10.0)
        try:
            if have is None:
                if not await self.still_exists(site):
                    return Result(requeue=True)
                have = await self.client.create(want)
            elif (
                have.spec.replicas != want.spec.replicas or have.spec.template != want.spec.template
            ):
                # Copies of the cached object: what the cache hands out is shared.
                spec = have.spec.model_copy(
                    update={"replicas": want.spec.replicas, "template": want.spec.template}
                )
                have = await self.client.update(have.model_copy(update={"spec": spec}))
            status = WebsiteStatus(
                ready_replicas=have.status.ready_replicas,
                observed_generation=site.metadata.generation,
            )
            if site.status != status:
                await self.client.update_status(site.model_copy(update={"status": status}))
        except (Conflict, AlreadyExists, NotFound):
            return Result(requeue=True)  # the cache was behind: look again
        # Any other error (a server error, a timeout) propagates: the controller
        # retries with backoff, and the next attempt starts from current state.
        return Result()

    async def still_exists(self, site: Website) -> bool:
        """Whether `site` (from the cache) is still the live Website. Checked
        before creating what it owns: a cache that missed its deletion would
        have us create a ReplicaSet the garbage collector deletes at once, and
        its deletion would bring us back to create it again, for as long as
        the cache lags (on virtual time, where API calls take no time, that
        loop would never let the clock move)."""
        live = await self.client.get(Website, site.metadata.name, namespace=site.metadata.namespace)
        return live.metadata.uid == site.metadata.uid and live.metadata.deletion_timestamp is None


def setup(manager: Manager) -> WebsiteReconciler:  # called again on every restart
    return WebsiteReconciler(manager)  # informers from manager.factory, adds its Controller


def websites(name: str) -> SearchStrategy[dict[str, Any]]:
    """Website manifests named `name` (applying one to an existing Website
    changes its size and image)."""
    from hypothesis import strategies as st

    return st.builds(
        lambda replicas, image: {
            "apiVersion": "example.kubeloop.dev/v1",
            "kind": "Website",
            "metadata": {"name": name},
            "spec": {"replicas": replicas, "image": image},
        },
        st.integers(0, 4),
        st.sampled_from(("nginx:1.27", "nginx:1.28", "httpd:2.4")),
    )


def _differs(site: Website, what: str, have: Any, want: Any) -> Difference:
    return Difference("Website", site.metadata.namespace, site.metadata.name, what, have, want)


def controlled_replica_sets(site: Website, view: ClusterView) -> list[ReplicaSet]:
    """The ReplicaSets `site` controls, whatever their names (from the oracles' view)."""
    found = []
    for uid in view.children_of(site.metadata.uid):
        rs = view.lookup(uid)
        if isinstance(rs, ReplicaSet) and is_controlled_by(rs, site):
            found.append(rs)
    return found


def website_converged(ctx: DesiredContext) -> Iterator[Difference]:
    """Each Website controls one ReplicaSet, at its size and image, and reports
    that ReplicaSet's ready count for its latest generation."""
    for site in ctx.objects(Website):
        if site.metadata.deletion_timestamp is not None:
            continue
        owned = controlled_replica_sets(site, ctx.view)
        if len(owned) != 1:
            names = [rs.metadata.name for rs in owned]
            yield _differs(site, "ReplicaSets it controls", names, "one")
            continue
        rs = owned[0]
        if rs.spec.replicas != site.spec.replicas:
            yield _differs(site, "ReplicaSet replicas", rs.spec.replicas, site.spec.replicas)
        image = rs.spec.template.spec.containers[0].image
        if image != site.spec.image:
            yield _differs(site, "ReplicaSet image", image, site.spec.image)
        if site.status.ready_replicas != rs.status.ready_replicas:
            yield _differs(
                site, "status.readyReplicas", site.status.ready_replicas, rs.status.ready_replicas
            )
        if site.status.observed_generation != site.metadata.generation:
            yield _differs(
                site,
                "status.observedGeneration",
                site.status.observed_generation,
                site.metadata.generation,
            )


def one_replicaset(record: WriteRecord, view: ClusterView) -> str | None:
    """A Website never controls more than one ReplicaSet (checked after every
    write: `view` is already up to date with `record`)."""
    if record.kind != "ReplicaSet" or record.removed:
        return None
    ref = record.object.metadata.controller_ref()
    if ref is None or ref.kind != "Website":
        return None
    owned = [uid for uid in view.children_of(ref.uid) if view.by_uid[uid][0] is ReplicaSet]
    if len(owned) > 1:
        return f"website {record.namespace}/{ref.name} controls {len(owned)} ReplicaSets"
    return None


DESIRED_STATE = DESIRED.copy()
DESIRED_STATE.register("websites", website_converged)
INVARIANTS = SAFETY.copy()  # the built-in ones, plus yours
INVARIANTS.invariant("website-one-replicaset")(one_replicaset)

BUILT_IN = ("scheduler", "replicaset", "garbagecollector")

WEBSITE = FuzzTarget(
    name="website",
    workloads=websites,  # name -> hypothesis strategy of Website manifests
    workload_names=("blog", "shop"),
    # A Website has no scale subresource or pod template for those rules:
    scalable_kinds=(),
    image_kinds=(),
    controllers=(*BUILT_IN, "website"),
    custom_controllers={"website": setup},
    kinds=(Website,),  # served besides the built-in kinds
    fault_controllers=("website",),
    # A fault drawn for "every controller" spares the built-in ones: they are
    # fuzzed on their own (BUILTIN), and a failure here is the Website's.
    exemptions={name: frozenset(ALL_FAULT_KINDS) for name in BUILT_IN},
    informers=("Website", "ReplicaSet"),  # informers that watch faults may pick
    invariant_registry=INVARIANTS,
    desired_registry=DESIRED_STATE,
    ref="examples.fuzz_website:WEBSITE",  # how scenario files name it
)
"""Fuzz the Website controller beside the built-in scheduler, ReplicaSet
controller and garbage collector, with every fault class: watch, stale-read,
write and crash faults aimed at the Website controller alone, node faults
at the nodes."""
