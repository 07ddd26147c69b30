"""The served catalogue: every kind a Kubernetes 1.34 apiserver serves with its
default feature gates, in every served version, with its plural and scope.

Kinds that a controller uses have hand-written models in `engine.api`; every
other kind here is a `SchemaResource`: its top-level fields are kept as plain
JSON values and validated against Kubernetes' published schema of that
version (`engine.schema.builtin`), unknown fields rejected with their path.
`register_catalogue(registry)` registers the schema-backed kinds (hand-written
ones register themselves); it runs when the built-in kinds are loaded.

Not served here (as objects cannot be stored in Kubernetes either): the review
kinds (TokenReview, SubjectAccessReview, SelfSubjectReview...), TokenRequest,
Eviction and Scale (subresources), and the read-only ComponentStatus.

Neighbours: `engine.registry` (where kinds register), `engine.schema`
(validation), `engine.removed` (versions Kubernetes removed), `engine.conversion`
(the kinds served in more than one version).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Final

from pydantic import ConfigDict, Field, create_model

from engine.api.base import Resource
from engine.api.validation import register_validator
from engine.errors import FieldError
from engine.schema.builtin import builtin_schema

__all__ = ["SERVED", "SchemaResource", "ServedKind", "register_catalogue", "schema_model"]


@dataclass(frozen=True, slots=True)
class ServedKind:
    """One kind in one served version."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool
    status: bool = False  # has a status subresource
    fields: str = ""  # top-level fields beyond metadata; "" for "spec" (+ "status")

    @property
    def top_level_fields(self) -> tuple[str, ...]:
        """The wire names of the kind's top-level fields beyond apiVersion, kind and
        metadata, as its published schema has them."""
        if self.fields:
            return tuple(self.fields.split())
        return ("spec", "status") if self.status else ("spec",)

    @property
    def group(self) -> str:
        return self.api_version.rpartition("/")[0]


def _kinds(api_version: str, *rows: tuple[Any, ...]) -> list[ServedKind]:
    return [ServedKind(api_version, *row) for row in rows]


N, C = True, False  # namespaced, cluster-scoped
S, _ = True, False  # with or without a status subresource

SERVED: Final[tuple[ServedKind, ...]] = tuple(
    [
        *_kinds(
            "v1",
            ("Binding", "bindings", N, _),
            ("ConfigMap", "configmaps", N, _),
            ("Endpoints", "endpoints", N, _),
            ("Event", "events", N, _),
            ("LimitRange", "limitranges", N, _),
            ("Namespace", "namespaces", C, S),
            ("Node", "nodes", C, S),
            ("PersistentVolume", "persistentvolumes", C, S),
            ("PersistentVolumeClaim", "persistentvolumeclaims", N, S),
            ("Pod", "pods", N, S),
            ("PodTemplate", "podtemplates", N, _, "template"),
            ("ReplicationController", "replicationcontrollers", N, S),
            ("ResourceQuota", "resourcequotas", N, S),
            ("Secret", "secrets", N, _),
            ("Service", "services", N, S),
            (
                "ServiceAccount",
                "serviceaccounts",
                N,
                _,
                "automountServiceAccountToken imagePullSecrets secrets",
            ),
        ),
        *_kinds(
            "admissionregistration.k8s.io/v1",
            ("MutatingWebhookConfiguration", "mutatingwebhookconfigurations", C, _, "webhooks"),
            ("ValidatingWebhookConfiguration", "validatingwebhookconfigurations", C, _, "webhooks"),
            ("ValidatingAdmissionPolicy", "validatingadmissionpolicies", C, S),
            ("ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings", C, _),
        ),
        *_kinds(
            "apiextensions.k8s.io/v1",
            ("CustomResourceDefinition", "customresourcedefinitions", C, S),
        ),
        *_kinds("apiregistration.k8s.io/v1", ("APIService", "apiservices", C, S)),
        *_kinds(
            "apps/v1",
            ("ControllerRevision", "controllerrevisions", N, _),
            ("DaemonSet", "daemonsets", N, S),
            ("Deployment", "deployments", N, S),
            ("ReplicaSet", "replicasets", N, S),
            ("StatefulSet", "statefulsets", N, S),
        ),
        *_kinds("autoscaling/v1", ("HorizontalPodAutoscaler", "horizontalpodautoscalers", N, S)),
        *_kinds("autoscaling/v2", ("HorizontalPodAutoscaler", "horizontalpodautoscalers", N, S)),
        *_kinds("batch/v1", ("CronJob", "cronjobs", N, S), ("Job", "jobs", N, S)),
        *_kinds(
            "certificates.k8s.io/v1",
            ("CertificateSigningRequest", "certificatesigningrequests", C, S),
        ),
        *_kinds("coordination.k8s.io/v1", ("Lease", "leases", N, _)),
        *_kinds("discovery.k8s.io/v1", ("EndpointSlice", "endpointslices", N, _)),
        *_kinds(
            "events.k8s.io/v1",
            (
                "Event",
                "events",
                N,
                _,
                "action deprecatedCount deprecatedFirstTimestamp deprecatedLastTimestamp "
                "deprecatedSource eventTime note reason regarding related reportingController "
                "reportingInstance series type",
            ),
        ),
        *_kinds(
            "flowcontrol.apiserver.k8s.io/v1",
            ("FlowSchema", "flowschemas", C, S),
            ("PriorityLevelConfiguration", "prioritylevelconfigurations", C, S),
        ),
        *_kinds(
            "networking.k8s.io/v1",
            ("IPAddress", "ipaddresses", C, _),
            ("Ingress", "ingresses", N, S),
            ("IngressClass", "ingressclasses", C, _),
            ("NetworkPolicy", "networkpolicies", N, _),
            ("ServiceCIDR", "servicecidrs", C, S),
        ),
        *_kinds(
            "node.k8s.io/v1",
            ("RuntimeClass", "runtimeclasses", C, _, "handler overhead scheduling"),
        ),
        *_kinds("policy/v1", ("PodDisruptionBudget", "poddisruptionbudgets", N, S)),
        *_kinds(
            "rbac.authorization.k8s.io/v1",
            ("ClusterRole", "clusterroles", C, _, "aggregationRule rules"),
            ("ClusterRoleBinding", "clusterrolebindings", C, _, "roleRef subjects"),
            ("Role", "roles", N, _, "rules"),
            ("RoleBinding", "rolebindings", N, _, "roleRef subjects"),
        ),
        *_kinds(
            "resource.k8s.io/v1",
            ("DeviceClass", "deviceclasses", C, _),
            ("ResourceClaim", "resourceclaims", N, S),
            ("ResourceClaimTemplate", "resourceclaimtemplates", N, _),
            ("ResourceSlice", "resourceslices", C, _),
        ),
        *_kinds("scheduling.k8s.io/v1", ("PriorityClass", "priorityclasses", C, _)),
        *_kinds(
            "storage.k8s.io/v1",
            ("CSIDriver", "csidrivers", C, _),
            ("CSINode", "csinodes", C, _),
            (
                "CSIStorageCapacity",
                "csistoragecapacities",
                N,
                _,
                "capacity maximumVolumeSize nodeTopology storageClassName",
            ),
            (
                "StorageClass",
                "storageclasses",
                C,
                _,
                "allowVolumeExpansion allowedTopologies mountOptions parameters provisioner "
                "reclaimPolicy volumeBindingMode",
            ),
            ("VolumeAttachment", "volumeattachments", C, S),
            ("VolumeAttributesClass", "volumeattributesclasses", C, _, "driverName parameters"),
        ),
    ]
)
"""Every served (apiVersion, kind), sorted by group."""

SERVED_GROUPS: Final[frozenset[str]] = frozenset(k.group for k in SERVED)


class SchemaResource(Resource):
    """A built-in kind without a hand-written model: its top-level fields (spec,
    status, rules, data...) are plain JSON values, validated against the
    published schema of its version. Read them as attributes (`role.rules`)."""

    # Built on first use: most processes never touch most of these kinds.
    model_config = ConfigDict(extra="forbid", defer_build=True)

    json_fields: ClassVar[tuple[str, ...]] = ()
    """The wire names of the top-level fields beyond apiVersion, kind, metadata."""

    def schema_errors(self) -> list[FieldError]:
        """The problems the published schema finds (metadata is checked apart)."""
        data = self.to_dict()
        data.pop("metadata", None)
        return builtin_schema(self.api_group_version, self.kind_name).validate(data)


def _snake(name: str) -> str:
    out = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
    return out.lstrip("_")


def schema_model(served: ServedKind) -> type[SchemaResource]:
    """A `SchemaResource` subclass for one served kind (the published schema is
    read only when an object is first validated)."""
    fields: dict[str, Any] = {}
    for wire in served.top_level_fields:
        default: Any = Field(default_factory=dict, alias=wire) if wire == "status" else None
        fields[_snake(wire)] = (Any, default if default is not None else Field(None, alias=wire))
    model: type[SchemaResource] = create_model(
        served.kind,
        __base__=SchemaResource,
        __module__=__name__,
        **fields,
    )
    model.api_group_version = served.api_version
    model.kind_name = served.kind
    model.plural = served.plural
    model.namespaced = served.namespaced
    model.has_status_subresource = served.status
    model.json_fields = served.top_level_fields
    return model


def register_catalogue(registry: Any) -> None:
    """Register a `SchemaResource` for every served kind that has no model yet."""
    for served in SERVED:
        if registry.has_gvk(served.api_version, served.kind):
            continue
        model = schema_model(served)
        registry.register(model)
        register_validator(model, SchemaResource.schema_errors)
