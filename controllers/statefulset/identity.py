"""A StatefulSet pod's stable identity (Kubernetes' stateful_set_utils.go):
its name `<set>-<ordinal>`, its labels, hostname and subdomain, and the
PersistentVolumeClaims `<claim>-<set>-<ordinal>` made from the set's
`volumeClaimTemplates`.

Pure functions over shared objects: nothing here writes to the API.

* `ordinal_of(set_name, pod)` parses the ordinal from a pod's name (-1 when
  the name is not of the set);
* `new_pod(set, template, revision, ordinal)` is the pod to create: the
  template's labels plus `statefulset.kubernetes.io/pod-name`,
  `apps.kubernetes.io/pod-index` and `controller-revision-hash`, hostname the
  pod's name, subdomain the set's `serviceName`, a controllerRef to the set,
  and each claim template mounted as a `persistentVolumeClaim` volume of the
  same name (replacing a template volume of that name, as Kubernetes does);
* `new_claims(set, ordinal)` are the claims that pod uses, labelled with the
  set's `matchLabels` like Kubernetes' claims.

Neighbours: `controllers.statefulset.control` (the sync), `.retention`.
"""

from __future__ import annotations

from typing import Final

from controllers.common.ownership import new_controller_ref
from engine.api import (
    ObjectMeta,
    PersistentVolumeClaim,
    PersistentVolumeClaimVolumeSource,
    Pod,
    PodTemplateSpec,
    StatefulSet,
    Volume,
)

__all__ = [
    "POD_INDEX_LABEL",
    "POD_NAME_LABEL",
    "REVISION_LABEL",
    "claim_name",
    "new_claims",
    "new_pod",
    "ordinal_of",
    "pod_name",
    "start_ordinal",
]

POD_NAME_LABEL: Final = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL: Final = "apps.kubernetes.io/pod-index"
REVISION_LABEL: Final = "controller-revision-hash"


def start_ordinal(sts: StatefulSet) -> int:
    ordinals = sts.spec.ordinals
    return ordinals.start if ordinals is not None else 0


def pod_name(sts: StatefulSet, ordinal: int) -> str:
    return f"{sts.metadata.name}-{ordinal}"


def claim_name(template_name: str, sts: StatefulSet, ordinal: int) -> str:
    return f"{template_name}-{sts.metadata.name}-{ordinal}"


def ordinal_of(set_name: str, pod: Pod) -> int:
    """The pod's ordinal, or -1 if its name is not `<set_name>-<digits>`."""
    name = pod.metadata.name
    prefix, _, digits = name.rpartition("-")
    if prefix != set_name or not digits.isdigit() or (digits != "0" and digits[0] == "0"):
        return -1
    return int(digits)


def new_claims(sts: StatefulSet, ordinal: int) -> list[PersistentVolumeClaim]:
    """The claims of the pod with `ordinal` (not yet owned by anything)."""
    match = sts.spec.selector.match_labels
    claims = []
    for template in sts.spec.volume_claim_templates:
        meta = template.metadata
        claims.append(
            template.model_copy(
                update={
                    "metadata": ObjectMeta(
                        name=claim_name(meta.name, sts, ordinal),
                        namespace=sts.metadata.namespace,
                        labels={**meta.labels, **match},
                        annotations=meta.annotations,
                    ),
                }
            )
        )
    return claims


def new_pod(sts: StatefulSet, template: PodTemplateSpec, revision: str, ordinal: int) -> Pod:
    """The pod with `ordinal`, made from `template` at `revision`."""
    name = pod_name(sts, ordinal)
    meta = template.metadata
    labels = {
        **meta.labels,
        POD_NAME_LABEL: name,
        POD_INDEX_LABEL: str(ordinal),
        REVISION_LABEL: revision,
    }
    spec = template.spec
    update: dict[str, object] = {"hostname": name}
    if sts.spec.service_name:
        update["subdomain"] = sts.spec.service_name
    if sts.spec.volume_claim_templates:
        claimed = {t.metadata.name for t in sts.spec.volume_claim_templates}
        volumes = [v for v in spec.volumes if v.name not in claimed]
        volumes.extend(
            Volume(
                name=t.metadata.name,
                persistent_volume_claim=PersistentVolumeClaimVolumeSource(
                    claim_name=claim_name(t.metadata.name, sts, ordinal)
                ),
            )
            for t in sts.spec.volume_claim_templates
        )
        update["volumes"] = volumes
    return Pod(
        metadata=ObjectMeta(
            name=name,
            namespace=sts.metadata.namespace,
            labels=labels,
            annotations=meta.annotations,
            finalizers=meta.finalizers,
            owner_references=[new_controller_ref(sts)],
        ),
        spec=spec.model_copy(update=update),
    )
