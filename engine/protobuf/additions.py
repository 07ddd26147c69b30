"""What Kubernetes 1.33 and 1.34 added to messages that a 1.32 binary's
descriptors already have: the fields (and the small messages they need),
with their numbers from the upstream `generated.proto` files of k8s.io/api
and whether Go declares them as pointers (from the `types.go` beside them).

`engine.protobuf.generate` applies them after extracting a binary's
descriptors, skipping any that the binary already has (so a newer binary
makes them redundant, never wrong). A test holds that, with them, every
message carries every field of the kinds' published 1.34 schemas.

Neighbours: `engine.protobuf.generate`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["FIELDS", "MESSAGES", "Field"]

Field = tuple[str, int, str, str]
"""(name, number, type, how): type is a scalar type's name or a message's full
name with a leading dot; how is "pointer", "value" or "repeated"."""

_CORE = ".k8s.io.api.core.v1"
_QUANTITY = ".k8s.io.apimachinery.pkg.api.resource.Quantity"

MESSAGES: Final[dict[str, list[Field]]] = {
    "k8s.io.api.core.v1.ContainerRestartRule": [
        ("action", 1, "string", "value"),
        ("exitCodes", 2, f"{_CORE}.ContainerRestartRuleOnExitCodes", "pointer"),
    ],
    "k8s.io.api.core.v1.ContainerRestartRuleOnExitCodes": [
        ("operator", 1, "string", "value"),
        ("values", 2, "int32", "repeated"),
    ],
    "k8s.io.api.core.v1.FileKeySelector": [
        ("volumeName", 1, "string", "value"),
        ("path", 2, "string", "value"),
        ("key", 3, "string", "value"),
        ("optional", 4, "bool", "pointer"),
    ],
    "k8s.io.api.core.v1.NodeSwapStatus": [("capacity", 1, "int64", "pointer")],
    "k8s.io.api.core.v1.ContainerExtendedResourceRequest": [
        ("containerName", 1, "string", "value"),
        ("resourceName", 2, "string", "value"),
        ("requestName", 3, "string", "value"),
    ],
    "k8s.io.api.core.v1.PodExtendedResourceClaimStatus": [
        ("requestMappings", 1, f"{_CORE}.ContainerExtendedResourceRequest", "repeated"),
        ("resourceClaimName", 2, "string", "value"),
    ],
    "k8s.io.api.core.v1.PodCertificateProjection": [
        ("signerName", 1, "string", "value"),
        ("keyType", 2, "string", "value"),
        ("maxExpirationSeconds", 3, "int32", "pointer"),
        ("credentialBundlePath", 4, "string", "value"),
        ("keyPath", 5, "string", "value"),
        ("certificateChainPath", 6, "string", "value"),
    ],
    "k8s.io.api.discovery.v1.ForNode": [("name", 1, "string", "value")],
}
"""Messages 1.33 and 1.34 added, by full name."""

FIELDS: Final[dict[str, list[Field]]] = {
    "k8s.io.api.apps.v1.DeploymentStatus": [("terminatingReplicas", 9, "int32", "pointer")],
    "k8s.io.api.apps.v1.ReplicaSetStatus": [("terminatingReplicas", 7, "int32", "pointer")],
    "k8s.io.api.autoscaling.v2.HPAScalingRules": [("tolerance", 4, _QUANTITY, "pointer")],
    "k8s.io.api.core.v1.Container": [
        ("restartPolicyRules", 25, f"{_CORE}.ContainerRestartRule", "repeated")
    ],
    "k8s.io.api.core.v1.EphemeralContainerCommon": [
        ("restartPolicyRules", 25, f"{_CORE}.ContainerRestartRule", "repeated")
    ],
    "k8s.io.api.core.v1.ContainerStatus": [("stopSignal", 15, "string", "pointer")],
    "k8s.io.api.core.v1.Lifecycle": [("stopSignal", 3, "string", "pointer")],
    "k8s.io.api.core.v1.EnvVarSource": [("fileKeyRef", 5, f"{_CORE}.FileKeySelector", "pointer")],
    "k8s.io.api.core.v1.NodeSystemInfo": [("swap", 11, f"{_CORE}.NodeSwapStatus", "pointer")],
    "k8s.io.api.core.v1.PodCondition": [("observedGeneration", 7, "int64", "value")],
    "k8s.io.api.core.v1.PodSpec": [("hostnameOverride", 41, "string", "pointer")],
    "k8s.io.api.core.v1.PodStatus": [
        ("observedGeneration", 17, "int64", "value"),
        (
            "extendedResourceClaimStatus",
            18,
            f"{_CORE}.PodExtendedResourceClaimStatus",
            "pointer",
        ),
    ],
    "k8s.io.api.core.v1.VolumeProjection": [
        ("podCertificate", 6, f"{_CORE}.PodCertificateProjection", "pointer")
    ],
    "k8s.io.api.discovery.v1.EndpointHints": [
        ("forNodes", 2, ".k8s.io.api.discovery.v1.ForNode", "repeated")
    ],
    "k8s.io.api.storage.v1.CSIDriverSpec": [
        ("nodeAllocatableUpdatePeriodSeconds", 9, "int64", "pointer")
    ],
    "k8s.io.api.storage.v1.VolumeError": [("errorCode", 3, "int32", "pointer")],
}
"""Fields 1.33 and 1.34 added to existing messages, by the message's full name."""
