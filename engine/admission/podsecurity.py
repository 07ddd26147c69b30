"""The PodSecurity admission plugin: the Pod Security Standards levels
(privileged, baseline, restricted) from namespace labels, as Kubernetes'
pod-security-admission applies them to pods being created.

* `pod-security.kubernetes.io/enforce: <level>` refuses a violating pod:
  `pods "x" is forbidden: violates PodSecurity "restricted:latest":
  allowPrivilegeEscalation != false (container "x" must set
  securityContext.allowPrivilegeEscalation=false), ...`.
* `.../warn: <level>` admits it with a warning `would violate PodSecurity
  "baseline:latest": ...`; `.../audit` does the same (kubeloop has no audit
  log, so audit violations are warnings too, marked as such).
* `.../<mode>-version` only names the version in messages (`latest` if
  unset): checks are always those of the latest standards. An unknown level
  is taken as `restricted`, as Kubernetes takes it.

Warnings go to the store's `warning_handlers` (each called with the object's
kind, namespace, name and the message, like client-go's WarningHandler) and
to the log.

Checks (Kubernetes' ids and messages, in their order): baseline:
hostNamespaces, privileged, capabilities (beyond the default set),
hostPathVolumes, hostPorts, appArmorProfile, seLinuxOptions, procMount,
seccompProfile (Unconfined), sysctls (outside the safe set), hostProcess;
restricted adds: restricted volume types, allowPrivilegeEscalation,
runAsNonRoot, runAsUser=0, seccompProfile (RuntimeDefault or Localhost),
capabilities (drop ALL, add only NET_BIND_SERVICE).

Workload resources (Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
CronJob, ReplicationController, PodTemplate) get the warn and audit
warnings for their pod template when created, and when an update changes
the template (`warn_update`, which the store calls on updates); enforce
applies only to the pods they make, as in Kubernetes.

Exemptions (the PodSecurity admission configuration's `exemptions`, given as
`Store(pod_security_exemptions=...)`, from `ClusterConfig`): a pod or workload
in an exempt namespace, and a pod (or template) whose `runtimeClassName` is
exempt, is neither checked nor warned about. Username exemptions are not
supported: kubeloop's writes carry no user.

Neighbours: `engine.admission` (the chain, validating phase).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from engine.admission import AdmissionRequest
from engine.api import core
from engine.api.base import Resource
from engine.errors import Forbidden
from engine.logging import get_logger

if TYPE_CHECKING:
    from engine.store import Store

__all__ = [
    "LABEL_PREFIX",
    "LEVELS",
    "WORKLOAD_KINDS",
    "PodSecurityExemptions",
    "admit",
    "spec_violations",
    "violations",
    "warn_update",
]

log = get_logger("podsecurity")

LABEL_PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
MODE_LABELS = tuple(LABEL_PREFIX + mode for mode in ("enforce", "audit", "warn"))
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
        "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT",
    }
)  # fmt: skip
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_wmem",
    }
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "image",
        "persistentVolumeClaim", "projected", "secret",
    }
)  # fmt: skip
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)


@dataclass(frozen=True, slots=True)
class PodSecurityExemptions:
    """The PodSecurity admission configuration's exemptions (usernames aside)."""

    namespaces: frozenset[str] = frozenset()
    runtime_classes: frozenset[str] = frozenset()

    def exempt(self, namespace: str, spec: core.PodSpec) -> bool:
        return namespace in self.namespaces or (
            spec.runtime_class_name is not None and spec.runtime_class_name in self.runtime_classes
        )


def _exempt(store: Store, namespace: str, spec: core.PodSpec) -> bool:
    exemptions = store.pod_security_exemptions
    return exemptions is not None and exemptions.exempt(namespace, spec)


def admit(request: AdmissionRequest, obj: Resource) -> Resource:
    if isinstance(obj, core.Pod):
        spec = obj.spec
        modes: tuple[str, ...] = ("enforce", "audit", "warn")
    else:
        template = _template_spec(obj)
        if template is None:
            return obj
        spec, modes = template, ("audit", "warn")  # enforce applies to the pods the workload makes
    _check(request, spec, modes)
    return obj


def warn_update(request: AdmissionRequest, obj: Resource, old: Resource) -> None:
    """An update of a workload whose pod template changed: the template's warn
    and audit warnings, as on create. Other kinds and updates cost a lookup."""
    template = _template_spec(obj)
    if template is None or template == _template_spec(old):
        return
    _check(request, template, ("audit", "warn"))


def _check(request: AdmissionRequest, spec: core.PodSpec, modes: tuple[str, ...]) -> None:
    store = request.store
    if store.pod_security_exemptions is not None and _exempt(store, request.namespace, spec):
        return
    ns = store.peek(core.Namespace, request.namespace)
    labels = ns.metadata.labels if ns is not None else {}
    if not labels or not any(key in labels for key in MODE_LABELS):
        return
    for mode in modes:
        level = labels.get(LABEL_PREFIX + mode)
        if level is None or level == "privileged":
            continue
        if level not in LEVELS:
            level = "restricted"
        found = spec_violations(spec, level)
        if not found:
            continue
        version = labels.get(f"{LABEL_PREFIX}{mode}-version") or "latest"
        policy = f'PodSecurity "{level}:{version}": ' + ", ".join(found)
        if mode == "enforce":
            raise Forbidden(request.forbidden_prefix() + "violates " + policy)
        message = ("would violate " if mode == "warn" else "audit: would violate ") + policy
        request.warn(message)


def _containers(spec: core.PodSpec) -> list[Any]:
    return [*spec.init_containers, *spec.containers, *spec.ephemeral_containers]


def _names(kind: str, names: Iterable[str]) -> str:
    listed = list(dict.fromkeys(names))
    plural = kind + ("s" if len(listed) != 1 else "")
    return f"{plural} " + ", ".join(f'"{n}"' for n in listed)


def _quoted(values: Iterable[str]) -> str:
    return ", ".join(f'"{v}"' for v in dict.fromkeys(values))


def _sc(container: Any) -> core.SecurityContext:
    return container.security_context or core.SecurityContext()


Check = Callable[[core.PodSpec], str | None]


def _host_namespaces(spec: core.PodSpec) -> str | None:
    flags = (
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    )
    set_ = [f"{name}=true" for name, value in flags if value]
    return f"host namespaces ({', '.join(set_)})" if set_ else None


def _privileged(spec: core.PodSpec) -> str | None:
    bad = [c.name for c in _containers(spec) if _sc(c).privileged]
    if not bad:
        return None
    return f"privileged ({_names('container', bad)} must not set securityContext.privileged=true)"


def _capabilities_baseline(spec: core.PodSpec) -> str | None:
    bad, added = [], []
    for c in _containers(spec):
        caps = _sc(c).capabilities
        extra = [a for a in (caps.add if caps else []) if a not in BASELINE_CAPABILITIES]
        if extra:
            bad.append(c.name)
            added += extra
    if not bad:
        return None
    return (
        f"non-default capabilities ({_names('container', bad)} must not include "
        f"{_quoted(added)} in securityContext.capabilities.add)"
    )


def _host_path(spec: core.PodSpec) -> str | None:
    bad = [v.name for v in spec.volumes if v.host_path is not None]
    return f"hostPath volumes ({_names('volume', bad)})" if bad else None


def _host_ports(spec: core.PodSpec) -> str | None:
    bad, ports = [], []
    for c in _containers(spec):
        used = [p.host_port for p in c.ports if p.host_port]
        if used:
            bad.append(c.name)
            ports += [str(p) for p in used]
    if not bad:
        return None
    which = "hostPorts" if len(ports) > 1 else "hostPort"
    return f"hostPort ({_names('container', bad)} uses {which} {', '.join(ports)})"


def _app_armor(spec: core.PodSpec) -> str | None:
    profiles = [spec.security_context.app_armor_profile] + [
        _sc(c).app_armor_profile for c in _containers(spec)
    ]
    bad = [p.type for p in profiles if p is not None and p.type == "Unconfined"]
    if not bad:
        return None
    return 'forbidden AppArmor profile (appArmorProfile.type is "Unconfined")'


def _se_linux(spec: core.PodSpec) -> str | None:
    options = [spec.security_context.se_linux_options] + [
        _sc(c).se_linux_options for c in _containers(spec)
    ]
    for o in options:
        if o is None:
            continue
        if (o.type or "") not in SELINUX_TYPES or o.user or o.role:
            return "seLinuxOptions (forbidden securityContext.seLinuxOptions type, user or role)"
    return None


def _proc_mount(spec: core.PodSpec) -> str | None:
    bad = [c.name for c in _containers(spec) if _sc(c).proc_mount not in (None, "Default")]
    if not bad:
        return None
    return (
        f"procMount ({_names('container', bad)} must not set securityContext.procMount to "
        '"Unmasked")'
    )


def _seccomp_baseline(spec: core.PodSpec) -> str | None:
    pod = spec.security_context.seccomp_profile
    if pod is not None and pod.type == "Unconfined":
        return (
            'seccompProfile (pod must not set securityContext.seccompProfile.type to "Unconfined")'
        )
    bad = [
        c.name
        for c in _containers(spec)
        if (p := _sc(c).seccomp_profile) and p.type == "Unconfined"
    ]
    if not bad:
        return None
    return (
        f"seccompProfile ({_names('container', bad)} must not set "
        'securityContext.seccompProfile.type to "Unconfined")'
    )


def _sysctls(spec: core.PodSpec) -> str | None:
    bad = [s.name for s in spec.security_context.sysctls if s.name not in SAFE_SYSCTLS]
    return f"forbidden sysctls ({', '.join(bad)})" if bad else None


def _host_process(spec: core.PodSpec) -> str | None:
    contexts = [spec.security_context.windows_options] + [
        _sc(c).windows_options for c in _containers(spec)
    ]
    if any(w is not None and w.host_process for w in contexts):
        return (
            "hostProcess (pod or containers must not set "
            "securityContext.windowsOptions.hostProcess=true)"
        )
    return None


def _volume_types(spec: core.PodSpec) -> str | None:
    bad = [
        (v.name, v.sources()[0])
        for v in spec.volumes
        if v.sources() and v.sources()[0] not in RESTRICTED_VOLUMES
    ]
    if not bad:
        return None
    names = _names("volume", [n for n, _ in bad])
    kinds = sorted({k for _, k in bad})
    what = "volume type" + ("s" if len(kinds) > 1 else "")
    return f"restricted volume types ({names} uses restricted {what} {_quoted(kinds)})"


def _privilege_escalation(spec: core.PodSpec) -> str | None:
    bad = [c.name for c in _containers(spec) if _sc(c).allow_privilege_escalation is not False]
    if not bad:
        return None
    return (
        f"allowPrivilegeEscalation != false ({_names('container', bad)} must set "
        "securityContext.allowPrivilegeEscalation=false)"
    )


def _run_as_non_root(spec: core.PodSpec) -> str | None:
    pod = spec.security_context.run_as_non_root
    if pod is False:
        return "runAsNonRoot != true (pod must not set securityContext.runAsNonRoot=false)"
    explicit_false = [c.name for c in _containers(spec) if _sc(c).run_as_non_root is False]
    if explicit_false:
        return (
            f"runAsNonRoot != true ({_names('container', explicit_false)} must not set "
            "securityContext.runAsNonRoot=false)"
        )
    if pod:
        return None
    unset = [c.name for c in _containers(spec) if _sc(c).run_as_non_root is None]
    if not unset:
        return None
    return (
        f"runAsNonRoot != true (pod or {_names('container', unset)} must set "
        "securityContext.runAsNonRoot=true)"
    )


def _run_as_user(spec: core.PodSpec) -> str | None:
    if spec.security_context.run_as_user == 0:
        return "runAsUser=0 (pod must not set runAsUser=0)"
    bad = [c.name for c in _containers(spec) if _sc(c).run_as_user == 0]
    return f"runAsUser=0 ({_names('container', bad)} must not set runAsUser=0)" if bad else None


def _seccomp_restricted(spec: core.PodSpec) -> str | None:
    allowed = ("RuntimeDefault", "Localhost")
    pod = spec.security_context.seccomp_profile
    if pod is not None and pod.type not in allowed:
        return (
            f'seccompProfile (pod must not set securityContext.seccompProfile.type to "{pod.type}")'
        )
    wrong = [
        c.name for c in _containers(spec) if (p := _sc(c).seccomp_profile) and p.type not in allowed
    ]
    if wrong:
        return (
            f"seccompProfile ({_names('container', wrong)} must not set "
            "securityContext.seccompProfile.type to an unallowed value)"
        )
    if pod is not None:
        return None
    unset = [c.name for c in _containers(spec) if _sc(c).seccomp_profile is None]
    if not unset:
        return None
    return (
        f"seccompProfile (pod or {_names('container', unset)} must set "
        'securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
    )


def _capabilities_restricted(spec: core.PodSpec) -> str | None:
    no_drop, bad_add, added = [], [], []
    for c in _containers(spec):
        caps = _sc(c).capabilities
        if caps is None or "ALL" not in caps.drop:
            no_drop.append(c.name)
        extra = [a for a in (caps.add if caps else []) if a != "NET_BIND_SERVICE"]
        if extra:
            bad_add.append(c.name)
            added += extra
    parts = []
    if no_drop:
        parts.append(
            f'{_names("container", no_drop)} must set securityContext.capabilities.drop=["ALL"]'
        )
    if bad_add:
        parts.append(
            f"{_names('container', bad_add)} must not include {_quoted(added)} in "
            "securityContext.capabilities.add"
        )
    return f"unrestricted capabilities ({'; '.join(parts)})" if parts else None


# (id, level, check, ids it overrides), in Kubernetes' order (by id).
CHECKS: tuple[tuple[str, str, Check, tuple[str, ...]], ...] = (
    ("allowPrivilegeEscalation", "restricted", _privilege_escalation, ()),
    ("appArmorProfile", "baseline", _app_armor, ()),
    ("capabilities_baseline", "baseline", _capabilities_baseline, ()),
    ("capabilities_restricted", "restricted", _capabilities_restricted, ("capabilities_baseline",)),
    ("hostNamespaces", "baseline", _host_namespaces, ()),
    ("hostPathVolumes", "baseline", _host_path, ()),
    ("hostPorts", "baseline", _host_ports, ()),
    ("hostProcess", "baseline", _host_process, ()),
    ("privileged", "baseline", _privileged, ()),
    ("procMount", "baseline", _proc_mount, ()),
    ("restrictedVolumes", "restricted", _volume_types, ("hostPathVolumes",)),
    ("runAsNonRoot", "restricted", _run_as_non_root, ()),
    ("runAsUser", "restricted", _run_as_user, ()),
    ("seLinuxOptions", "baseline", _se_linux, ()),
    ("seccompProfile_baseline", "baseline", _seccomp_baseline, ()),
    ("seccompProfile_restricted", "restricted", _seccomp_restricted, ("seccompProfile_baseline",)),
    ("sysctls", "baseline", _sysctls, ()),
)


def violations(pod: core.Pod, level: str) -> list[str]:
    """What `pod` violates of the standards' `level`, in Kubernetes' order."""
    return spec_violations(pod.spec, level)


_TEMPLATE_KINDS = frozenset(
    {
        ("apps/v1", "Deployment"), ("apps/v1", "ReplicaSet"), ("apps/v1", "StatefulSet"),
        ("apps/v1", "DaemonSet"), ("batch/v1", "Job"), ("v1", "ReplicationController"),
    }
)  # fmt: skip
WORKLOAD_KINDS = frozenset({kind for _, kind in _TEMPLATE_KINDS} | {"CronJob", "PodTemplate"})
"""Kinds whose updates may carry a new pod template (a cheap first filter)."""


def _template_spec(obj: Resource) -> core.PodSpec | None:
    """The pod spec of a workload's template (pod-security-admission's
    PodSpecExtractor: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
    CronJob, ReplicationController, PodTemplate), or None for other kinds."""
    key = (obj.api_version, obj.kind)
    workload: Any = obj  # each kind below has the attributes read
    template: Any = None
    if key in _TEMPLATE_KINDS:
        template = workload.spec.template
    elif key == ("batch/v1", "CronJob"):
        template = workload.spec.job_template.spec.template
    elif key == ("v1", "PodTemplate"):
        template = getattr(workload, "template", None)
    if template is None:
        return None
    if isinstance(template, dict):  # a schema-validated kind keeps its JSON
        return core.PodSpec.model_validate(template.get("spec") or {})
    spec: core.PodSpec | None = template.spec
    return spec


def spec_violations(spec: core.PodSpec, level: str) -> list[str]:
    """What a pod with `spec` violates of the standards' `level`."""
    if level == "privileged":
        return []
    active = [c for c in CHECKS if c[1] == "baseline" or level == "restricted"]
    overridden = {o for c in active for o in c[3]}
    found = []
    for check_id, _, check, _ in active:
        if check_id in overridden:
            continue
        problem = check(spec)
        if problem:
            found.append(problem)
    return found
