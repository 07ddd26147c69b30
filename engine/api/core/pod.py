"""core/v1 Pod: PodSpec, PodStatus, PodTemplateSpec and the pods/binding
subresource body (`Binding`).

Static Kubernetes defaults (SetDefaults_PodSpec) are field defaults:
restartPolicy Always, terminationGracePeriodSeconds 30, dnsPolicy
ClusterFirst, schedulerName default-scheduler, securityContext {}. What only
Pods (not templates) get, and what admission adds on create, is in
`engine.api.defaulting`. `qos_class` is Kubernetes' GetPodQOS.

`pod.status` always exists, so `pod.status.phase` reads without None checks
(None until the store or kubelet sets it).

Neighbours: `engine.api.core.containers`, `engine.api.core.volumes`,
`engine.api.core.placement` (the parts of a PodSpec); `engine.api.apps` and
`engine.api.batch` embed PodTemplateSpec.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any, Final

from pydantic import Field, StrictBool

from engine.api.base import KubeModel, ObjectMeta, Resource
from engine.api.core.common import LocalObjectReference, ObjectReference, find_condition
from engine.api.core.containers import (
    AppArmorProfile,
    Container,
    EphemeralContainer,
    ResourceRequirements,
    SeccompProfile,
    SELinuxOptions,
    WindowsSecurityContextOptions,
)
from engine.api.core.placement import Affinity, Toleration, TopologySpreadConstraint
from engine.api.core.volumes import Volume
from engine.api.integers import Int32, Int64
from engine.quantity import Quantity, ResourceList
from engine.registry import kind

__all__ = [
    "Binding",
    "ContainerState",
    "ContainerStateRunning",
    "ContainerStateTerminated",
    "ContainerStateWaiting",
    "ContainerStatus",
    "HostAlias",
    "HostIP",
    "Pod",
    "PodCondition",
    "PodDNSConfig",
    "PodDNSConfigOption",
    "PodIP",
    "PodOS",
    "PodReadinessGate",
    "PodResourceClaim",
    "PodSchedulingGate",
    "PodSecurityContext",
    "PodSpec",
    "PodStatus",
    "PodTemplateSpec",
    "Sysctl",
    "VolumeMountStatus",
    "qos_class",
]

TERMINAL_PHASES: Final = frozenset({"Succeeded", "Failed"})
JSONObject = dict[str, Any]


class Sysctl(KubeModel):
    name: str
    value: str


class PodSecurityContext(KubeModel):
    """Pod-wide security settings; nobody in kubeloop enforces them."""

    se_linux_options: SELinuxOptions | None = None
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: Int64 | None = None
    run_as_group: Int64 | None = None
    run_as_non_root: StrictBool | None = None
    supplemental_groups: list[Int64] = Field(default_factory=list)
    supplemental_groups_policy: str | None = None
    fs_group: Int64 | None = None
    sysctls: list[Sysctl] = Field(default_factory=list)
    fs_group_change_policy: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None
    se_linux_change_policy: str | None = None


class PodDNSConfigOption(KubeModel):
    name: str | None = None
    value: str | None = None


class PodDNSConfig(KubeModel):
    nameservers: list[str] = Field(default_factory=list)
    searches: list[str] = Field(default_factory=list)
    options: list[PodDNSConfigOption] = Field(default_factory=list)


class HostAlias(KubeModel):
    """An /etc/hosts entry."""

    ip: str
    hostnames: list[str] = Field(default_factory=list)


class PodOS(KubeModel):
    name: str


class PodReadinessGate(KubeModel):
    """An extra condition type that must be True for the pod to be Ready."""

    condition_type: str


class PodSchedulingGate(KubeModel):
    """While any gate remains, the scheduler does not consider the pod."""

    name: str


class PodResourceClaim(KubeModel):
    name: str
    resource_claim_name: str | None = None
    resource_claim_template_name: str | None = None


class PodSchedulingGroup(KubeModel):
    pod_group_name: str | None = None


class EvictionResponder(KubeModel):
    name: str
    priority: Int32


class PodSpec(KubeModel):
    """What a pod runs and where it may run."""

    containers: list[Container] = Field(default_factory=list)
    init_containers: list[Container] = Field(default_factory=list)
    ephemeral_containers: list[EphemeralContainer] = Field(default_factory=list)
    volumes: list[Volume] = Field(default_factory=list)
    restart_policy: str = "Always"
    termination_grace_period_seconds: Int64 | None = 30
    active_deadline_seconds: Int64 | None = None
    dns_policy: str = "ClusterFirst"
    dns_config: PodDNSConfig | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    node_name: str | None = None
    service_account_name: str | None = None
    service_account: str | None = None
    automount_service_account_token: StrictBool | None = None
    host_network: StrictBool | None = None
    host_pid: StrictBool | None = Field(None, alias="hostPID")
    host_ipc: StrictBool | None = Field(None, alias="hostIPC")
    host_users: StrictBool | None = None
    share_process_namespace: StrictBool | None = None
    security_context: PodSecurityContext = Field(default_factory=PodSecurityContext)
    image_pull_secrets: list[LocalObjectReference] = Field(default_factory=list)
    hostname: str | None = None
    hostname_override: str | None = None
    subdomain: str | None = None
    set_hostname_as_fqdn: StrictBool | None = Field(None, alias="setHostnameAsFQDN")
    affinity: Affinity | None = None
    scheduler_name: str = "default-scheduler"
    tolerations: list[Toleration] = Field(default_factory=list)
    host_aliases: list[HostAlias] = Field(default_factory=list)
    priority_class_name: str | None = None
    priority: Int32 | None = None
    preemption_policy: str | None = None
    readiness_gates: list[PodReadinessGate] = Field(default_factory=list)
    runtime_class_name: str | None = None
    enable_service_links: StrictBool | None = None
    overhead: ResourceList = Field(default_factory=dict)
    topology_spread_constraints: list[TopologySpreadConstraint] = Field(default_factory=list)
    os: PodOS | None = None
    scheduling_gates: list[PodSchedulingGate] = Field(default_factory=list)
    resource_claims: list[PodResourceClaim] = Field(default_factory=list)
    resources: ResourceRequirements | None = None
    scheduling_group: PodSchedulingGroup | None = None
    eviction_responders: list[EvictionResponder] = Field(default_factory=list)

    def all_containers(self) -> Iterator[Container]:
        """Init containers, then app containers (not ephemeral ones)."""
        yield from self.init_containers
        yield from self.containers


class PodCondition(KubeModel):
    """PodScheduled, Initialized, ContainersReady, Ready, DisruptionTarget, ..."""

    type: str
    status: str
    observed_generation: Int64 | None = None
    last_probe_time: datetime | None = None
    last_transition_time: datetime | None = None
    reason: str | None = None
    message: str | None = None


class ContainerStateWaiting(KubeModel):
    reason: str | None = None
    message: str | None = None


class ContainerStateRunning(KubeModel):
    started_at: datetime | None = None


class ContainerStateTerminated(KubeModel):
    exit_code: Int32
    signal: Int32 | None = None
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    container_id: str | None = Field(None, alias="containerID")


class ContainerState(KubeModel):
    """At most one of waiting, running, terminated is set (none means waiting)."""

    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


class VolumeMountStatus(KubeModel):
    name: str
    mount_path: str
    read_only: StrictBool | None = None
    recursive_read_only: str | None = None
    volume_status: JSONObject | None = None


class ContainerStatus(KubeModel):
    """What the kubelet reports about one container."""

    name: str
    state: ContainerState = Field(default_factory=ContainerState)
    last_state: ContainerState = Field(default_factory=ContainerState)
    ready: StrictBool = False
    restart_count: Int32 = 0
    image: str = ""
    image_id: str = Field("", alias="imageID")
    container_id: str | None = Field(None, alias="containerID")
    started: StrictBool | None = None
    allocated_resources: ResourceList = Field(default_factory=dict)
    resources: ResourceRequirements | None = None
    volume_mounts: list[VolumeMountStatus] = Field(default_factory=list)
    user: JSONObject | None = None
    allocated_resources_status: list[JSONObject] = Field(default_factory=list)
    stop_signal: str | None = None


class PodIP(KubeModel):
    ip: str


class HostIP(KubeModel):
    ip: str


class PodStatus(KubeModel):
    """What the store, scheduler and kubelet report about a pod."""

    phase: str | None = None
    conditions: list[PodCondition] = Field(default_factory=list)
    message: str | None = None
    reason: str | None = None
    nominated_node_name: str | None = None
    host_ip: str | None = Field(None, alias="hostIP")
    host_ips: list[HostIP] = Field(default_factory=list, alias="hostIPs")
    pod_ip: str | None = Field(None, alias="podIP")
    pod_ips: list[PodIP] = Field(default_factory=list, alias="podIPs")
    start_time: datetime | None = None
    init_container_statuses: list[ContainerStatus] = Field(default_factory=list)
    container_statuses: list[ContainerStatus] = Field(default_factory=list)
    ephemeral_container_statuses: list[ContainerStatus] = Field(default_factory=list)
    qos_class: str | None = None
    observed_generation: Int64 | None = None
    resize: str | None = None
    resources: ResourceRequirements | None = None
    allocated_resources: ResourceList = Field(default_factory=dict)
    resource_claim_statuses: list[JSONObject] = Field(default_factory=list)
    extended_resource_claim_status: JSONObject | None = None
    node_allocatable_resource_claim_statuses: list[JSONObject] = Field(default_factory=list)
    volume_health: list[JSONObject] = Field(default_factory=list)

    def condition(self, condition_type: str) -> PodCondition | None:
        return find_condition(self.conditions, condition_type)


class PodTemplateSpec(KubeModel):
    """The pod a workload controller creates: labels and annotations plus a spec."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    spec: PodSpec = Field(default_factory=PodSpec)


@kind("v1", "Pod", plural="pods", namespaced=True, status_subresource=True)
class Pod(Resource):
    spec: PodSpec = Field(default_factory=PodSpec)
    status: PodStatus = Field(default_factory=PodStatus)

    @property
    def is_terminal(self) -> bool:
        """Succeeded or Failed: the pod will never run again."""
        return self.status.phase in TERMINAL_PHASES

    @property
    def is_ready(self) -> bool:
        """The Ready condition is True."""
        ready = self.status.condition("Ready")
        return ready is not None and ready.status == "True"

    @property
    def is_terminating(self) -> bool:
        """Marked for deletion (deletionTimestamp set) but not yet gone."""
        return self.metadata.deletion_timestamp is not None


@kind("v1", "Binding", plural="bindings", namespaced=True, status_subresource=False)
class Binding(Resource):
    """The pods/binding body: assigns the pod named in metadata to `target` (a Node)."""

    target: ObjectReference


_QOS_RESOURCES: Final = ("cpu", "memory")


def qos_class(spec: PodSpec) -> str:
    """Kubernetes' GetPodQOS: Guaranteed when cpu and memory limits are set
    everywhere and the summed requests equal the summed limits, BestEffort when
    nothing requests or limits cpu or memory, else Burstable. Pod-level
    resources, when given, decide alone."""
    if spec.resources is not None and (spec.resources.requests or spec.resources.limits):
        groups = [spec.resources]
    else:
        groups = [c.resources for c in spec.all_containers()]
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}
    guaranteed = True
    for resources in groups:
        for name in _QOS_RESOURCES:
            request = resources.requests.get(name)
            if request is not None and request.sign() > 0:
                requests[name] = requests[name] + request if name in requests else request
        found = 0
        for name in _QOS_RESOURCES:
            limit = resources.limits.get(name)
            if limit is not None and limit.sign() > 0:
                found += 1
                limits[name] = limits[name] + limit if name in limits else limit
        if found < len(_QOS_RESOURCES):
            guaranteed = False
    if not requests and not limits:
        return "BestEffort"
    if (
        guaranteed
        and len(requests) == len(limits)
        and all(limits.get(name) == request for name, request in requests.items())
    ):
        return "Guaranteed"
    return "Burstable"
