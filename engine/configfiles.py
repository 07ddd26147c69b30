"""Configuration files of Kubernetes' programs, which look like manifests
(apiVersion and kind) but are read by a program at start and never served by an
apiserver: an AdmissionConfiguration, a KubeletConfiguration, an audit Policy,
a kubeconfig. `config_file_owner(api_version, kind)` names the program that
reads one, or None, so that applying one gets an error saying so rather than
"create the CustomResourceDefinition first".

Neighbours: `engine.registry` (builds the unknown-kind message),
`engine.removed` (versions Kubernetes removed).
"""

from __future__ import annotations

from typing import Final

__all__ = ["config_file_owner"]

# API group -> the program that reads files of that group.
_GROUP_OWNERS: Final[dict[str, str]] = {
    "apiserver.config.k8s.io": "kube-apiserver",
    "apiserver.k8s.io": "kube-apiserver",
    "audit.k8s.io": "kube-apiserver",
    "eventratelimit.admission.k8s.io": "kube-apiserver",
    "podsecurity.admission.config.k8s.io": "kube-apiserver",
    "kubescheduler.config.k8s.io": "kube-scheduler",
    "kubelet.config.k8s.io": "the kubelet",
    "credentialprovider.kubelet.k8s.io": "the kubelet",
    "kubeproxy.config.k8s.io": "kube-proxy",
    "kubecontrollermanager.config.k8s.io": "kube-controller-manager",
    "cloudcontrollermanager.config.k8s.io": "cloud-controller-manager",
    "kubeadm.k8s.io": "kubeadm",
    "client.authentication.k8s.io": "client-go credential plugins",
    "kind.x-k8s.io": "kind (Kubernetes in Docker)",
}


def config_file_owner(api_version: str, kind: str) -> str | None:
    """What reads a file of this apiVersion and kind, as a phrase completing
    "<kind> is a ... file of": None for anything else."""
    if api_version == "v1" and kind == "Config":
        return "kubeconfig file of kubectl and other clients"
    owner = _GROUP_OWNERS.get(api_version.rpartition("/")[0])
    return None if owner is None else f"configuration file of {owner}"
