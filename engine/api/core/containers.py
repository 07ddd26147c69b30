"""core/v1 containers: Container and what it is made of (ports, environment,
resources, probes, lifecycle hooks, mounts, security context).

Static Kubernetes defaults are field defaults (SetDefaults_Container,
SetDefaults_Probe, SetDefaults_HTTPGetAction, SetDefaults_ContainerPort);
`imagePullPolicy` depends on the image's tag, so a validator fills it: Always
for `:latest` or an untagged image, IfNotPresent otherwise.

Resources are read as `container.resources.requests.get("cpu")`, a `Quantity`
or None; `.milli_value()` gives millicores, `.value()` bytes.

Neighbours: `engine.api.core.pod` (PodSpec holds containers),
`engine.api.core.volumes` (what volumeMounts name), `engine.quantity`.
"""

from __future__ import annotations

from typing import Self

from pydantic import Field, StrictBool, model_validator

from engine.api.base import KubeModel
from engine.api.core.common import IntOrString
from engine.api.integers import Int32, Int64
from engine.quantity import Quantity, ResourceList

__all__ = [
    "AppArmorProfile",
    "Capabilities",
    "ConfigMapEnvSource",
    "ConfigMapKeySelector",
    "Container",
    "ContainerPort",
    "ContainerResizePolicy",
    "ContainerRestartRule",
    "ContainerRestartRuleOnExitCodes",
    "EnvFromSource",
    "EnvVar",
    "EnvVarSource",
    "EphemeralContainer",
    "ExecAction",
    "FileKeySelector",
    "GRPCAction",
    "HTTPGetAction",
    "HTTPHeader",
    "Lifecycle",
    "LifecycleHandler",
    "ObjectFieldSelector",
    "Probe",
    "ResourceClaim",
    "ResourceFieldSelector",
    "ResourceRequirements",
    "SELinuxOptions",
    "SeccompProfile",
    "SecretEnvSource",
    "SecretKeySelector",
    "SecurityContext",
    "SleepAction",
    "TCPSocketAction",
    "VolumeDevice",
    "VolumeMount",
    "WindowsSecurityContextOptions",
    "default_image_pull_policy",
]


class ContainerPort(KubeModel):
    """A port the container listens on; `hostPort` also binds it on the node."""

    container_port: Int32
    name: str | None = None
    protocol: str = "TCP"
    host_port: Int32 | None = None
    host_ip: str | None = Field(None, alias="hostIP")


class ObjectFieldSelector(KubeModel):
    """Selects a field of the pod (`metadata.name`, `status.podIP`, ...)."""

    field_path: str
    api_version: str = "v1"


class ResourceFieldSelector(KubeModel):
    """Selects a container's resource (`limits.cpu`), scaled by `divisor`."""

    resource: str
    container_name: str | None = None
    divisor: Quantity | None = None


class ConfigMapKeySelector(KubeModel):
    key: str
    name: str | None = None
    optional: StrictBool | None = None


class SecretKeySelector(KubeModel):
    key: str
    name: str | None = None
    optional: StrictBool | None = None


class FileKeySelector(KubeModel):
    """A key in an env file written to a volume by an init container."""

    volume_name: str
    path: str
    key: str
    optional: StrictBool | None = None


class EnvVarSource(KubeModel):
    """Where an env var's value comes from; exactly one field is set."""

    field_ref: ObjectFieldSelector | None = None
    resource_field_ref: ResourceFieldSelector | None = None
    config_map_key_ref: ConfigMapKeySelector | None = None
    secret_key_ref: SecretKeySelector | None = None
    file_key_ref: FileKeySelector | None = None


class EnvVar(KubeModel):
    name: str
    value: str | None = None
    value_from: EnvVarSource | None = None


class ConfigMapEnvSource(KubeModel):
    name: str | None = None
    optional: StrictBool | None = None


class SecretEnvSource(KubeModel):
    name: str | None = None
    optional: StrictBool | None = None


class EnvFromSource(KubeModel):
    """Every key of a ConfigMap or Secret as env vars, optionally prefixed."""

    prefix: str | None = None
    config_map_ref: ConfigMapEnvSource | None = None
    secret_ref: SecretEnvSource | None = None


class ResourceClaim(KubeModel):
    """A container's use of one of the pod's dynamic resource claims."""

    name: str
    request: str | None = None


class ResourceRequirements(KubeModel):
    """requests and limits: resource name (`cpu`, `memory`, ...) -> Quantity."""

    limits: ResourceList = Field(default_factory=dict)
    requests: ResourceList = Field(default_factory=dict)
    claims: list[ResourceClaim] = Field(default_factory=list)


class ExecAction(KubeModel):
    command: list[str] = Field(default_factory=list)


class HTTPHeader(KubeModel):
    name: str
    value: str


class HTTPGetAction(KubeModel):
    """An HTTP GET against the pod; `port` is a number or a named container port."""

    port: IntOrString
    path: str = "/"
    host: str | None = None
    scheme: str = "HTTP"
    protocol: str | None = None
    http_headers: list[HTTPHeader] = Field(default_factory=list)


class TCPSocketAction(KubeModel):
    port: IntOrString
    host: str | None = None


class GRPCAction(KubeModel):
    port: Int32
    service: str | None = None
    mode: str | None = None


class SleepAction(KubeModel):
    seconds: Int64


class Probe(KubeModel):
    """A liveness, readiness or startup check; exactly one handler is set."""

    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: Int32 | None = None
    timeout_seconds: Int32 = 1
    period_seconds: Int32 = 10
    success_threshold: Int32 = 1
    failure_threshold: Int32 = 3
    termination_grace_period_seconds: Int64 | None = None


class LifecycleHandler(KubeModel):
    """What a postStart or preStop hook does; exactly one field is set."""

    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    sleep: SleepAction | None = None


class Lifecycle(KubeModel):
    post_start: LifecycleHandler | None = None
    pre_stop: LifecycleHandler | None = None
    stop_signal: str | None = None


class VolumeMount(KubeModel):
    """Mounts the pod volume `name` at `mountPath` inside the container."""

    name: str
    mount_path: str
    read_only: StrictBool | None = None
    recursive_read_only: str | None = None
    sub_path: str | None = None
    sub_path_expr: str | None = None
    mount_propagation: str | None = None
    bind_mount_options: list[str] = Field(default_factory=list)


class VolumeDevice(KubeModel):
    name: str
    device_path: str


class Capabilities(KubeModel):
    add: list[str] = Field(default_factory=list)
    drop: list[str] = Field(default_factory=list)


class SELinuxOptions(KubeModel):
    user: str | None = None
    role: str | None = None
    type: str | None = None
    level: str | None = None


class SeccompProfile(KubeModel):
    type: str
    localhost_profile: str | None = None


class AppArmorProfile(KubeModel):
    type: str
    localhost_profile: str | None = None


class WindowsSecurityContextOptions(KubeModel):
    gmsa_credential_spec_name: str | None = None
    gmsa_credential_spec: str | None = None
    run_as_user_name: str | None = None
    host_process: StrictBool | None = None


class SecurityContext(KubeModel):
    """A container's security settings; nobody in kubeloop enforces them."""

    capabilities: Capabilities | None = None
    privileged: StrictBool | None = None
    se_linux_options: SELinuxOptions | None = None
    windows_options: WindowsSecurityContextOptions | None = None
    run_as_user: Int64 | None = None
    run_as_group: Int64 | None = None
    run_as_non_root: StrictBool | None = None
    read_only_root_filesystem: StrictBool | None = None
    allow_privilege_escalation: StrictBool | None = None
    proc_mount: str | None = None
    seccomp_profile: SeccompProfile | None = None
    app_armor_profile: AppArmorProfile | None = None


class ContainerResizePolicy(KubeModel):
    """Whether resizing `resourceName` in place restarts the container."""

    resource_name: str
    restart_policy: str


class ContainerRestartRuleOnExitCodes(KubeModel):
    operator: str
    values: list[Int32] = Field(default_factory=list)


class ContainerRestartRule(KubeModel):
    action: str
    exit_codes: ContainerRestartRuleOnExitCodes | None = None


def default_image_pull_policy(image: str | None) -> str:
    """Kubernetes' default: Always for `:latest` or no tag (and no digest), else
    IfNotPresent. An empty image does not parse and gets IfNotPresent, as there."""
    if not image:
        return "IfNotPresent"
    name, _, digest = image.partition("@")
    if digest:
        return "IfNotPresent"
    tag = ""
    colon = name.rfind(":")
    if colon > name.rfind("/"):
        tag = name[colon + 1 :]
    return "Always" if tag in ("", "latest") else "IfNotPresent"


class Container(KubeModel):
    """One container of a pod (also an init container, or a sidecar: an init
    container with restartPolicy Always)."""

    name: str
    image: str | None = None
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    working_dir: str | None = None
    ports: list[ContainerPort] = Field(default_factory=list)
    env_from: list[EnvFromSource] = Field(default_factory=list)
    env: list[EnvVar] = Field(default_factory=list)
    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    resize_policy: list[ContainerResizePolicy] = Field(default_factory=list)
    restart_policy: str | None = None
    restart_policy_rules: list[ContainerRestartRule] = Field(default_factory=list)
    volume_mounts: list[VolumeMount] = Field(default_factory=list)
    volume_devices: list[VolumeDevice] = Field(default_factory=list)
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: Lifecycle | None = None
    termination_message_path: str = "/dev/termination-log"
    termination_message_policy: str = "File"
    image_pull_policy: str | None = None
    security_context: SecurityContext | None = None
    stdin: StrictBool | None = None
    stdin_once: StrictBool | None = None
    tty: StrictBool | None = None

    @model_validator(mode="after")
    def _default_image_pull_policy(self) -> Self:
        if self.image_pull_policy is None:
            object.__setattr__(self, "image_pull_policy", default_image_pull_policy(self.image))
        return self

    @property
    def is_sidecar(self) -> bool:
        """An init container that keeps running beside the app containers."""
        return self.restart_policy == "Always"


class EphemeralContainer(Container):
    """A debugging container added to a running pod; may target another
    container's process namespace."""

    target_container_name: str | None = None
