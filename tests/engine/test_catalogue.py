"""The served catalogue: every kind of a 1.34 apiserver loads from a manifest
shaped like the Kubernetes docs' examples, validates against its published
schema, and round-trips create/get/list/watch/patch/delete through the store;
removed versions and unknown kinds get errors that say what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from engine.api.autoscaling import HorizontalPodAutoscaler
from engine.catalogue import SERVED, SchemaResource
from engine.conversion import convert
from engine.errors import BadRequest, Invalid
from engine.manifests import load_manifest_files, load_manifests, parse_object
from engine.registry import REGISTRY
from engine.schema.builtin import definition_for, definitions
from engine.store import Store
from engine.watch import ADDED, DELETED, MODIFIED

MANIFESTS = Path(__file__).parent / "manifests"
FAMILY_FILES = sorted(p for p in MANIFESTS.glob("*.yaml") if not p.name.startswith("crd-"))


@pytest.mark.parametrize("path", FAMILY_FILES, ids=lambda p: p.name)
def test_every_kind_family_manifest_loads_and_stores(path: Path) -> None:
    objects = load_manifest_files([path])
    assert objects
    store = Store()
    for obj in objects:
        stored = store.create(obj)
        assert store.get(type(obj), stored.metadata.name, stored.metadata.namespace or None)


def test_the_family_manifests_cover_every_served_kind() -> None:
    loaded = {(o.api_version, o.kind) for o in load_manifest_files(FAMILY_FILES)}
    # An autoscaling/v1 manifest is stored as v2, an events.k8s.io/v1 Event as
    # a core one; these three are made by the system or covered by tests of
    # their own (test_crd).
    covered = loaded | {
        ("autoscaling/v1", "HorizontalPodAutoscaler"),
        ("events.k8s.io/v1", "Event"),
    }
    elsewhere = {"Binding", "ControllerRevision", "CustomResourceDefinition"}
    missing = [
        (s.api_version, s.kind)
        for s in SERVED
        if (s.api_version, s.kind) not in covered and s.kind not in elsewhere
    ]
    assert missing == []


def test_every_served_kind_is_registered_with_its_plural_scope_and_schema() -> None:
    for served in SERVED:
        info = REGISTRY.lookup(served.api_version, served.kind)
        assert (info.plural, info.namespaced) == (served.plural, served.namespaced), served
        name = definition_for(served.api_version, served.kind)
        assert name is not None, served
        if issubclass(info.model, SchemaResource):
            properties = set(definitions()[name]["properties"]) - {"apiVersion", "kind", "metadata"}
            assert set(served.top_level_fields) == properties, served


def _minimal(served: Any) -> dict[str, Any]:
    """The smallest valid object of a schema-backed kind: its required fields
    filled with placeholders its schema accepts."""
    return {
        "apiVersion": served.api_version,
        "kind": served.kind,
        "metadata": {"name": "x", "labels": {"v": "1"}},
    }


SCHEMA_KINDS = [
    s for s in SERVED if issubclass(REGISTRY.lookup(s.api_version, s.kind).model, SchemaResource)
]
REQUIRES_MORE = {"Binding", "RoleBinding", "ClusterRoleBinding", "IPAddress"}


@pytest.mark.parametrize("served", SCHEMA_KINDS, ids=lambda s: f"{s.api_version}/{s.kind}")
async def test_every_schema_kind_round_trips_through_the_store(served: Any) -> None:
    if served.kind in REQUIRES_MORE or served.api_version == "autoscaling/v1":
        pytest.skip("needs required fields; covered by the family manifests")
    store = Store()
    model = REGISTRY.lookup(served.api_version, served.kind).model
    try:
        obj = parse_object(_minimal(served))
    except Invalid as error:  # a kind whose schema requires a spec
        assert "field required" in str(error)
        return
    namespace = "default" if served.namespaced else None
    watcher = store.watch(model, since=store.revision)
    created = store.create(obj)
    assert store.get(model, "x", namespace) is created
    # The apiserver makes the `kubernetes` ServiceCIDR at start; nothing else is there.
    names = [o.metadata.name for o in store.list(model, namespace=namespace).items]
    assert [n for n in names if n != "kubernetes" or served.kind != "ServiceCIDR"] == ["x"]
    patched = store.patch(model, "x", namespace, {"metadata": {"labels": {"v": "2"}}})
    assert patched.metadata.labels == {"v": "2"}
    store.delete(model, "x", namespace)
    assert store.try_get(model, "x", namespace) is None
    watcher.stop()
    assert [e.type for e in watcher.drain()] == [ADDED, MODIFIED, DELETED]


def test_unknown_fields_are_rejected_with_their_path() -> None:
    text = (MANIFESTS / "networking.yaml").read_text().replace("cidr: 10.0.0.0/24", "cidrr: x", 1)
    with pytest.raises(Invalid, match=r"spec.egress\[0\].to\[0\].ipBlock.cidrr: unknown field"):
        load_manifests(text)


def test_wrong_types_are_rejected_with_their_path() -> None:
    text = (MANIFESTS / "core.yaml").read_text().replace("replicas: 3", "replicas: three")
    with pytest.raises(Invalid, match=r'spec.replicas: expected integer, got string "three"'):
        load_manifests(text)


@pytest.mark.parametrize(
    ("api_version", "kind", "expected"),
    [
        (
            "batch/v1beta1",
            "CronJob",
            "batch/v1beta1 CronJob was removed in Kubernetes 1.25; use batch/v1",
        ),
        ("extensions/v1beta1", "Deployment", "removed in Kubernetes 1.16; use apps/v1"),
        (
            "networking.k8s.io/v1beta1",
            "Ingress",
            "removed in Kubernetes 1.22; use networking.k8s.io/v1",
        ),
        ("flowcontrol.apiserver.k8s.io/v1beta1", "FlowSchema", "removed in Kubernetes 1.26"),
        ("storage.k8s.io/v1beta1", "CSIStorageCapacity", "removed in Kubernetes 1.27"),
        ("flowcontrol.apiserver.k8s.io/v1beta2", "FlowSchema", "removed in Kubernetes 1.29"),
        (
            "flowcontrol.apiserver.k8s.io/v1beta3",
            "PriorityLevelConfiguration",
            "removed in Kubernetes 1.32",
        ),
        ("policy/v1beta1", "PodSecurityPolicy", "removed in Kubernetes 1.25; no replacement"),
        (
            "cert-manager.io/v1",
            "Certificate",
            "create the CustomResourceDefinition of Certificate first",
        ),
        ("apps/v1", "Widget", "apps is a built-in API group without this kind"),
        (
            "apiserver.config.k8s.io/v1",
            "AdmissionConfiguration",
            "AdmissionConfiguration is a configuration file of kube-apiserver",
        ),
        ("kubescheduler.config.k8s.io/v1", "KubeSchedulerConfiguration", "of kube-scheduler"),
        ("kubelet.config.k8s.io/v1beta1", "KubeletConfiguration", "of the kubelet"),
        ("audit.k8s.io/v1", "Policy", "of kube-apiserver"),
        ("v1", "Config", "Config is a kubeconfig file of kubectl and other clients"),
        (
            "admissionregistration.k8s.io/v1",
            "MutatingAdmissionPolicy",
            "MutatingAdmissionPolicy is not served by a Kubernetes 1.34 apiserver with its "
            "default feature gates: it needs the MutatingAdmissionPolicy feature gate "
            "(beta in 1.34, as admissionregistration.k8s.io/v1beta1)",
        ),
        ("certificates.k8s.io/v1beta1", "ClusterTrustBundle", "the ClusterTrustBundle feature"),
        (
            "example.com/v1",
            "ClusterTrustBundle",
            "create the CustomResourceDefinition of ClusterTrustBundle first",
        ),
    ],
)
def test_removed_versions_and_unknown_kinds_say_what_to_do(
    api_version: str, kind: str, expected: str
) -> None:
    text = f"apiVersion: {api_version}\nkind: {kind}\nmetadata: {{name: x}}\n"
    with pytest.raises(BadRequest) as caught:
        load_manifests(text, source="app.yaml")
    assert expected in str(caught.value) and "app.yaml document 1" in str(caught.value)


def test_an_autoscaling_v1_hpa_is_stored_as_v2_and_reads_back_as_v1() -> None:
    (hpa,) = load_manifests((MANIFESTS / "misc.yaml").read_text().split("---")[0])
    assert isinstance(hpa, HorizontalPodAutoscaler)
    metric = hpa.spec.metrics[0]
    assert metric.type == "Resource" and metric.resource is not None
    assert (metric.resource.name, metric.resource.target.average_utilization) == ("cpu", 50)
    v1_model = REGISTRY.lookup("autoscaling/v1", "HorizontalPodAutoscaler").model
    status = {
        "currentReplicas": 2,
        "desiredReplicas": 2,
        "currentMetrics": [
            {"type": "Resource", "resource": {"name": "cpu", "current": {"averageUtilization": 70}}}
        ],
    }
    with_status = HorizontalPodAutoscaler.model_validate({**hpa.to_dict(), "status": status})
    v1: Any = convert(with_status, v1_model)
    assert v1.spec["targetCPUUtilizationPercentage"] == 50
    assert v1.status["currentCPUUtilizationPercentage"] == 70
    assert convert(v1, HorizontalPodAutoscaler) == with_status


def test_v2_only_fields_survive_a_round_trip_through_v1() -> None:
    doc = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "web"},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web"},
            "maxReplicas": 5,
            "metrics": [
                {
                    "type": "Pods",
                    "pods": {
                        "metric": {"name": "qps"},
                        "target": {"type": "AverageValue", "averageValue": "10"},
                    },
                }
            ],
        },
    }
    v2 = parse_object(doc)
    v1_model = REGISTRY.lookup("autoscaling/v1", "HorizontalPodAutoscaler").model
    v1: Any = convert(v2, v1_model)
    assert "targetCPUUtilizationPercentage" not in v1.spec
    assert "autoscaling.alpha.kubernetes.io/metrics" in v1.metadata.annotations
    assert convert(v1, HorizontalPodAutoscaler) == v2


def test_the_store_reads_and_writes_a_kind_in_the_version_asked_for() -> None:
    store = Store()
    v1_model = REGISTRY.lookup("autoscaling/v1", "HorizontalPodAutoscaler").model
    (stored,) = load_manifests((MANIFESTS / "misc.yaml").read_text().split("---")[0])
    store.create(stored)
    v1: Any = store.get(v1_model, "php-apache", "default")  # a SchemaResource: JSON fields
    assert v1.spec["targetCPUUtilizationPercentage"] == 50
    assert type(v1) is v1_model
    assert [o.metadata.name for o in store.list(v1_model).items] == ["php-apache"]
    created: Any = store.create(
        v1_model.model_validate({**v1.to_dict(), "metadata": {"name": "other"}})
    )
    assert type(created) is v1_model
    v2 = store.get(HorizontalPodAutoscaler, "other", "default")
    assert v2.spec.metrics[0].resource is not None
    assert v2.spec.metrics[0].resource.target.average_utilization == 50
    with pytest.raises(BadRequest, match="storage version"):
        store.watch(v1_model)


_RBAC_KINDS = [
    ("Role", "rules: []"),
    ("ClusterRole", "rules: []"),
    ("RoleBinding", "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}"),
    (
        "ClusterRoleBinding",
        "roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: r}",
    ),
]


def _rbac_manifest(kind: str, name: str, body: str) -> str:
    return (
        f"apiVersion: rbac.authorization.k8s.io/v1\nkind: {kind}\n"
        f"metadata: {{name: '{name}', namespace: team-a}}\n{body}\n"
    )


@pytest.mark.parametrize(("kind", "body"), _RBAC_KINDS)
def test_rbac_names_are_path_segments_so_system_prefixed_names_load(kind: str, body: str) -> None:
    # Kubernetes checks RBAC names only as URL path segments: the "system:" and
    # "custom:...:x" roles of cluster add-ons are valid names there.
    (obj,) = load_manifests(_rbac_manifest(kind, "system:metrics-reader:Edit_1", body))
    assert obj.metadata.name == "system:metrics-reader:Edit_1"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("a/b", "may not contain '/'"),
        ("50%", "may not contain '%'"),
        ("..", "may not be '..'"),
        (".", "may not be '.'"),
    ],
)
def test_rbac_names_that_are_not_path_segments_are_rejected(name: str, expected: str) -> None:
    with pytest.raises(Invalid, match=f"metadata.name: Invalid value: .*{expected}"):
        load_manifests(_rbac_manifest("ClusterRole", name, "rules: []"))


def test_other_kinds_still_need_dns_subdomain_names() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: 'system:x', namespace: default}\n"
    with pytest.raises(Invalid, match="RFC 1123 subdomain"):
        load_manifests(text)
