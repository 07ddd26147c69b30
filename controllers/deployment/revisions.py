"""ReplicaSets as a Deployment's revisions: the annotations that number them
and record scaling, telling the new ReplicaSet from the old ones, and
comparing templates while ignoring the `pod-template-hash` label.

Annotations (Kubernetes' names):

* `deployment.kubernetes.io/revision`: the revision number of a ReplicaSet,
  and on the Deployment the revision it currently runs;
* `deployment.kubernetes.io/revision-history`: earlier numbers a ReplicaSet
  had, when a rollback made it current again under a new number;
* `deployment.kubernetes.io/desired-replicas` and `.../max-replicas`: the
  Deployment's replicas and replicas + maxSurge when the ReplicaSet was last
  scaled, the base of proportional scaling.

The Deployment's other annotations are copied onto its new ReplicaSet (except
these and kubectl's last-applied-configuration), as Kubernetes does.

Neighbours: `controllers.deployment.sync` writes these annotations;
`controllers.deployment.rollout` reads them for rollback.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from engine.api import Deployment, PodTemplateSpec, ReplicaSet

__all__ = [
    "ANNOTATIONS_NOT_COPIED",
    "DESIRED_REPLICAS_ANNOTATION",
    "MAX_REPLICAS_ANNOTATION",
    "MAX_REVISION_HISTORY_CHARS",
    "POD_TEMPLATE_HASH_LABEL",
    "REVISION_ANNOTATION",
    "REVISION_HISTORY_ANNOTATION",
    "by_creation",
    "by_revision",
    "desired_replicas_annotation",
    "equal_ignore_hash",
    "find_new_replica_set",
    "find_old_replica_sets",
    "max_replicas_annotation",
    "max_revision",
    "new_replica_set_annotations",
    "replicas_annotations",
    "revision",
]

REVISION_ANNOTATION: Final = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION: Final = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION: Final = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION: Final = "deployment.kubernetes.io/max-replicas"
ROLLBACK_TO_ANNOTATION: Final = "deprecated.deployment.rollback.to"
LAST_APPLIED_ANNOTATION: Final = "kubectl.kubernetes.io/last-applied-configuration"
POD_TEMPLATE_HASH_LABEL: Final = "pod-template-hash"
MAX_REVISION_HISTORY_CHARS: Final = 2000

ANNOTATIONS_NOT_COPIED: Final = frozenset(
    {
        LAST_APPLIED_ANNOTATION,
        REVISION_ANNOTATION,
        REVISION_HISTORY_ANNOTATION,
        DESIRED_REPLICAS_ANNOTATION,
        MAX_REPLICAS_ANNOTATION,
        ROLLBACK_TO_ANNOTATION,
    }
)


def _int_annotation(annotations: Mapping[str, str], name: str) -> int | None:
    value = annotations.get(name)
    if value is None:
        return None
    try:
        return int(value, 10)
    except ValueError:
        return None


def revision(obj: Deployment | ReplicaSet) -> int | None:
    """The revision annotation: 0 when absent, None when not a number."""
    annotations = obj.metadata.annotations
    if REVISION_ANNOTATION not in annotations:
        return 0
    return _int_annotation(annotations, REVISION_ANNOTATION)


def max_revision(rss: Iterable[ReplicaSet]) -> int:
    return max((r for r in (revision(rs) for rs in rss) if r is not None), default=0)


def desired_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs.metadata.annotations, DESIRED_REPLICAS_ANNOTATION)


def max_replicas_annotation(rs: ReplicaSet) -> int | None:
    return _int_annotation(rs.metadata.annotations, MAX_REPLICAS_ANNOTATION)


def replicas_annotations(
    annotations: Mapping[str, str], desired: int, max_replicas: int
) -> dict[str, str] | None:
    """`annotations` with the scaling annotations set, or None if they are already."""
    want = {DESIRED_REPLICAS_ANNOTATION: str(desired), MAX_REPLICAS_ANNOTATION: str(max_replicas)}
    if all(annotations.get(k) == v for k, v in want.items()):
        return None
    return {**annotations, **want}


def new_replica_set_annotations(
    d: Deployment,
    rs_annotations: Mapping[str, str],
    new_revision: int,
    *,
    exists: bool,
    desired: int,
    max_replicas: int,
) -> dict[str, str] | None:
    """The annotations the Deployment's new ReplicaSet should carry (Kubernetes'
    SetNewReplicaSetAnnotations), or None if it carries them already."""
    result = dict(rs_annotations)
    changed = False
    for key, value in d.metadata.annotations.items():
        if key not in ANNOTATIONS_NOT_COPIED and result.get(key) != value:
            result[key] = value
            changed = True
    old_text = result.get(REVISION_ANNOTATION)
    if old_text is None:
        old = 0
    else:
        parsed = _int_annotation(result, REVISION_ANNOTATION)
        if parsed is None:
            return result if changed else None  # not a number: leave it alone
        old = parsed
    if old < new_revision:
        result[REVISION_ANNOTATION] = str(new_revision)
        changed = True
        if old_text is not None:
            # Made current again (a rollback): remember the numbers it had.
            _append_history(result, old_text)
    if not exists:
        updated = replicas_annotations(result, desired, max_replicas)
        if updated is not None:
            result = updated
            changed = True
    return result if changed else None


def _append_history(annotations: dict[str, str], old_revision: str) -> None:
    history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
    if not history:
        annotations[REVISION_HISTORY_ANNOTATION] = old_revision
        return
    entries = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > MAX_REVISION_HISTORY_CHARS and start < len(entries):
        total -= len(entries[start]) + 1
        start += 1
    if total <= MAX_REVISION_HISTORY_CHARS:
        annotations[REVISION_HISTORY_ANNOTATION] = ",".join([*entries[start:], old_revision])


def equal_ignore_hash(a: PodTemplateSpec, b: PodTemplateSpec) -> bool:
    """Templates equal except for the pod-template-hash label."""
    if a is b:
        return True
    if a.spec is not b.spec and a.spec != b.spec:
        return False
    ma, mb = a.metadata, b.metadata
    la = {k: v for k, v in ma.labels.items() if k != POD_TEMPLATE_HASH_LABEL}
    lb = {k: v for k, v in mb.labels.items() if k != POD_TEMPLATE_HASH_LABEL}
    if la != lb:
        return False
    return ma.model_copy(update={"labels": {}}) == mb.model_copy(update={"labels": {}})


def by_creation(rs: ReplicaSet) -> tuple[object, str]:
    """Sort key: oldest first, then by name (ReplicaSetsByCreationTimestamp)."""
    return (rs.metadata.creation_timestamp, rs.metadata.name)


def by_revision(rs: ReplicaSet) -> tuple[int, object, str]:
    """Sort key: lowest revision first, then oldest (ReplicaSetsByRevision)."""
    number = revision(rs)
    return (number if number is not None else 0, rs.metadata.creation_timestamp, rs.metadata.name)


def find_new_replica_set(d: Deployment, rss: Sequence[ReplicaSet]) -> ReplicaSet | None:
    """The oldest ReplicaSet whose template is the Deployment's."""
    template = d.spec.template
    for rs in sorted(rss, key=by_creation):
        if equal_ignore_hash(rs.spec.template, template):
            return rs
    return None


def find_old_replica_sets(
    d: Deployment, rss: Sequence[ReplicaSet], new_rs: ReplicaSet | None
) -> tuple[list[ReplicaSet], list[ReplicaSet]]:
    """(old ReplicaSets with replicas, all old ReplicaSets)."""
    new_uid = new_rs.metadata.uid if new_rs is not None else None
    old = [rs for rs in rss if rs.metadata.uid != new_uid]
    return [rs for rs in old if rs.spec.replicas != 0], old
