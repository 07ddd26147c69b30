"""Operations: what a user (or the fuzzer) does to a simulated cluster, as data.

Each `Operation` is a frozen pydantic model with an `op` tag and `after`, the
virtual seconds the simulation runs before the operation is carried out.
A scenario is a list of them, so it can be generated, shrunk, saved and
replayed.

========== =================================================================
op         effect
========== =================================================================
apply      create or update an object from a manifest (kubectl apply)
scale      set spec.replicas through the scale subresource
set_image  change a container image of a pod template (Deployment, ReplicaSet)
delete     delete an object (propagation Background by default)
delete_pod delete the `index`-th active pod (by name, modulo their number) of
           the workload `owner` (the pod's controller, or its controller's)
evict      evict the `index`-th running pod of the namespace (pods/eviction:
           refused with 429 when a PodDisruptionBudget would be violated)
fail_node  a node crashes, stops or is partitioned until restore_node
restore_node
inject     schedule a fault; its `at` counts from now
wait       nothing: only `after`
========== =================================================================

Operations on objects that are gone are not errors: the outcome says so (a
fuzzer deletes and then scales freely). An operation the API refuses as a bad
request (an invalid manifest, an unknown kind, a forbidden change: 400, 403,
405, 422) raises `Rejected`: what the session does with it depends on the
operation's `expect` (`accepted`, `rejected`, or unset), see
`runtime.simulation.session`.

Neighbours: `runtime.simulation.simulation` (`execute`), `runtime.simulation.faults`,
`runtime.simulation.strategies` (generates them), `runtime.simulation.replay`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from engine.api.base import Resource
from engine.api.core import Pod
from engine.errors import ApiError, BadRequest, Forbidden, Invalid, MethodNotAllowed
from engine.manifests import parse_object
from engine.registry import REGISTRY, Registry
from runtime.simulation.faults import Fault

if TYPE_CHECKING:
    from runtime.simulation.simulation import Simulation

__all__ = [
    "Apply",
    "Delete",
    "DeletePod",
    "Evict",
    "FailNode",
    "Inject",
    "Operation",
    "Rejected",
    "RestoreNode",
    "Scale",
    "SetImage",
    "Wait",
    "execute",
    "operation_from_data",
    "resolve_kind",
]


class _Op(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    after: float = Field(0.0, ge=0)
    expect: Literal["accepted", "rejected"] | None = None
    """What the API should do with the operation; unset, a refusal makes the
    scenario invalid (see the module docstring)."""

    def to_data(self) -> dict[str, Any]:
        data = self.model_dump(mode="json", exclude_defaults=False)
        if data["expect"] is None:
            del data["expect"]
        return data


REFUSALS = (BadRequest, Forbidden, MethodNotAllowed, Invalid)
"""API errors that refuse the request itself, whatever the cluster's state."""


class Rejected(Exception):
    """The API refused an operation (see `REFUSALS`); `error` says why."""

    def __init__(self, error: ApiError) -> None:
        self.error = error
        super().__init__(f"{type(error).__name__}: {' '.join(str(error).split())}")


class _ObjectOp(_Op):
    kind: str
    name: str
    namespace: str = "default"
    api_version: str | None = None


class Apply(_Op):
    op: Literal["apply"] = "apply"
    manifest: dict[str, Any]


class Scale(_ObjectOp):
    op: Literal["scale"] = "scale"
    replicas: int = Field(ge=0)


class SetImage(_ObjectOp):
    op: Literal["set_image"] = "set_image"
    image: str
    container: str | None = None


class Delete(_ObjectOp):
    op: Literal["delete"] = "delete"
    propagation: Literal["Background", "Foreground", "Orphan"] = "Background"


class DeletePod(_Op):
    op: Literal["delete_pod"] = "delete_pod"
    owner: str
    namespace: str = "default"
    index: int = Field(0, ge=0)


class Evict(_Op):
    """Evict (pods/eviction, honouring PodDisruptionBudgets) the `index`-th
    running pod of the namespace, by name, modulo their number."""

    op: Literal["evict"] = "evict"
    namespace: str = "default"
    index: int = Field(0, ge=0)


class FailNode(_Op):
    op: Literal["fail_node"] = "fail_node"
    node: str
    mode: Literal["crash", "stop", "partition"] = "crash"


class RestoreNode(_Op):
    op: Literal["restore_node"] = "restore_node"
    node: str


class Inject(_Op):
    op: Literal["inject"] = "inject"
    fault: Fault


class Wait(_Op):
    op: Literal["wait"] = "wait"


Operation = Annotated[
    Apply | Scale | SetImage | Delete | DeletePod | Evict | FailNode | RestoreNode | Inject | Wait,
    Field(discriminator="op"),
]
_OPERATION = TypeAdapter(Operation)


def operation_from_data(data: Any) -> Operation:
    return _OPERATION.validate_python(data)


def resolve_kind(
    kind: str, api_version: str | None = None, registry: Registry = REGISTRY
) -> type[Resource]:
    for info in registry:
        if info.kind == kind and api_version in (None, info.api_version):
            return info.model
    raise BadRequest(f'no kind "{kind}" is registered')


async def execute(sim: Simulation, op: Operation) -> str:
    """Carry out `op` now (its `after` has been waited already); returns what happened."""
    client = sim.client
    try:
        if isinstance(op, Apply):
            obj = parse_object(op.manifest, registry=sim.registry)
            applied = await sim.cluster.apply(obj)
            return "; ".join(str(a) for a in applied)
        if isinstance(op, Scale):
            kind = resolve_kind(op.kind, op.api_version, sim.registry)
            await client.scale(kind, op.name, op.replicas, namespace=op.namespace)
            return f"scaled {op.kind} {op.name} to {op.replicas}"
        if isinstance(op, SetImage):
            return await _set_image(sim, op)
        if isinstance(op, Delete):
            kind = resolve_kind(op.kind, op.api_version, sim.registry)
            await client.delete(
                kind, op.name, namespace=op.namespace, propagation_policy=op.propagation
            )
            return f"deleted {op.kind} {op.name}"
        if isinstance(op, DeletePod):
            return await _delete_pod(sim, op)
        if isinstance(op, Evict):
            return await _evict(sim, op)
        if isinstance(op, FailNode):
            await sim.fail_node(op.node, op.mode)
            return f"node {op.node}: {op.mode}"
        if isinstance(op, RestoreNode):
            await sim.restore_node(op.node)
            return f"node {op.node} restored"
        if isinstance(op, Inject):
            fault = op.fault.shifted(sim.now())
            sim.inject(fault)
            return f"fault {fault.kind} at t={fault.at:g}s"
        return "waited"
    except REFUSALS as error:
        raise Rejected(error) from error
    except ApiError as error:
        return f"{type(error).__name__}: {error}"


async def _set_image(sim: Simulation, op: SetImage) -> str:
    kind = resolve_kind(op.kind, op.api_version, sim.registry)
    obj: Any = await sim.client.get(kind, op.name, namespace=op.namespace)
    template = getattr(getattr(obj, "spec", None), "template", None)
    if template is None:
        return f"{op.kind} {op.name} has no pod template"
    containers = template.spec.containers
    target = op.container or containers[0].name
    updated = [
        c.model_copy(update={"image": op.image}) if c.name == target else c for c in containers
    ]
    template = template.model_copy(
        update={"spec": template.spec.model_copy(update={"containers": updated})}
    )
    await sim.client.update(
        obj.model_copy(update={"spec": obj.spec.model_copy(update={"template": template})})
    )
    return f"{op.kind} {op.name}: container {target} image {op.image}"


def _owner_name(pod: Pod, sim: Simulation) -> list[str]:
    """The names of the pod's controller and of that controller's controller."""
    names: list[str] = []
    ref = pod.metadata.controller_ref()
    if ref is None:
        return names
    names.append(ref.name)
    owner = sim.view.lookup(ref.uid) if sim.view is not None else None
    if owner is not None and (up := owner.metadata.controller_ref()) is not None:
        names.append(up.name)
    return names


async def _delete_pod(sim: Simulation, op: DeletePod) -> str:
    candidates = sorted(
        (
            p
            for p in sim.store.objects(Pod)
            if p.metadata.namespace == op.namespace
            and p.metadata.deletion_timestamp is None
            and p.status.phase not in ("Succeeded", "Failed")
            and op.owner in _owner_name(p, sim)
        ),
        key=lambda p: p.metadata.name,
    )
    if not candidates:
        return f"no pod of {op.owner} to delete"
    pod = candidates[op.index % len(candidates)]
    await sim.client.delete(Pod, pod.metadata.name, namespace=op.namespace)
    return f"deleted pod {pod.metadata.name}"


async def _evict(sim: Simulation, op: Evict) -> str:
    candidates = sorted(
        (
            p
            for p in sim.store.objects(Pod)
            if p.metadata.namespace == op.namespace
            and p.metadata.deletion_timestamp is None
            and p.status.phase == "Running"
        ),
        key=lambda p: p.metadata.name,
    )
    if not candidates:
        return "no running pod to evict"
    pod = candidates[op.index % len(candidates)]
    await sim.client.evict(pod.metadata.name, namespace=op.namespace)
    return f"evicted pod {pod.metadata.name}"
