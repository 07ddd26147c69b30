"""The RBAC objects kube-apiserver creates when it starts (its `rbac/bootstrap-roles`
post-start hook, from `bootstrappolicy`): the user-facing ClusterRoles
`cluster-admin`, `admin`, `edit` and `view` (the last three aggregated from
the `system:aggregate-to-*` roles by label), `system:discovery`,
`system:basic-user`, `system:public-info-viewer`, and their
ClusterRoleBindings (`cluster-admin` to the group `system:masters`; discovery
and basic-user to `system:authenticated`; public-info-viewer to
`system:authenticated` and `system:unauthenticated`).

Contract: `bootstrap_policy()` gives them as JSON manifests (labelled
`kubernetes.io/bootstrapping: rbac-defaults`, annotated
`rbac.authorization.kubernetes.io/autoupdate: "true"`, as Kubernetes does);
`ensure_bootstrap_policy(client)` creates those missing, leaving existing ones
alone (Kubernetes reconciles autoupdate roles on every start; a fresh kubeloop
cluster has none to reconcile). The aggregated roles are created with no rules:
the clusterrole-aggregation controller fills them. The HTTP API server calls it
when it starts: an in-process `Cluster` does not, since nothing in-process is
authorized, and fourteen more objects would shift the store's seeded RNG and
with it every recorded simulation trace.

Not included: the controller and node roles (`system:controller:*`,
`system:node`, `system:kube-scheduler`...), whose users are kubeloop's own
in-process components that do not go through authorization.

Neighbours: `engine.rbac` (decides with them),
`controllers.clusterroleaggregation` (fills admin, edit and view).
"""

from __future__ import annotations

import contextlib
from typing import Any, Final

from engine.client import Client
from engine.errors import AlreadyExists
from engine.manifests import parse_object

__all__ = ["AGGREGATE_TO", "bootstrap_policy", "ensure_bootstrap_policy"]

AGGREGATE_TO: Final = "rbac.authorization.k8s.io/aggregate-to-"
_API: Final = "rbac.authorization.k8s.io/v1"
READ: Final = ("get", "list", "watch")
WRITE: Final = ("create", "update", "patch", "delete", "deletecollection")
READ_WRITE: Final = READ + WRITE


def _rule(verbs: tuple[str, ...], group: str, *resources: str) -> dict[str, Any]:
    return {"verbs": list(verbs), "apiGroups": [group], "resources": list(resources)}


def _urls(verbs: tuple[str, ...], *urls: str) -> dict[str, Any]:
    return {"verbs": list(verbs), "nonResourceURLs": list(urls)}


def _role(
    name: str,
    rules: list[dict[str, Any]],
    *,
    labels: dict[str, str] | None = None,
    aggregate: str | None = None,
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": _API,
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "rules": rules,
    }
    if aggregate is not None:
        role["aggregationRule"] = {
            "clusterRoleSelectors": [{"matchLabels": {AGGREGATE_TO + aggregate: "true"}}]
        }
    return role


def _binding(name: str, *groups: str) -> dict[str, Any]:
    return {
        "apiVersion": _API,
        "kind": "ClusterRoleBinding",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults"},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}
            for group in groups
        ],
    }


def _view_rules() -> list[dict[str, Any]]:
    return [
        _rule(
            READ,
            "",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "configmaps",
        ),
        _rule(
            READ,
            "",
            "limitranges",
            "resourcequotas",
            "bindings",
            "events",
            "pods/status",
            "resourcequotas/status",
            "namespaces/status",
            "replicationcontrollers/status",
            "pods/log",
        ),
        _rule(READ, "", "namespaces"),
        _rule(READ, "discovery.k8s.io", "endpointslices"),
        _rule(
            READ,
            "apps",
            "controllerrevisions",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
        ),
        _rule(READ, "autoscaling", "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
        _rule(READ, "batch", "jobs", "cronjobs", "cronjobs/status", "jobs/status"),
        _rule(
            READ,
            "extensions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
            "networkpolicies",
        ),
        _rule(READ, "policy", "poddisruptionbudgets", "poddisruptionbudgets/status"),
        _rule(READ, "networking.k8s.io", "networkpolicies", "ingresses", "ingresses/status"),
    ]


def _edit_rules() -> list[dict[str, Any]]:
    return [
        _rule(
            READ,
            "",
            "pods/attach",
            "pods/proxy",
            "pods/exec",
            "pods/portforward",
            "secrets",
            "services/proxy",
        ),
        _rule(("impersonate",), "", "serviceaccounts"),
        _rule(WRITE, "", "pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"),
        _rule(("create",), "", "pods/eviction"),
        _rule(
            WRITE,
            "",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/proxy",
            "persistentvolumeclaims",
            "configmaps",
            "secrets",
            "events",
        ),
        _rule(("create",), "", "serviceaccounts/token"),
        _rule(
            WRITE,
            "apps",
            "statefulsets",
            "statefulsets/scale",
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "replicasets",
            "replicasets/scale",
        ),
        _rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
        _rule(WRITE, "batch", "jobs", "cronjobs"),
        _rule(
            WRITE,
            "extensions",
            "daemonsets",
            "deployments",
            "deployments/scale",
            "deployments/rollback",
            "ingresses",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
            "networkpolicies",
        ),
        _rule(WRITE, "policy", "poddisruptionbudgets"),
        _rule(WRITE, "networking.k8s.io", "networkpolicies", "ingresses"),
        _rule(READ_WRITE, "coordination.k8s.io", "leases"),
    ]


_DISCOVERY_URLS: Final = (
    "/api",
    "/api/*",
    "/apis",
    "/apis/*",
    "/healthz",
    "/livez",
    "/openapi",
    "/openapi/*",
    "/readyz",
    "/version",
    "/version/",
)
_PUBLIC_URLS: Final = ("/healthz", "/livez", "/readyz", "/version", "/version/")


def bootstrap_policy() -> list[dict[str, Any]]:
    """The default ClusterRoles and ClusterRoleBindings, as JSON manifests."""
    return [
        _role(
            "cluster-admin",
            [
                {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                _urls(("*",), "*"),
            ],
        ),
        _role("system:discovery", [_urls(("get",), *_DISCOVERY_URLS)]),
        _role(
            "system:basic-user",
            [
                _rule(("create",), "authentication.k8s.io", "selfsubjectreviews"),
                _rule(
                    ("create",),
                    "authorization.k8s.io",
                    "selfsubjectaccessreviews",
                    "selfsubjectrulesreviews",
                ),
            ],
        ),
        _role("system:public-info-viewer", [_urls(("get",), *_PUBLIC_URLS)]),
        _role("admin", [], aggregate="admin"),
        _role("edit", [], labels={AGGREGATE_TO + "admin": "true"}, aggregate="edit"),
        _role("view", [], labels={AGGREGATE_TO + "edit": "true"}, aggregate="view"),
        _role(
            "system:aggregate-to-admin",
            [
                _rule(("create",), "authorization.k8s.io", "localsubjectaccessreviews"),
                _rule(READ_WRITE, "rbac.authorization.k8s.io", "roles", "rolebindings"),
            ],
            labels={AGGREGATE_TO + "admin": "true"},
        ),
        _role("system:aggregate-to-edit", _edit_rules(), labels={AGGREGATE_TO + "edit": "true"}),
        _role("system:aggregate-to-view", _view_rules(), labels={AGGREGATE_TO + "view": "true"}),
        _binding("cluster-admin", "system:masters"),
        _binding("system:discovery", "system:authenticated"),
        _binding("system:basic-user", "system:authenticated"),
        _binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
    ]


async def ensure_bootstrap_policy(client: Client) -> int:
    """Create the default roles and bindings that do not exist yet; returns how
    many were created."""
    created = 0
    for manifest in bootstrap_policy():
        with contextlib.suppress(AlreadyExists):
            await client.create(parse_object(manifest))
            created += 1
    return created
