"""Kinds a Kubernetes 1.34 apiserver knows but serves only when an alpha or
beta feature gate (and its API version) is switched on: kubeloop serves what a
1.34 apiserver serves with its default feature gates, so a manifest of one of
these kinds gets an error naming the gate rather than "a built-in API group
without this kind" (documentation written for a later release uses them).
`gated_message(api_version, kind)` answers None for any other kind.

Neighbours: `engine.registry` (builds the unknown-kind message),
`engine.removed` (versions Kubernetes removed), `engine.catalogue` (what is
served).
"""

from __future__ import annotations

from typing import Final

__all__ = ["GATED", "gated_message"]

# kind -> (feature gate, stage in 1.34, its API version in 1.34)
GATED: Final[dict[str, tuple[str, str, str]]] = {
    "MutatingAdmissionPolicy": (
        "MutatingAdmissionPolicy",
        "beta",
        "admissionregistration.k8s.io/v1beta1",
    ),
    "MutatingAdmissionPolicyBinding": (
        "MutatingAdmissionPolicy",
        "beta",
        "admissionregistration.k8s.io/v1beta1",
    ),
    "ClusterTrustBundle": ("ClusterTrustBundle", "beta", "certificates.k8s.io/v1beta1"),
    "PodCertificateRequest": ("PodCertificateRequest", "alpha", "certificates.k8s.io/v1alpha1"),
    "LeaseCandidate": ("CoordinatedLeaderElection", "beta", "coordination.k8s.io/v1beta1"),
    "StorageVersionMigration": (
        "StorageVersionMigrator",
        "alpha",
        "storagemigration.k8s.io/v1alpha1",
    ),
    "DeviceTaintRule": ("DRADeviceTaints", "alpha", "resource.k8s.io/v1alpha3"),
}


def gated_message(api_version: str, kind: str) -> str | None:
    """Why `kind` of `api_version`'s group is not served, naming its feature
    gate; None if it is not gated (or is a custom kind of another group)."""
    entry = GATED.get(kind)
    if entry is None or entry[2].rpartition("/")[0] != api_version.rpartition("/")[0]:
        return None
    gate, stage, served_as = entry
    return (
        f"{kind} is not served by a Kubernetes 1.34 apiserver with its default feature "
        f"gates: it needs the {gate} feature gate ({stage} in 1.34, as {served_as})"
    )
