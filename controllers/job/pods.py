"""The pods a Job creates: its template, plus what the Job controller adds.

Every pod gets the Job's controller reference and the job-tracking finalizer
(`batch.kubernetes.io/job-tracking`): a finished pod cannot vanish before
the controller has counted it. An Indexed Job's pod also gets its completion
index (annotation and label `batch.kubernetes.io/job-completion-index`), the
`JOB_COMPLETION_INDEX` environment variable in every container (read from
that annotation through the downward API), the hostname `<job>-<index>` and
a name `<job>-<index>-<suffix>`; with `backoffLimitPerIndex`, the failures
its index has had so far (`batch.kubernetes.io/job-index-failure-count`).

Neighbours: `controllers.job.controller` creates these; the kubelet resolves
the downward-API variable.
"""

from __future__ import annotations

from typing import Final

from controllers.common.ownership import new_controller_ref
from controllers.job.indexes import COMPLETION_INDEX_ANNOTATION
from engine.api import Container, EnvVar, Job, ObjectMeta, Pod, PodSpec
from engine.api.core import EnvVarSource, ObjectFieldSelector

__all__ = [
    "COMPLETION_INDEX_ENV",
    "INDEX_FAILURE_COUNT_ANNOTATION",
    "TRACKING_FINALIZER",
    "PodFactory",
]

TRACKING_FINALIZER: Final = "batch.kubernetes.io/job-tracking"
INDEX_FAILURE_COUNT_ANNOTATION: Final = "batch.kubernetes.io/job-index-failure-count"
COMPLETION_INDEX_ENV: Final = "JOB_COMPLETION_INDEX"

_INDEX_ENV: Final = EnvVar(
    name=COMPLETION_INDEX_ENV,
    value_from=EnvVarSource(
        field_ref=ObjectFieldSelector(
            field_path=f"metadata.annotations['{COMPLETION_INDEX_ANNOTATION}']"
        )
    ),
)


def _with_index_env(containers: list[Container]) -> list[Container]:
    return [
        c
        if any(e.name == COMPLETION_INDEX_ENV for e in c.env)
        else c.model_copy(update={"env": [*c.env, _INDEX_ENV]})
        for c in containers
    ]


class PodFactory:
    """Builds a Job's pods; the parts shared by all of them are built once per
    template (the store copies a pod on create, so sharing is safe)."""

    def __init__(self) -> None:
        # job uid -> (template spec it was built from, indexed spec with the env var)
        self._specs: dict[str, tuple[PodSpec, PodSpec]] = {}

    def forget(self, uid: str) -> None:
        self._specs.pop(uid, None)

    def new_pod(self, job: Job, index: int | None, failure_count: int | None) -> Pod:
        template = job.spec.template
        meta = template.metadata
        labels = meta.labels
        annotations = meta.annotations
        spec = template.spec
        name = job.metadata.name
        generate_name = f"{name}-"
        if index is not None:
            generate_name = f"{name}-{index}-"
            labels = {**labels, COMPLETION_INDEX_ANNOTATION: str(index)}
            annotations = {**annotations, COMPLETION_INDEX_ANNOTATION: str(index)}
            spec = self._indexed_spec(job).model_copy(update={"hostname": f"{name}-{index}"})
        if failure_count is not None:
            annotations = {**annotations, INDEX_FAILURE_COUNT_ANNOTATION: str(failure_count)}
        finalizers = meta.finalizers
        if TRACKING_FINALIZER not in finalizers:
            finalizers = [*finalizers, TRACKING_FINALIZER]
        return Pod(
            metadata=ObjectMeta(
                generate_name=generate_name,
                namespace=job.metadata.namespace,
                labels=labels,
                annotations=annotations,
                finalizers=finalizers,
                owner_references=[new_controller_ref(job)],
            ),
            spec=spec,
        )

    def _indexed_spec(self, job: Job) -> PodSpec:
        spec = job.spec.template.spec
        cached = self._specs.get(job.metadata.uid)
        if cached is not None and cached[0] is spec:
            return cached[1]
        indexed = spec.model_copy(
            update={
                "containers": _with_index_env(spec.containers),
                "init_containers": _with_index_env(spec.init_containers),
            }
        )
        self._specs[job.metadata.uid] = (spec, indexed)
        return indexed
