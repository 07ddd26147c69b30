"""PodSecurity admission: namespace labels choose a Pod Security Standards
level; enforce refuses with Kubernetes' message, warn admits with a warning."""

from __future__ import annotations

from typing import Any

import pytest

from engine.admission.podsecurity import violations
from engine.api import core
from engine.errors import Forbidden
from engine.store import Store


def namespace(name: str, **labels: str) -> core.Namespace:
    full = {f"pod-security.kubernetes.io/{k.replace('_', '-')}": v for k, v in labels.items()}
    return core.Namespace.model_validate({"metadata": {"name": name, "labels": full}})


def pod(
    name: str, namespace: str = "secure", container: dict[str, Any] | None = None, **spec: Any
) -> core.Pod:
    c = {"name": "app", "image": "nginx", **(container or {})}
    return core.Pod.model_validate(
        {"metadata": {"name": name, "namespace": namespace}, "spec": {"containers": [c], **spec}}
    )


RESTRICTED_OK = {
    "securityContext": {
        "allowPrivilegeEscalation": False,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
}


def test_restricted_enforce_refuses_with_every_violation(store: Store) -> None:
    store.create(namespace("secure", enforce="restricted"))
    with pytest.raises(Forbidden) as refused:
        store.create(pod("web"))
    assert str(refused.value) == (
        'pods "web" is forbidden: violates PodSecurity "restricted:latest": '
        'allowPrivilegeEscalation != false (container "app" must set '
        "securityContext.allowPrivilegeEscalation=false), "
        'unrestricted capabilities (container "app" must set '
        'securityContext.capabilities.drop=["ALL"]), '
        'runAsNonRoot != true (pod or container "app" must set securityContext.runAsNonRoot=true), '
        'seccompProfile (pod or container "app" must set securityContext.seccompProfile.type to '
        '"RuntimeDefault" or "Localhost")'
    )
    assert store.create(pod("ok", container=RESTRICTED_OK)).metadata.name == "ok"


def test_the_version_label_names_the_version(store: Store) -> None:
    store.create(namespace("secure", enforce="baseline", enforce_version="v1.34"))
    with pytest.raises(
        Forbidden,
        match=r'violates PodSecurity "baseline:v1.34": host namespaces \(hostNetwork=true\)',
    ):
        store.create(pod("web", hostNetwork=True))


def test_baseline_checks() -> None:
    bad = pod(
        "web",
        container={
            "securityContext": {
                "privileged": True,
                "capabilities": {"add": ["NET_ADMIN", "CHOWN"]},
            },
            "ports": [{"containerPort": 80, "hostPort": 8080}],
        },
        hostPID=True,
        volumes=[{"name": "root", "hostPath": {"path": "/"}}],
        securityContext={"sysctls": [{"name": "kernel.msgmax", "value": "1"}]},
    )
    assert violations(bad, "baseline") == [
        'non-default capabilities (container "app" must not include "NET_ADMIN" in '
        "securityContext.capabilities.add)",
        "host namespaces (hostPID=true)",
        'hostPath volumes (volume "root")',
        'hostPort (container "app" uses hostPort 8080)',
        'privileged (container "app" must not set securityContext.privileged=true)',
        "forbidden sysctls (kernel.msgmax)",
    ]
    assert violations(bad, "privileged") == []
    assert violations(pod("plain"), "baseline") == []


def test_restricted_volume_types_replace_the_hostpath_check() -> None:
    bad = pod("web", container=RESTRICTED_OK, volumes=[{"name": "root", "hostPath": {"path": "/"}}])
    assert violations(bad, "restricted") == [
        'restricted volume types (volume "root" uses restricted volume type "hostPath")'
    ]


def test_warn_admits_with_a_warning(store: Store) -> None:
    store.create(namespace("secure", warn="baseline"))
    seen: list[tuple[str, str, str, str]] = []
    store.warning_handlers.append(lambda *w: seen.append(w))
    created = store.create(pod("web", hostIPC=True))
    assert created.metadata.name == "web"
    assert seen == [
        (
            "Pod",
            "secure",
            "web",
            'would violate PodSecurity "baseline:latest": host namespaces (hostIPC=true)',
        )
    ]


def test_an_unknown_level_is_taken_as_restricted(store: Store) -> None:
    store.create(namespace("secure", enforce="strict"))
    with pytest.raises(Forbidden, match='violates PodSecurity "restricted:latest"'):
        store.create(pod("web"))


def test_unlabelled_namespaces_admit_anything(store: Store) -> None:
    assert store.create(pod("web", namespace="default", hostNetwork=True)).spec.host_network


def _workloads(template: dict[str, Any]) -> list[dict[str, Any]]:
    selector = {"matchLabels": {"app": "web"}}
    labelled = {"metadata": {"labels": {"app": "web"}}, **template}
    spec = {"selector": selector, "template": labelled}
    job = {"template": {**template, "spec": {**template["spec"], "restartPolicy": "Never"}}}
    return [
        {"apiVersion": "apps/v1", "kind": "Deployment", "spec": spec},
        {"apiVersion": "apps/v1", "kind": "StatefulSet", "spec": {**spec, "serviceName": "web"}},
        {"apiVersion": "apps/v1", "kind": "DaemonSet", "spec": spec},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "spec": spec},
        {"apiVersion": "v1", "kind": "ReplicationController", "spec": {"template": labelled}},
        {"apiVersion": "batch/v1", "kind": "Job", "spec": job},
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "spec": {"schedule": "* * * * *", "jobTemplate": {"spec": job}},
        },
        {"apiVersion": "v1", "kind": "PodTemplate", "template": labelled},
    ]


def test_workload_templates_get_warn_and_audit_warnings_but_are_not_refused(
    store: Store,
) -> None:
    """As pod-security-admission treats workload resources: enforce applies to
    the pods they make, warn and audit to their templates too."""
    from engine.registry import REGISTRY

    store.create(namespace("secure", enforce="restricted", warn="baseline", audit="restricted"))
    seen: list[tuple[str, ...]] = []
    store.warning_handlers.append(lambda *w: seen.append(w))
    template = {"spec": {"containers": [{"name": "app", "image": "nginx"}], "hostNetwork": True}}
    for doc in _workloads(template):
        doc["metadata"] = {"name": "web", "namespace": "secure"}
        info = REGISTRY.lookup(doc["apiVersion"], doc["kind"])
        created = store.create(info.model.model_validate(doc))  # admitted: not a pod
        assert created.metadata.name == "web"
    expected = [d["kind"] for d in _workloads(template)]
    assert [w[0] for w in seen] == [k for k in expected for _ in (0, 1)]  # audit and warn
    messages = {w[3] for w in seen}
    assert 'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)' in (
        messages
    )
    assert any(
        m.startswith('audit: would violate PodSecurity "restricted:latest": ') for m in messages
    )
    seen.clear()
    store.create(
        core.Pod.model_validate(
            {
                "metadata": {"name": "ok", "namespace": "secure"},
                "spec": {"containers": [{"name": "app", "image": "nginx", **RESTRICTED_OK}]},
            }
        )
    )
    assert seen == []


def test_a_workload_update_that_changes_its_template_is_warned_about(store: Store) -> None:
    from engine.api.apps import Deployment

    store.create(namespace("secure", warn="baseline"))
    seen: list[tuple[str, ...]] = []
    store.warning_handlers.append(lambda *w: seen.append(w))
    [doc] = [
        d
        for d in _workloads({"spec": {"containers": [{"name": "app", "image": "nginx"}]}})
        if d["kind"] == "Deployment"
    ]
    doc["metadata"] = {"name": "web", "namespace": "secure"}
    created = store.create(Deployment.model_validate(doc))
    assert seen == []
    scaled = store.update(
        created.model_copy(update={"spec": created.spec.model_copy(update={"replicas": 3})})
    )
    assert seen == []  # the template did not change
    template = scaled.spec.template
    bad = template.model_copy(
        update={"spec": template.spec.model_copy(update={"host_network": True})}
    )
    store.update(
        scaled.model_copy(update={"spec": scaled.spec.model_copy(update={"template": bad})})
    )
    assert [(w[0], w[3]) for w in seen] == [
        (
            "Deployment",
            'would violate PodSecurity "baseline:latest": host namespaces (hostNetwork=true)',
        )
    ]


def test_exempt_namespaces_and_runtime_classes_are_not_checked() -> None:
    from engine.admission.podsecurity import PodSecurityExemptions
    from engine.clock import VirtualClock

    exemptions = PodSecurityExemptions(
        namespaces=frozenset({"ops"}), runtime_classes=frozenset({"kata"})
    )
    store = Store(clock=VirtualClock(), pod_security_exemptions=exemptions)
    store.create(namespace("secure", enforce="baseline"))
    store.create(namespace("ops", enforce="baseline"))
    assert store.create(pod("in-ops", namespace="ops", hostNetwork=True)).spec.host_network
    kata = store.create(pod("sandboxed", hostNetwork=True, runtimeClassName="kata"))
    assert kata.spec.runtime_class_name == "kata"
    with pytest.raises(Forbidden):
        store.create(pod("plain", hostNetwork=True, runtimeClassName="runc"))
