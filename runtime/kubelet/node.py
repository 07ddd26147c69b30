"""The kubelet's view of its Node object: registration and status, as pure functions.

Role: turn a `KubeletConfig` into the Node the kubelet registers (labels
kubernetes.io/hostname, kubernetes.io/os, kubernetes.io/arch and the topology
zone/region labels when configured; taints; podCIDR; capacity and
allocatable; addresses; nodeInfo; the four kubelet-owned conditions), and
refresh that status on every heartbeat.

Contract: `refreshed_status(node, ...)` returns the status the kubelet would
post now. Conditions keep their lastTransitionTime while their status stays
the same; only lastHeartbeatTime moves. `status_changed(a, b)` compares two
statuses ignoring heartbeat times, as the kubelet does to decide whether a
post is due before nodeStatusReportFrequency elapses (Kubernetes'
nodeStatusHasChanged). Conditions the kubelet does not own (set by others,
e.g. NetworkUnavailable) are kept as they are.

Neighbours: `runtime.kubelet.config`, `runtime.kubelet.kubelet` (posts it),
`controllers.nodelifecycle` (reads Ready and the heartbeats; sets Unknown).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from engine.api import core
from engine.api.base import ObjectMeta
from runtime.kubelet.config import KubeletConfig

__all__ = [
    "KUBELET_CONDITIONS",
    "node_labels",
    "refreshed_status",
    "registration_node",
    "status_changed",
]

LABEL_HOSTNAME = "kubernetes.io/hostname"
LABEL_OS = "kubernetes.io/os"
LABEL_ARCH = "kubernetes.io/arch"
LABEL_ZONE = "topology.kubernetes.io/zone"
LABEL_REGION = "topology.kubernetes.io/region"

# type -> (status when healthy, reason, message); Ready is True, the pressures False.
KUBELET_CONDITIONS: dict[str, tuple[str, str, str]] = {
    "MemoryPressure": ("False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
    "DiskPressure": ("False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    "PIDPressure": ("False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    "Ready": ("True", "KubeletReady", "kubelet is posting ready status"),
}


def node_labels(config: KubeletConfig) -> dict[str, str]:
    labels = {
        LABEL_ARCH: config.architecture,
        LABEL_HOSTNAME: config.node_name,
        LABEL_OS: config.operating_system,
        "beta.kubernetes.io/arch": config.architecture,
        "beta.kubernetes.io/os": config.operating_system,
    }
    if config.zone:
        labels[LABEL_ZONE] = config.zone
    if config.region:
        labels[LABEL_REGION] = config.region
    labels.update(config.labels)
    return labels


def registration_node(
    config: KubeletConfig, *, runtime_version: str, boot_id: str, now: datetime
) -> core.Node:
    """The Node a kubelet creates when it first registers."""
    spec = core.NodeSpec(
        pod_cidr=config.pod_cidr,
        pod_cidrs=[config.pod_cidr],
        taints=list(config.taints),
        provider_id=f"kubeloop://{config.node_name}",
    )
    node = core.Node(
        metadata=ObjectMeta(name=config.node_name, labels=node_labels(config)),
        spec=spec,
    )
    return node.model_copy(
        update={
            "status": refreshed_status(
                node, config, runtime_version=runtime_version, boot_id=boot_id, now=now
            )
        }
    )


def refreshed_status(
    node: core.Node,
    config: KubeletConfig,
    *,
    runtime_version: str,
    boot_id: str,
    now: datetime,
) -> core.NodeStatus:
    """The status to post now, starting from what the API holds."""
    status = node.status
    owned = set(KUBELET_CONDITIONS)
    existing = {c.type: c for c in status.conditions}
    conditions: list[core.NodeCondition] = [c for c in status.conditions if c.type not in owned]
    for ctype, (healthy, reason, message) in KUBELET_CONDITIONS.items():
        old = existing.get(ctype)
        transitioned = old is None or old.status != healthy
        conditions.append(
            core.NodeCondition(
                type=ctype,
                status=healthy,
                reason=reason,
                message=message,
                last_heartbeat_time=now,
                last_transition_time=now
                if transitioned or old is None
                else old.last_transition_time,
            )
        )
    node_info = core.NodeSystemInfo(
        machine_id=_stable_id(config.node_name, "machine"),
        system_uuid=_stable_id(config.node_name, "system"),
        boot_id=boot_id,
        kernel_version="6.8.0-kubeloop",
        os_image="kubeloop",
        container_runtime_version=runtime_version,
        kubelet_version=config.kubelet_version,
        kube_proxy_version=config.kubelet_version,
        operating_system=config.operating_system,
        architecture=config.architecture,
    )
    return status.model_copy(
        update={
            "capacity": config.capacity_quantities(),
            "allocatable": config.allocatable_quantities(),
            "conditions": conditions,
            "addresses": [
                core.NodeAddress(type="InternalIP", address=config.internal_ip),
                core.NodeAddress(type="Hostname", address=config.node_name),
            ],
            "daemon_endpoints": core.NodeDaemonEndpoints(
                kubelet_endpoint=core.DaemonEndpoint(port=config.kubelet_port)
            ),
            "node_info": node_info,
        }
    )


def status_changed(old: core.NodeStatus, new: core.NodeStatus) -> bool:
    """Whether two statuses differ in anything but the conditions' heartbeat times."""
    if len(old.conditions) != len(new.conditions):
        return True
    old_conditions = {c.type: c for c in old.conditions}
    for condition in new.conditions:
        previous = old_conditions.get(condition.type)
        if previous is None or previous.model_copy(
            update={"last_heartbeat_time": None}
        ) != condition.model_copy(update={"last_heartbeat_time": None}):
            return True
    return (
        old.capacity != new.capacity
        or old.allocatable != new.allocatable
        or old.addresses != new.addresses
        or old.node_info != new.node_info
        or old.daemon_endpoints != new.daemon_endpoints
    )


def _stable_id(name: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}/{name}".encode()).hexdigest()[:32]
