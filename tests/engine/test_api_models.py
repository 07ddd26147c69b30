"""The API models: registered kinds, Kubernetes wire names, IntOrString,
quantities, unknown-field rejection, immutability, read-only helpers, and
generated pods that survive to_dict -> parse_object unchanged."""

from __future__ import annotations

import json
import subprocess
import sys
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

import engine.api
from engine.api import (
    Container,
    ContainerStatus,
    DaemonEndpoint,
    Deployment,
    HorizontalPodAutoscaler,
    Job,
    Node,
    NodeSpec,
    NodeSystemInfo,
    Pod,
    PodCondition,
    PodSpec,
    PodStatus,
    ResourceRequirements,
    Service,
    ServicePort,
    Taint,
    Toleration,
    Volume,
    qos_class,
    scaled_value,
)
from engine.api.core import default_image_pull_policy
from engine.manifests import parse_object
from engine.quantity import Quantity
from engine.registry import REGISTRY

# (apiVersion, kind, plural, namespaced, status subresource)
BUILTIN_KINDS = [
    ("v1", "Namespace", "namespaces", False, True),
    ("v1", "Node", "nodes", False, True),
    ("v1", "Pod", "pods", True, True),
    ("v1", "Binding", "bindings", True, False),
    ("v1", "Service", "services", True, True),
    ("v1", "Endpoints", "endpoints", True, False),
    ("v1", "ConfigMap", "configmaps", True, False),
    ("v1", "Secret", "secrets", True, False),
    ("v1", "Event", "events", True, False),
    ("v1", "PersistentVolumeClaim", "persistentvolumeclaims", True, True),
    ("apps/v1", "Deployment", "deployments", True, True),
    ("apps/v1", "ReplicaSet", "replicasets", True, True),
    ("apps/v1", "StatefulSet", "statefulsets", True, True),
    ("apps/v1", "DaemonSet", "daemonsets", True, True),
    ("apps/v1", "ControllerRevision", "controllerrevisions", True, False),
    ("batch/v1", "Job", "jobs", True, True),
    ("batch/v1", "CronJob", "cronjobs", True, True),
    ("networking.k8s.io/v1", "Ingress", "ingresses", True, True),
    ("networking.k8s.io/v1", "IngressClass", "ingressclasses", False, False),
    ("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", True, True),
    ("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets", True, True),
    ("coordination.k8s.io/v1", "Lease", "leases", True, False),
    ("scheduling.k8s.io/v1", "PriorityClass", "priorityclasses", False, False),
    ("discovery.k8s.io/v1", "EndpointSlice", "endpointslices", True, False),
]


@pytest.mark.parametrize(("api_version", "kind", "plural", "namespaced", "status"), BUILTIN_KINDS)
def test_builtin_kinds_are_registered(
    api_version: str, kind: str, plural: str, namespaced: bool, status: bool
) -> None:
    info = REGISTRY.lookup(api_version, kind)
    assert (info.plural, info.namespaced, info.has_status_subresource) == (
        plural,
        namespaced,
        status,
    )
    assert REGISTRY.by_plural(info.group, plural) is info


API_FIELDS = json.loads((Path(__file__).parent / "data" / "kubernetes_api_fields.json").read_text())


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def _field_differences(
    model: type[BaseModel], api_type: str, path: str, seen: set[Any]
) -> list[str]:
    if (model, api_type) in seen:
        return []
    seen.add((model, api_type))
    ours = {info.alias or name: info for name, info in model.model_fields.items()}
    theirs: dict[str, str | None] = API_FIELDS["types"][api_type]
    problems = [f"missing {path}.{wire}" for wire in theirs if wire not in ours]
    problems += [f"not in the API: {path}.{wire}" for wire in ours if wire not in theirs]
    for wire, nested in theirs.items():
        models = _models_in(ours[wire].annotation) if wire in ours else []
        if nested is not None and models:  # a plain JSON object accepts anything below
            problems += _field_differences(models[0], nested, f"{path}.{wire}", seen)
    return problems


@pytest.mark.parametrize("kind", sorted(API_FIELDS["kinds"]))
def test_every_api_field_is_accepted(kind: str) -> None:
    # The field names of the Kubernetes API's own types, kind by kind and all the way
    # down, except below the parts kept as plain JSON objects.
    model = getattr(engine.api, kind)
    assert _field_differences(model, API_FIELDS["kinds"][kind], kind, set()) == []


@pytest.mark.parametrize(
    "first_import",
    [
        "import engine.registry",
        "from engine.registry import REGISTRY",
        "import engine.api.base",
        "import engine.api",
        "import engine.api.core",
    ],
)
def test_kinds_register_whatever_is_imported_first(first_import: str) -> None:
    # engine.registry imports engine.api.base, which runs the engine.api package first.
    code = (
        f"{first_import}\n"
        "from engine.api import Pod, Deployment\n"
        "from engine.registry import REGISTRY\n"
        "assert REGISTRY.lookup('v1', 'Pod').model is Pod\n"
        "assert REGISTRY.lookup('apps/v1', 'Deployment').model is Deployment\n"
        "assert len(list(REGISTRY)) >= 24\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_kind_and_api_version_are_filled_in() -> None:
    pod = Pod(metadata={"name": "p"})
    assert (pod.api_version, pod.kind) == ("v1", "Pod")
    assert Deployment().api_version == "apps/v1"


def test_spec_and_status_always_exist() -> None:
    pod = Pod()
    assert pod.status.phase is None
    assert pod.spec.containers == []
    assert Deployment().status.replicas == 0
    assert Node().status.allocatable == {}


@pytest.mark.parametrize(
    ("model", "data", "attribute", "expected"),
    [
        (PodStatus, {"podIP": "10.0.0.1"}, "pod_ip", "10.0.0.1"),
        (PodStatus, {"podIPs": [{"ip": "10.0.0.1"}]}, "pod_ips", [{"ip": "10.0.0.1"}]),
        (PodStatus, {"hostIP": "192.168.0.1"}, "host_ip", "192.168.0.1"),
        (PodStatus, {"hostIPs": [{"ip": "192.168.0.1"}]}, "host_ips", [{"ip": "192.168.0.1"}]),
        (NodeSpec, {"podCIDR": "10.0.0.0/24"}, "pod_cidr", "10.0.0.0/24"),
        (NodeSpec, {"podCIDRs": ["10.0.0.0/24"]}, "pod_cidrs", ["10.0.0.0/24"]),
        (NodeSpec, {"providerID": "kwok://n1"}, "provider_id", "kwok://n1"),
        (NodeSystemInfo, {"machineID": "m", "systemUUID": "u", "bootID": "b"}, "boot_id", "b"),
        (DaemonEndpoint, {"Port": 10250}, "port", 10250),
        (PodSpec, {"hostPID": True, "hostIPC": True}, "host_pid", True),
        (PodSpec, {"setHostnameAsFQDN": True}, "set_hostname_as_fqdn", True),
        (ContainerStatus, {"name": "c", "imageID": "sha", "containerID": "x"}, "image_id", "sha"),
    ],
)
def test_kubernetes_initialisms_keep_their_wire_names(
    model: Any, data: dict[str, Any], attribute: str, expected: Any
) -> None:
    obj = model.model_validate(data)
    value = getattr(obj, attribute)
    if isinstance(value, list):
        value = [v.to_dict() if hasattr(v, "to_dict") else v for v in value]
    assert value == expected
    assert obj.to_dict().items() >= data.items()


def test_service_wire_names() -> None:
    service = Service.model_validate(
        {
            "metadata": {"name": "s"},
            "spec": {
                "clusterIP": "10.96.0.10",
                "clusterIPs": ["10.96.0.10"],
                "externalIPs": ["1.2.3.4"],
                "loadBalancerIP": "5.6.7.8",
                "ipFamilies": ["IPv4"],
                "sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}},
                "ports": [{"port": 53}],
            },
        }
    )
    spec = service.spec
    assert spec.cluster_ip == "10.96.0.10" and spec.cluster_ips == ["10.96.0.10"]
    assert spec.external_ips == ["1.2.3.4"] and spec.load_balancer_ip == "5.6.7.8"
    assert spec.session_affinity_config is not None
    assert spec.session_affinity_config.client_ip is not None
    assert set(service.to_dict()["spec"]) >= {"clusterIP", "clusterIPs", "externalIPs"}


@pytest.mark.parametrize(("wire", "expected"), [(8080, 8080), ("8080", "8080"), ("http", "http")])
def test_int_or_string_keeps_its_type(wire: int | str, expected: int | str) -> None:
    port = ServicePort.model_validate({"port": 80, "targetPort": wire})
    assert port.target_port == expected
    assert type(port.target_port) is type(expected)
    assert port.to_dict()["targetPort"] == wire


def test_rolling_update_percentages_are_strings() -> None:
    deployment = Deployment.model_validate(
        {"spec": {"strategy": {"rollingUpdate": {"maxSurge": 1, "maxUnavailable": "10%"}}}}
    )
    rolling = deployment.spec.strategy.rolling_update
    assert rolling is not None
    assert (rolling.max_surge, rolling.max_unavailable) == (1, "10%")


def test_integers_and_booleans_are_strict() -> None:
    with pytest.raises(ValidationError):
        Deployment.model_validate({"spec": {"replicas": "3"}})
    with pytest.raises(ValidationError):
        PodSpec.model_validate({"hostNetwork": "yes"})


def test_unknown_fields_are_rejected_at_any_depth() -> None:
    with pytest.raises(ValidationError) as info:
        Pod.model_validate(
            {"spec": {"containers": [{"name": "c", "image": "i", "imagePullPolice": "Always"}]}}
        )
    assert info.value.errors()[0]["loc"] == ("spec", "containers", 0, "imagePullPolice")


def test_resources_are_quantities() -> None:
    container = Container.model_validate(
        {"name": "c", "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}}}
    )
    cpu = container.resources.requests["cpu"]
    assert isinstance(cpu, Quantity)
    assert cpu.milli_value() == 250
    assert container.resources.requests["memory"].value() == 64 * 2**20
    assert container.resources.limits.get("cpu") is None
    assert container.to_dict()["resources"] == {"requests": {"cpu": "250m", "memory": "64Mi"}}


def test_models_are_frozen() -> None:
    pod = Pod()
    with pytest.raises(ValidationError):
        pod.spec.node_name = "n1"  # type: ignore[misc]
    moved = pod.model_copy(update={"spec": pod.spec.model_copy(update={"node_name": "n1"})})
    assert moved.spec.node_name == "n1" and pod.spec.node_name is None


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("nginx", "Always"),
        ("nginx:latest", "Always"),
        ("nginx:1.14.2", "IfNotPresent"),
        ("registry.k8s.io:5000/pause", "Always"),
        ("registry.k8s.io:5000/pause:3.8", "IfNotPresent"),
        ("nginx@sha256:" + "a" * 64, "IfNotPresent"),
        ("nginx:latest@sha256:" + "a" * 64, "IfNotPresent"),
        (None, "IfNotPresent"),
    ],
)
def test_image_pull_policy_default(image: str | None, policy: str) -> None:
    assert default_image_pull_policy(image) == policy
    assert Container(name="c", image=image).image_pull_policy == policy


def test_explicit_image_pull_policy_is_kept() -> None:
    assert (
        Container(name="c", image="nginx", image_pull_policy="Never").image_pull_policy == "Never"
    )


def test_volume_without_source_is_empty_dir() -> None:
    volume = Volume(name="scratch")
    assert volume.empty_dir is not None
    assert volume.sources() == ["emptyDir"]
    nfs = Volume.model_validate({"name": "v", "nfs": {"server": "s", "path": "/"}})
    assert nfs.sources() == ["nfs"] and nfs.empty_dir is None


def test_pod_helpers() -> None:
    pod = Pod(
        status=PodStatus(phase="Running", conditions=[PodCondition(type="Ready", status="True")])
    )
    assert pod.is_ready and not pod.is_terminal and not pod.is_terminating
    ready = pod.status.condition("Ready")
    assert ready is not None and ready.status == "True"
    assert pod.status.condition("PodScheduled") is None
    assert Pod(status=PodStatus(phase="Failed")).is_terminal


def test_job_is_finished() -> None:
    job = Job.model_validate({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})
    assert job.is_finished
    assert not Job().is_finished


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        ({"key": "k", "operator": "Equal", "value": "v"}, ("k", "v", "NoSchedule"), True),
        ({"key": "k", "value": "v"}, ("k", "other", "NoSchedule"), False),
        ({"key": "k", "operator": "Exists"}, ("k", "any", "NoExecute"), True),
        ({"key": "k", "operator": "Exists", "effect": "NoSchedule"}, ("k", "", "NoExecute"), False),
        ({"operator": "Exists"}, ("anything", "x", "NoSchedule"), True),
        ({"key": "other", "operator": "Exists"}, ("k", "", "NoSchedule"), False),
    ],
)
def test_toleration_matching(
    toleration: dict[str, Any], taint: tuple[str, str, str], tolerated: bool
) -> None:
    key, value, effect = taint
    assert (
        Toleration.model_validate(toleration).tolerates(Taint(key=key, value=value, effect=effect))
        is tolerated
    )


@pytest.mark.parametrize(
    ("value", "total", "round_up", "expected"),
    [(3, 10, True, 3), ("25%", 10, True, 3), ("25%", 10, False, 2), ("0%", 7, True, 0)],
)
def test_scaled_value(value: int | str, total: int, round_up: bool, expected: int) -> None:
    assert scaled_value(value, total, round_up=round_up) == expected


def test_scaled_value_rejects_other_strings() -> None:
    with pytest.raises(ValueError, match="invalid value"):
        scaled_value("ten", 10, round_up=True)


def _spec(*resources: dict[str, dict[str, str]]) -> PodSpec:
    return PodSpec(
        containers=[
            Container(name=f"c{i}", resources=ResourceRequirements.model_validate(r))
            for i, r in enumerate(resources)
        ]
    )


@pytest.mark.parametrize(
    ("resources", "expected"),
    [
        ([{}], "BestEffort"),
        ([{"requests": {"nvidia.com/gpu": "1"}}], "BestEffort"),
        ([{"requests": {"cpu": "100m"}}], "Burstable"),
        (
            [{"limits": {"cpu": "1", "memory": "1Gi"}, "requests": {"cpu": "1", "memory": "1Gi"}}],
            "Guaranteed",
        ),
        (
            [
                {
                    "limits": {"cpu": "1", "memory": "1Gi"},
                    "requests": {"cpu": "500m", "memory": "1Gi"},
                }
            ],
            "Burstable",
        ),
        ([{"limits": {"cpu": "1"}, "requests": {"cpu": "1"}}], "Burstable"),
        (
            [
                {
                    "limits": {"cpu": "1", "memory": "1Gi"},
                    "requests": {"cpu": "1", "memory": "1Gi"},
                },
                {},
            ],
            "Burstable",
        ),
    ],
)
def test_qos_class(resources: list[dict[str, dict[str, str]]], expected: str) -> None:
    assert qos_class(_spec(*resources)) == expected


def test_hpa_spec_defaults_to_cpu_utilisation() -> None:
    metric = HorizontalPodAutoscaler().spec.metrics[0]
    assert metric.type == "Resource" and metric.resource is not None
    assert (metric.resource.name, metric.resource.target.average_utilization) == ("cpu", 80)


# -- generated pods ------------------------------------------------------------

_label = st.from_regex(r"[a-z]([-a-z0-9]{0,10}[a-z0-9])?", fullmatch=True)
_port_name = st.from_regex(r"[a-z]{1,15}", fullmatch=True)
_quantity = st.one_of(
    st.integers(0, 4000).map(lambda n: f"{n}m"),
    st.integers(1, 64).map(lambda n: f"{n}Gi"),
    st.integers(1, 512).map(lambda n: f"{n}Mi"),
    st.integers(0, 8).map(str),
)
_probe = st.fixed_dictionaries(
    {"httpGet": st.fixed_dictionaries({"port": st.one_of(st.integers(1, 65535), _port_name)})},
    optional={
        "periodSeconds": st.integers(1, 60),
        "initialDelaySeconds": st.integers(0, 60),
        "failureThreshold": st.integers(1, 10),
    },
)


@st.composite
def _containers(draw: st.DrawFn) -> list[dict[str, Any]]:
    names = draw(st.lists(_label, min_size=1, max_size=3, unique=True))
    containers = []
    for name in names:
        container: dict[str, Any] = {
            "name": name,
            "image": draw(
                st.sampled_from(
                    ["nginx", "nginx:1.25", "busybox:latest", "registry.k8s.io/pause:3.9"]
                )
            ),
        }
        requests = draw(st.dictionaries(st.sampled_from(["cpu", "memory"]), _quantity))
        if requests:
            container["resources"] = {"requests": requests}
        ports = draw(st.lists(st.integers(1, 65535), max_size=2, unique=True))
        if ports:
            container["ports"] = [{"containerPort": p} for p in ports]
        if draw(st.booleans()):
            container["readinessProbe"] = draw(_probe)
        env = draw(
            st.dictionaries(st.from_regex(r"[A-Z_]{1,8}", fullmatch=True), _label, max_size=2)
        )
        if env:
            container["env"] = [{"name": k, "value": v} for k, v in env.items()]
        containers.append(container)
    return containers


@st.composite
def pod_manifests(draw: st.DrawFn) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": draw(_containers())}
    spec["restartPolicy"] = draw(st.sampled_from(["Always", "OnFailure", "Never"]))
    if draw(st.booleans()):
        spec["nodeSelector"] = draw(st.dictionaries(_label, _label, max_size=2))
    if draw(st.booleans()):
        spec["tolerations"] = [{"key": draw(_label), "operator": "Exists", "effect": "NoSchedule"}]
    labels = draw(st.dictionaries(_label, _label, max_size=3))
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": draw(_label), "namespace": "default", "labels": labels},
        "spec": spec,
    }


@given(pod_manifests())
def test_generated_pods_round_trip(manifest: dict[str, Any]) -> None:
    pod = parse_object(manifest)
    again = parse_object(pod.to_dict())
    assert again == pod
    assert again.to_dict() == pod.to_dict()
