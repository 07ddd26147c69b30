"""The status conditions a terminating namespace reports, from a content report.

Kubernetes' namespace controller explains a namespace stuck in Terminating
through three conditions, which this module computes with the same types,
reasons and message shapes:

* `NamespaceDeletionContentFailure`: deleting some resources failed;
* `NamespaceContentRemaining`: objects are still there (graceful deletion or
  finalizers pending);
* `NamespaceFinalizersRemaining`: which finalizers hold the remaining objects.

`namespace_conditions` is pure; the controller writes the result with
update_status only when it differs. A condition keeps its lastTransitionTime
while its status stays the same.

Neighbours: `controllers.namespace.content` (the report),
`controllers.namespace.controller` (writes the conditions).
"""

from __future__ import annotations

from datetime import datetime

from controllers.namespace.content import ContentReport
from engine.api.core import NamespaceCondition

__all__ = [
    "CONTENT_FAILURE",
    "CONTENT_REMAINING",
    "FINALIZERS_REMAINING",
    "namespace_conditions",
]

CONTENT_FAILURE = "NamespaceDeletionContentFailure"
CONTENT_REMAINING = "NamespaceContentRemaining"
FINALIZERS_REMAINING = "NamespaceFinalizersRemaining"
OWNED_TYPES = (CONTENT_FAILURE, CONTENT_REMAINING, FINALIZERS_REMAINING)


def _report_conditions(report: ContentReport) -> list[tuple[str, bool, str, str]]:
    """(type, status, reason, message) for each owned condition."""
    if report.failures:
        failure = (
            CONTENT_FAILURE,
            True,
            "ContentDeletionFailed",
            "Failed to delete all resource types, "
            f"{len(report.failures)} remaining: {'; '.join(report.failures)}",
        )
    else:
        failure = (
            CONTENT_FAILURE,
            False,
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization",
        )
    if report.remaining:
        counts = ", ".join(
            f"{res} has {n} resource instances" for res, n in report.remaining.items()
        )
        remaining = (
            CONTENT_REMAINING,
            True,
            "SomeResourcesRemain",
            f"Some resources are remaining: {counts}",
        )
    else:
        remaining = (CONTENT_REMAINING, False, "ContentRemoved", "All content successfully removed")
    if report.finalizers:
        held = ", ".join(
            f"{name} in {n} resource instances" for name, n in sorted(report.finalizers.items())
        )
        finalizers = (
            FINALIZERS_REMAINING,
            True,
            "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {held}",
        )
    else:
        finalizers = (
            FINALIZERS_REMAINING,
            False,
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished",
        )
    return [failure, remaining, finalizers]


def namespace_conditions(
    existing: list[NamespaceCondition], report: ContentReport, now: datetime
) -> list[NamespaceCondition]:
    """The namespace's conditions updated from `report`; others are kept as they are."""
    previous = {c.type: c for c in existing}
    updated = [c for c in existing if c.type not in OWNED_TYPES]
    for condition_type, status, reason, message in _report_conditions(report):
        status_text = "True" if status else "False"
        old = previous.get(condition_type)
        if old is not None and (old.status, old.reason, old.message) == (
            status_text,
            reason,
            message,
        ):
            updated.append(old)
            continue
        since = old.last_transition_time if old is not None and old.status == status_text else now
        updated.append(
            NamespaceCondition(
                type=condition_type,
                status=status_text,
                last_transition_time=since,
                reason=reason,
                message=message,
            )
        )
    return updated
