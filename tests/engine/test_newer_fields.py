"""Fields the models know from later releases are unknown to 1.34: refused
with their path under strict field validation, dropped without it."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api.apps import Deployment
from engine.api.core import Pod
from engine.api.newer_fields import newer_fields, unknown_paths
from engine.errors import Invalid
from engine.manifests import parse_object
from engine.schema.builtin import definition_for, definitions


def _pod(volume: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {
            "containers": [{"name": "app", "image": "busybox", "volumeMounts": []}],
            "volumes": [volume],
            **spec,
        },
    }


def test_a_field_newer_than_1_34_is_refused_with_its_path() -> None:
    manifest = _pod({"name": "tmp", "emptyDir": {"mode": 0o1777}}, schedulingGroup={"name": "g"})
    with pytest.raises(Invalid) as refused:
        parse_object(manifest)
    assert sorted(e.path for e in refused.value.errors) == [
        "spec.schedulingGroup",
        "spec.volumes[0].emptyDir.mode",
    ]
    assert all(e.message == "unknown field" for e in refused.value.errors)


def test_without_strictness_the_newer_field_is_dropped() -> None:
    pod = parse_object(_pod({"name": "tmp", "emptyDir": {"mode": 0o1777}}), strict=False)
    assert isinstance(pod, Pod)
    assert pod.spec.volumes[0].empty_dir is not None
    assert pod.spec.volumes[0].empty_dir.mode is None


def test_templates_and_status_are_walked_as_kube_apiserver_would() -> None:
    template = {
        "metadata": {"labels": {"app": "web"}},
        "spec": {
            "containers": [{"name": "app", "image": "nginx"}],
            "volumes": [{"name": "t", "emptyDir": {"mode": 1}}],
        },
    }
    document = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": template},
    }
    assert unknown_paths(Deployment, document) == ["spec.template.spec.volumes[0].emptyDir.mode"]
    status = {"resources": {"requests": {"cpu": "1"}}}  # written by kubeloop's own kubelet
    assert unknown_paths(Pod, {"spec": {}, "status": status}) == []


def test_every_newer_field_is_missing_from_the_1_34_schema() -> None:
    assert definition_for("v1", "Pod") == "io.k8s.api.core.v1.Pod"
    pod_spec = definitions()["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert "schedulingGroup" not in pod_spec and "volumes" in pod_spec
    fields = newer_fields(Pod)
    assert "spec.volumes.emptyDir.mode" in fields
    assert "spec.containers.image" not in fields and "spec.volumes.emptyDir.medium" not in fields
