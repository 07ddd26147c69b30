"""API versions Kubernetes removed, and the message a manifest using one gets:
"batch/v1beta1 CronJob was removed in Kubernetes 1.25; use batch/v1".

The table follows Kubernetes' deprecated API migration guide (removals of
1.16, 1.22, 1.25, 1.26, 1.27, 1.29 and 1.32). `removed_message(api_version,
kind)` answers None for anything not removed.

Neighbours: `engine.registry` (calls it for a kind it does not know),
`engine.catalogue` (what is served).
"""

from __future__ import annotations

from typing import Final

__all__ = ["REMOVED", "removed_message"]

# (apiVersion, kind) -> (release that removed it, replacement apiVersion or a note)
REMOVED: Final[dict[tuple[str, str], tuple[str, str]]] = {}


def _removed(release: str, replacement: str, api_versions: str, kinds: str) -> None:
    for api_version in api_versions.split():
        for kind in kinds.split():
            REMOVED[(api_version, kind)] = (release, replacement)


# 1.16
_removed("1.16", "networking.k8s.io/v1", "extensions/v1beta1", "NetworkPolicy")
_removed(
    "1.16",
    "apps/v1",
    "extensions/v1beta1 apps/v1beta1 apps/v1beta2",
    "Deployment DaemonSet ReplicaSet StatefulSet",
)
_removed("1.16", "apps/v1", "apps/v1beta1 apps/v1beta2", "ControllerRevision")
_removed(
    "1.16",
    "policy/v1beta1, itself removed in 1.25 without a replacement (use Pod Security Admission)",
    "extensions/v1beta1",
    "PodSecurityPolicy",
)
# 1.22
_removed(
    "1.22",
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1beta1",
    "MutatingWebhookConfiguration ValidatingWebhookConfiguration",
)
_removed(
    "1.22", "apiextensions.k8s.io/v1", "apiextensions.k8s.io/v1beta1", "CustomResourceDefinition"
)
_removed("1.22", "apiregistration.k8s.io/v1", "apiregistration.k8s.io/v1beta1", "APIService")
_removed("1.22", "authentication.k8s.io/v1", "authentication.k8s.io/v1beta1", "TokenReview")
_removed(
    "1.22",
    "authorization.k8s.io/v1",
    "authorization.k8s.io/v1beta1",
    "SubjectAccessReview LocalSubjectAccessReview SelfSubjectAccessReview SelfSubjectRulesReview",
)
_removed(
    "1.22", "certificates.k8s.io/v1", "certificates.k8s.io/v1beta1", "CertificateSigningRequest"
)
_removed("1.22", "coordination.k8s.io/v1", "coordination.k8s.io/v1beta1", "Lease")
_removed("1.22", "networking.k8s.io/v1", "extensions/v1beta1 networking.k8s.io/v1beta1", "Ingress")
_removed("1.22", "networking.k8s.io/v1", "networking.k8s.io/v1beta1", "IngressClass")
_removed(
    "1.22",
    "rbac.authorization.k8s.io/v1",
    "rbac.authorization.k8s.io/v1beta1 rbac.authorization.k8s.io/v1alpha1",
    "ClusterRole ClusterRoleBinding Role RoleBinding",
)
_removed("1.22", "scheduling.k8s.io/v1", "scheduling.k8s.io/v1beta1", "PriorityClass")
_removed(
    "1.22",
    "storage.k8s.io/v1",
    "storage.k8s.io/v1beta1",
    "CSIDriver CSINode StorageClass VolumeAttachment",
)
# 1.25
_removed("1.25", "batch/v1", "batch/v1beta1", "CronJob")
_removed("1.25", "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1", "EndpointSlice")
_removed("1.25", "events.k8s.io/v1", "events.k8s.io/v1beta1", "Event")
_removed("1.25", "autoscaling/v2", "autoscaling/v2beta1", "HorizontalPodAutoscaler")
_removed("1.25", "policy/v1", "policy/v1beta1", "PodDisruptionBudget")
_removed(
    "1.25",
    "no replacement API (use Pod Security Admission or a third-party admission webhook)",
    "policy/v1beta1",
    "PodSecurityPolicy",
)
_removed("1.25", "node.k8s.io/v1", "node.k8s.io/v1beta1", "RuntimeClass")
# 1.26
_removed(
    "1.26",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta1",
    "FlowSchema PriorityLevelConfiguration",
)
_removed("1.26", "autoscaling/v2", "autoscaling/v2beta2", "HorizontalPodAutoscaler")
# 1.27
_removed("1.27", "storage.k8s.io/v1", "storage.k8s.io/v1beta1", "CSIStorageCapacity")
# 1.29
_removed(
    "1.29",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta2",
    "FlowSchema PriorityLevelConfiguration",
)
# 1.32
_removed(
    "1.32",
    "flowcontrol.apiserver.k8s.io/v1",
    "flowcontrol.apiserver.k8s.io/v1beta3",
    "FlowSchema PriorityLevelConfiguration",
)


def removed_message(api_version: str, kind: str) -> str | None:
    """The error for a kind in a removed version, naming its replacement; None
    when (api_version, kind) was not removed."""
    entry = REMOVED.get((api_version, kind))
    if entry is None:
        return None
    release, replacement = entry
    use = replacement if " " in replacement else f"use {replacement}"
    if replacement.startswith("policy/v1beta1,"):
        use = f"its replacement was {replacement}"
    return f"{api_version} {kind} was removed in Kubernetes {release}; {use}"
