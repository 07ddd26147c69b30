"""Per-kind write rules of the store, as the apiserver's registry strategies and
admission plugins apply them: defaulting and validation on every write,
namespace lifecycle, pod defaults on create, graceful deletion of pods, the
namespace `kubernetes` finalizer, deletion propagation finalizers, binding and
the scale subresource.

Every function here is pure: it returns a new object (or a decision) and never
changes what it is given. `engine.store` calls them; nothing else should.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from engine.api import core
from engine.api.base import LabelSelector, Resource, copied
from engine.api.batch import Job
from engine.api.coordination import Lease
from engine.api.defaulting import default_object as _default_object
from engine.api.scheduling import PriorityClass
from engine.api.validation import (
    SPEC_CHECKS_READ_NAME,
    has_spec_checks,
    validate_metadata,
    validate_metadata_maps,
    validate_spec,
)
from engine.errors import BadRequest, Conflict, FieldError, Forbidden, Invalid, NotFound
from engine.sharing import shared, shared_list

if TYPE_CHECKING:
    from engine.registry import Registry
    from engine.store import Store

__all__ = [
    "FOREGROUND_FINALIZER",
    "INITIAL_NAMESPACES",
    "JOB_CONTROLLER_UID_LABEL",
    "JOB_NAME_LABEL",
    "NAMESPACE_FINALIZER",
    "ORPHAN_FINALIZER",
    "SYSTEM_PRIORITY_CLASSES",
    "bind_pod",
    "check_namespace_accepts",
    "check_update",
    "default_object",
    "default_service_cidr",
    "kubernetes_service",
    "new_namespace",
    "plan_deletion",
    "prepare_for_create",
    "ready_to_remove",
    "validate",
    "validate_update",
    "with_spec_update",
]

INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
NAMESPACE_FINALIZER = "kubernetes"
FOREGROUND_FINALIZER = "foregroundDeletion"
ORPHAN_FINALIZER = "orphan"


def new_namespace(name: str) -> core.Namespace:
    return core.Namespace(metadata={"name": name})


def _system_priority_class(name: str, value: int, description: str) -> PriorityClass:
    return PriorityClass(metadata={"name": name}, value=value, description=description)


SYSTEM_PRIORITY_CLASSES: tuple[PriorityClass, ...] = (
    # The apiserver creates these two at startup (its scheduling bootstrap
    # hook); add-on manifests (DNS, CNI, cloud controllers) name them.
    _system_priority_class(
        "system-node-critical",
        2000001000,
        "Used for system critical pods that must not be moved from their current node.",
    ),
    _system_priority_class(
        "system-cluster-critical",
        2000000000,
        "Used for system critical pods that must run in the cluster, but can be moved "
        "to another node if necessary.",
    ),
)


def kubernetes_service(cluster_ip: str) -> core.Service:
    """The `kubernetes` Service in `default` that the apiserver keeps (its
    bootstrap controller): the first address of the service range, port 443
    (https) to the apiserver's 6443, no selector."""
    return core.Service.model_validate(
        {
            "metadata": {
                "name": "kubernetes",
                "namespace": "default",
                "labels": {"component": "apiserver", "provider": "kubernetes"},
            },
            "spec": {
                "type": "ClusterIP",
                "clusterIP": cluster_ip,
                "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}],
            },
        }
    )


def default_service_cidr(registry: Registry, cidr: str) -> Resource | None:
    """The `kubernetes` ServiceCIDR the apiserver makes for its service range,
    when the kind is served (networking.k8s.io/v1, Kubernetes 1.33+)."""
    try:
        model = registry.lookup("networking.k8s.io/v1", "ServiceCIDR").model
    except BadRequest:
        return None  # a registry without the catalogue (a simulation's own)
    return model.model_validate(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "ServiceCIDR",
            "metadata": {"name": "kubernetes"},
            "spec": {"cidrs": [cidr]},
        }
    )


def default_object(obj: Resource) -> Resource:
    result: Resource = _default_object(obj)
    return result


_SPEC_VERDICTS: dict[tuple[Any, ...], tuple[list[FieldError], tuple[Any, ...]]] = {}
_META_VERDICTS: dict[tuple[Any, ...], tuple[list[FieldError], tuple[Any, ...]]] = {}
_VERDICTS_MAX = 8192


def validate(obj: Resource) -> list[FieldError]:
    """`validate_object`, with the kind's own checks remembered by the identity
    of the parts they read.

    Objects are immutable and shared, so spec parts that are the very same
    objects as in an object already checked (a template's spec shared by every
    pod of a ReplicaSet; a spec untouched by a label update) check the same
    way. Metadata verdicts are remembered the same way, by name and by the
    identity of the labels and annotations (a heartbeat renewing a Lease keeps
    both), and label checks are cached per string.
    """
    model = type(obj)
    meta = obj.metadata
    meta_key = (
        model,
        meta.name,
        meta.generate_name,
        meta.namespace,
        id(meta.labels),
        id(meta.annotations),
    )
    known = _META_VERDICTS.get(meta_key)
    if known is None or known[1][0] is not meta.labels or known[1][1] is not meta.annotations:
        if len(_META_VERDICTS) >= _VERDICTS_MAX:
            _META_VERDICTS.clear()
        known = (validate_metadata(obj), (meta.labels, meta.annotations))
        _META_VERDICTS[meta_key] = known
    errors = known[0]
    if not has_spec_checks(model):
        return errors  # nothing to check or remember (a Lease: every renewal is a new spec)
    spec_errors = _spec_errors(model, obj)
    return errors + spec_errors if spec_errors else errors


def validate_update(obj: Resource, current: Resource) -> list[FieldError]:
    """`validate` for an update of the stored (and so valid) `current`: only
    the parts that are not the very objects `current` holds are checked.
    With the name, generateName and namespace unchanged, that is the labels
    and annotations (when they are new objects) and the kind's own checks
    (when a spec part is new)."""
    model = type(obj)
    if obj.__pydantic_extra__:
        return validate(obj)  # fields outside the model's own: no parts to compare
    meta, old = obj.metadata, current.metadata
    if meta is old:
        errors: list[FieldError] = []
    elif (
        meta.name == old.name
        and meta.namespace == old.namespace
        and meta.generate_name == old.generate_name
    ):
        if meta.labels is old.labels and meta.annotations is old.annotations:
            errors = []
        else:
            errors = validate_metadata_maps(obj, old)
    else:
        return validate(obj)
    if not has_spec_checks(model):
        return errors
    values, old_values = obj.__dict__, current.__dict__
    for name in _spec_fields(model):
        if values[name] is not old_values[name]:
            spec_errors = _spec_errors(model, obj)
            return errors + spec_errors if spec_errors else errors
    return errors


_UNCACHED_SPEC_CHECKS: frozenset[type[Resource]] = frozenset({Lease})
"""Kinds whose own checks cost less than remembering them, and whose specs are
new on nearly every write (a Lease renewal): not worth a verdict cache entry."""


def _spec_errors(model: type[Resource], obj: Resource) -> list[FieldError]:
    if model in _UNCACHED_SPEC_CHECKS:
        return validate_spec(obj)
    parts = tuple(obj.__dict__[name] for name in _spec_fields(model))
    key: tuple[Any, ...] = (model, *map(id, parts))
    if model in SPEC_CHECKS_READ_NAME:
        key = (*key, obj.metadata.name)
    cached = _SPEC_VERDICTS.get(key)
    if cached is None:
        if len(_SPEC_VERDICTS) >= _VERDICTS_MAX:
            _SPEC_VERDICTS.clear()
        # The parts stay referenced by the entry, so their ids cannot be reused.
        cached = (validate_spec(obj), parts)
        _SPEC_VERDICTS[key] = cached
    return cached[0]


_SPEC_FIELDS: dict[type[Resource], tuple[str, ...]] = {}


def _spec_fields(model: type[Resource]) -> tuple[str, ...]:
    fields = _SPEC_FIELDS.get(model)
    if fields is None:
        fields = tuple(
            name
            for name in model.model_fields
            if name not in ("api_version", "kind", "metadata", "status")
        )
        _SPEC_FIELDS[model] = fields
    return fields


def check_namespace_accepts(store: Store, namespace: str) -> None:
    """NamespaceLifecycle admission: no new content in a missing or terminating namespace."""
    ns = store.try_get(core.Namespace, namespace)
    if ns is None:
        raise NotFound(f'namespaces "{namespace}" not found')
    if ns.metadata.deletion_timestamp is not None or ns.status.phase == "Terminating":
        raise Forbidden(
            f"unable to create new content in namespace {namespace} because it is being terminated"
        )


def admit_pod_priority(store: Store, pod: core.Pod) -> core.Pod:
    """The Priority admission plugin: a pod's priority (and preemption policy)
    come from its PriorityClass, or from the global default class, or are 0.
    A class that does not exist is refused, as Kubernetes refuses it. Unlike
    Kubernetes, a pod that names no class may carry its own priority (tests
    and simulations seed priorities that way)."""
    spec = pod.spec
    name = spec.priority_class_name
    if not name and spec.priority is not None:
        return pod
    if name:
        found = store.try_get(PriorityClass, name)
        if found is None:
            raise Forbidden(
                f'pods "{pod.metadata.name}" is forbidden: '
                f"no PriorityClass with name {name} was found"
            )
        pc: PriorityClass | None = found
    else:
        pc = next((c for c in store.objects(PriorityClass) if c.global_default), None)
    value = pc.value if pc is not None else 0
    if spec.priority is not None and spec.priority != value:
        raise Forbidden(
            f'pods "{pod.metadata.name}" is forbidden: the integer value of priority '
            f"({spec.priority}) must not be provided in pod spec; priority admission "
            f"controller computed {value} from the given PriorityClass name"
        )
    update: dict[str, Any] = {}
    if spec.priority is None:
        update["priority"] = value
    if pc is not None:
        if not name:
            update["priority_class_name"] = pc.metadata.name
        policy = pc.preemption_policy
        if spec.preemption_policy is None:
            update["preemption_policy"] = policy
        elif policy is not None and spec.preemption_policy != policy:
            raise Forbidden(
                f'pods "{pod.metadata.name}" is forbidden: the string value of PreemptionPolicy '
                f"({spec.preemption_policy}) must not be provided in pod spec; priority "
                f"admission controller computed {policy} from the given PriorityClass name"
            )
    return with_spec_update(pod, update)


def with_spec_update(pod: core.Pod, update: dict[str, Any]) -> core.Pod:
    """`pod` with its spec fields changed as admission changes them. Pods of
    one template share one spec; so do their admitted specs, which keeps
    memory per pod down and validation verdicts cached. `update`'s values
    must be hashable (names, numbers, tuples)."""
    if not update:
        return pod
    spec = pod.spec
    key = (id(spec), tuple(sorted(update.items())))
    known = _ADMITTED_SPECS.get(key)
    if known is None or known[0] is not spec:
        if len(_ADMITTED_SPECS) >= _VERDICTS_MAX:
            _ADMITTED_SPECS.clear()
        known = (spec, spec.model_copy(update=update))
        _ADMITTED_SPECS[key] = known
    return copied(pod, {"spec": known[1]})


_ADMITTED_SPECS: dict[tuple[Any, ...], tuple[core.PodSpec, core.PodSpec]] = {}


def prepare_for_create(obj: Resource) -> Resource:
    """What the apiserver fills in on create, after metadata is stamped."""
    if isinstance(obj, core.Namespace):
        spec = obj.spec
        if NAMESPACE_FINALIZER not in spec.finalizers:
            spec = spec.model_copy(update={"finalizers": [*spec.finalizers, NAMESPACE_FINALIZER]})
        return obj.model_copy(
            update={"spec": spec, "status": obj.status.model_copy(update={"phase": "Active"})}
        )
    if isinstance(obj, core.Pod) and not obj.status.phase:
        return copied(obj, {"status": _pending(obj.status)})
    if isinstance(obj, Job):
        return _generate_job_selector(obj)
    return obj


def _pending(status: core.PodStatus) -> core.PodStatus:
    """A new pod's status, phase Pending: one shared object for the statuses
    defaulting made (only a QoS class), a copy for a status the creator gave."""
    blank = shared(core.PodStatus, qos_class=status.qos_class)
    if status is blank or status == blank:
        return shared(core.PodStatus, phase="Pending", qos_class=status.qos_class)
    return copied(status, {"phase": "Pending"})


JOB_CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"


def _generate_job_selector(job: Job) -> Job:
    """The Job strategy's selector generation: unless `manualSelector` is true,
    the selector is `batch.kubernetes.io/controller-uid=<uid>` and the template
    gets that label, `batch.kubernetes.io/job-name` and their legacy
    unprefixed forms. A selector given without `manualSelector` is refused,
    as the apiserver refuses it."""
    spec = job.spec
    if spec.manual_selector:
        if spec.selector is None:
            raise Invalid(
                f'Job "{job.metadata.name}"',
                [FieldError("spec.selector", "Required value: when manualSelector is true")],
            )
        return job
    uid = job.metadata.uid
    if spec.selector is not None:
        raise Invalid(
            f'Job "{job.metadata.name}"',
            [
                FieldError(
                    "spec.selector",
                    "`selector` will be auto-generated; set manualSelector: true to give one",
                )
            ],
        )
    generated = {
        JOB_CONTROLLER_UID_LABEL: uid,
        "controller-uid": uid,
        JOB_NAME_LABEL: job.metadata.name,
        "job-name": job.metadata.name,
    }
    template = spec.template
    labels = {**template.metadata.labels, **generated}
    template = template.model_copy(
        update={"metadata": template.metadata.model_copy(update={"labels": labels})}
    )
    selector = LabelSelector(match_labels={JOB_CONTROLLER_UID_LABEL: uid})
    return job.model_copy(
        update={"spec": spec.model_copy(update={"selector": selector, "template": template})}
    )


def check_update(current: Resource, new: Resource) -> None:
    """Fields that an update may not change."""
    errors: list[FieldError] = []
    spec_new: Any = getattr(new, "spec", None)
    spec_old: Any = getattr(current, "spec", None)
    if isinstance(current, core.Pod) and isinstance(new, core.Pod):
        if spec_new is not spec_old:
            errors.extend(_pod_update_errors(spec_old, spec_new))
    elif (
        # The cheap test first: hasattr on a model without the field goes through
        # pydantic's __getattr__ and an AttributeError (every Lease renewal).
        (current.api_version == "apps/v1" or isinstance(current, Job))
        and spec_old is not None
        and hasattr(spec_old, "selector")
    ) and spec_new.selector != spec_old.selector:
        errors.append(FieldError("spec.selector", "field is immutable"))
    if isinstance(current, Job) and isinstance(new, Job):
        errors.extend(_job_update_errors(current, new))
    if errors:
        raise Invalid(f'{current.kind} "{current.metadata.name}"', errors)


_POD_UPDATABLE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def _pod_update_errors(old: core.PodSpec, new: core.PodSpec) -> list[FieldError]:
    """Kubernetes' ValidatePodUpdate: a pod's spec is fixed once created, but
    for containers' images, a shorter (or a first) activeDeadlineSeconds,
    tolerations added, scheduling gates removed (and, while the pod is gated,
    its node selector and affinity), nodeName set once (binding), and a
    negative grace period raised to 1. Anything else is refused with
    Kubernetes' message; `kubectl apply` of another pod under the same name
    gets it (delete and re-create instead)."""
    if old == new:
        return []
    errors: list[FieldError] = []
    if old.node_name and new.node_name != old.node_name:
        errors.append(FieldError("spec.nodeName", "field is immutable once set"))
    munged: dict[str, Any] = {"node_name": old.node_name}
    for field in ("containers", "init_containers"):
        olds, news = getattr(old, field), getattr(new, field)
        if len(olds) == len(news):
            munged[field] = [
                n if n.image == o.image else n.model_copy(update={"image": o.image})
                for o, n in zip(olds, news, strict=True)
            ]
    if new.active_deadline_seconds != old.active_deadline_seconds:
        if new.active_deadline_seconds is None:
            errors.append(
                FieldError(
                    "spec.activeDeadlineSeconds",
                    "Invalid value: must not update from a positive integer to nil value",
                )
            )
        elif (
            old.active_deadline_seconds is not None
            and new.active_deadline_seconds > old.active_deadline_seconds
        ):
            errors.append(
                FieldError(
                    "spec.activeDeadlineSeconds",
                    f"Invalid value: {new.active_deadline_seconds}: "
                    "must be less than or equal to previous value",
                )
            )
        munged["active_deadline_seconds"] = old.active_deadline_seconds
    if all(t in new.tolerations for t in old.tolerations):
        munged["tolerations"] = old.tolerations
    if all(g in old.scheduling_gates for g in new.scheduling_gates):
        munged["scheduling_gates"] = old.scheduling_gates
    if old.scheduling_gates:
        munged["node_selector"] = old.node_selector
        munged["affinity"] = old.affinity
    grace_old, grace_new = (
        old.termination_grace_period_seconds,
        new.termination_grace_period_seconds,
    )
    if grace_old is not None and grace_old < 0 and grace_new == 1:
        munged["termination_grace_period_seconds"] = grace_old
    if new.model_copy(update=munged) != old:
        errors.append(FieldError("spec", f"Forbidden: {_POD_UPDATABLE}"))
    return errors


_JOB_IMMUTABLE = (
    ("template", "spec.template"),
    ("completion_mode", "spec.completionMode"),
    ("pod_failure_policy", "spec.podFailurePolicy"),
    ("success_policy", "spec.successPolicy"),
    ("backoff_limit_per_index", "spec.backoffLimitPerIndex"),
    ("manual_selector", "spec.manualSelector"),
    ("managed_by", "spec.managedBy"),
)


def _job_update_errors(current: Job, new: Job) -> list[FieldError]:
    """The Job fields Kubernetes' validation keeps as created: the template
    and how the Job runs; completions too, except for an Indexed Job scaled
    with completions equal to parallelism before and after (an elastic Job)."""
    old_spec, new_spec = current.spec, new.spec
    errors = [
        FieldError(path, "field is immutable")
        for name, path in _JOB_IMMUTABLE
        if getattr(old_spec, name) != getattr(new_spec, name)
    ]
    if old_spec.completions != new_spec.completions:
        elastic = (
            new_spec.completion_mode == "Indexed"
            and old_spec.completions == old_spec.parallelism
            and new_spec.completions == new_spec.parallelism
        )
        if not elastic:
            errors.append(FieldError("spec.completions", "field is immutable"))
    return errors


def ready_to_remove(obj: Resource) -> bool:
    """An object marked for deletion goes once no finalizer (and no grace period) holds it."""
    meta = obj.metadata
    if meta.deletion_timestamp is None or meta.finalizers:
        return False
    if isinstance(obj, core.Namespace) and obj.spec.finalizers:
        return False
    return not meta.deletion_grace_period_seconds


def plan_deletion(
    current: Resource,
    now: datetime,
    propagation_policy: str | None,
    grace_period_seconds: int | None,
) -> Resource | None:
    """Decide what a delete does: None removes the object now; `current` means
    nothing changes; any other object is the marked version to store."""
    meta = current.metadata
    finalizers = list(meta.finalizers)
    # The two propagation finalizers exclude each other: a later delete with
    # the other policy swaps them, as the apiserver does.
    if propagation_policy == "Foreground":
        finalizers = [f for f in finalizers if f != ORPHAN_FINALIZER]
        if FOREGROUND_FINALIZER not in finalizers:
            finalizers.append(FOREGROUND_FINALIZER)
    elif propagation_policy == "Orphan":
        finalizers = [f for f in finalizers if f != FOREGROUND_FINALIZER]
        if ORPHAN_FINALIZER not in finalizers:
            finalizers.append(ORPHAN_FINALIZER)
    grace = _grace_period(current, grace_period_seconds)
    holds = bool(finalizers) or (
        isinstance(current, core.Namespace) and bool(current.spec.finalizers)
    )
    if not holds and grace == 0:
        return None
    if meta.deletion_timestamp is not None:
        # Already terminating: a shorter grace period may be requested; nothing else changes.
        old_grace = meta.deletion_grace_period_seconds or 0
        if grace >= old_grace and finalizers == meta.finalizers:
            return current
        if grace == 0 and not holds:
            return None
    deadline = _after(now, grace)
    update: dict[str, Any] = {
        "finalizers": finalizers,
        "deletion_grace_period_seconds": grace,
        "deletion_timestamp": (
            min(deadline, meta.deletion_timestamp) if meta.deletion_timestamp else deadline
        ),
    }
    marked = current.model_copy(update={"metadata": meta.model_copy(update=update)})
    if isinstance(marked, core.Namespace):
        marked = marked.model_copy(
            update={"status": marked.status.model_copy(update={"phase": "Terminating"})}
        )
    return marked


def _after(now: datetime, seconds: int) -> datetime:
    """`now + seconds`, held at the last representable instant: a grace period
    may be any int64, and Python's datetime ends in the year 9999."""
    try:
        return now + timedelta(seconds=seconds)
    except OverflowError:
        return datetime.max.replace(tzinfo=now.tzinfo)


def _grace_period(obj: Resource, requested: int | None) -> int:
    if not isinstance(obj, core.Pod):
        return 0
    # Pods that never reached a node, or already finished, have nothing to stop.
    if not obj.spec.node_name or obj.status.phase in ("Succeeded", "Failed"):
        return 0
    if requested is not None:
        return max(0, requested)
    spec_grace = obj.spec.termination_grace_period_seconds
    return 30 if spec_grace is None else max(0, spec_grace)


def bind_pod(pod: core.Pod, node_name: str, now: datetime) -> core.Pod:
    """The pods/binding subresource: set spec.nodeName once and mark PodScheduled."""
    if pod.metadata.deletion_timestamp is not None:
        raise Conflict(f'pod "{pod.metadata.name}" is being deleted, cannot be assigned to a host')
    if pod.spec.node_name:
        raise Conflict(
            f'pod "{pod.metadata.name}" is already assigned to node "{pod.spec.node_name}"'
        )
    conditions = [c for c in pod.status.conditions if c.type != "PodScheduled"]
    conditions.append(
        shared(core.PodCondition, type="PodScheduled", status="True", last_transition_time=now)
    )
    # Trusted parts of a stored pod: shallow copies without validation; the
    # spec's containers, volumes and the rest stay shared with the pod's
    # template, and the condition with every pod bound at the same instant.
    return copied(
        pod,
        {
            "spec": copied(pod.spec, {"node_name": node_name}),
            "status": copied(pod.status, {"conditions": shared_list(conditions)}),
        },
    )
