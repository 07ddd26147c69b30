"""RBAC authorization: Kubernetes' rule matching, binding scopes, decision
reasons and 403 messages, the bootstrap roles, the clusterrole-aggregation
controller, and an authorizer fed by informers that sees changes at once."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controllers.clusterroleaggregation import aggregated_rules
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.rbac import (
    Attributes,
    Authorizer,
    Decision,
    UserInfo,
    forbidden_message,
    rule_allows,
    service_account_username,
)
from engine.rbac_bootstrap import bootstrap_policy
from engine.store import Store

API = "rbac.authorization.k8s.io/v1"
SA = UserInfo(
    service_account_username("default", "x"),
    ("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"),
)


def role(name: str, *rules: dict[str, Any], namespace: str = "") -> dict[str, Any]:
    kind = "Role" if namespace else "ClusterRole"
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"apiVersion": API, "kind": kind, "metadata": metadata, "rules": list(rules)}


def binding(
    name: str, role_kind: str, role_name: str, *subjects: dict[str, Any], namespace: str = ""
) -> dict[str, Any]:
    kind = "RoleBinding" if namespace else "ClusterRoleBinding"
    metadata = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {
        "apiVersion": API,
        "kind": kind,
        "metadata": metadata,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name},
        "subjects": list(subjects),
    }


def sa(name: str, namespace: str = "default") -> dict[str, Any]:
    return {"kind": "ServiceAccount", "name": name, "namespace": namespace}


def rule(verbs: list[str], groups: list[str], resources: list[str], **more: Any) -> dict[str, Any]:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources, **more}


def res(verb: str, resource: str, namespace: str = "", **more: str) -> Attributes:
    return Attributes(verb=verb, resource=resource, namespace=namespace, **more)


@pytest.mark.parametrize(
    ("policy", "attrs", "allowed"),
    [
        (rule(["get"], [""], ["pods"]), res("get", "pods", "ns"), True),
        (rule(["get"], [""], ["pods"]), res("list", "pods", "ns"), False),
        (rule(["*"], [""], ["pods"]), res("delete", "pods", "ns"), True),
        (rule(["get"], ["apps"], ["pods"]), res("get", "pods", "ns"), False),
        (rule(["get"], ["*"], ["deployments"]), res("get", "deployments", api_group="apps"), True),
        (rule(["get"], [""], ["*"]), res("get", "secrets", "ns"), True),
        (rule(["get"], [""], ["pods"]), res("get", "pods", "ns", subresource="log"), False),
        (rule(["get"], [""], ["pods/log"]), res("get", "pods", "ns", subresource="log"), True),
        (rule(["get"], [""], ["pods/log"]), res("get", "pods", "ns"), False),
        (rule(["update"], ["*"], ["*/status"]), res("update", "jobs", subresource="status"), True),
        (rule(["update"], ["*"], ["*/status"]), res("update", "jobs"), False),
        (rule(["get"], [""], ["*"]), res("get", "pods", subresource="exec"), True),
        (
            rule(["get"], [""], ["configmaps"], resourceNames=["a"]),
            res("get", "configmaps", "ns", name="a"),
            True,
        ),
        (
            rule(["get"], [""], ["configmaps"], resourceNames=["a"]),
            res("get", "configmaps", "ns", name="b"),
            False,
        ),
        (
            rule(["list"], [""], ["configmaps"], resourceNames=["a"]),
            res("list", "configmaps", "ns"),
            False,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            Attributes("get", path="/healthz"),
            True,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/healthz"]},
            Attributes("get", path="/healthz/etcd"),
            False,
        ),
        (
            {"verbs": ["get"], "nonResourceURLs": ["/api/*"]},
            Attributes("get", path="/api/v1"),
            True,
        ),
        ({"verbs": ["get"], "nonResourceURLs": ["/api/*"]}, Attributes("get", path="/api"), False),
        ({"verbs": ["get"], "nonResourceURLs": ["*"]}, Attributes("get", path="/anything"), True),
        ({"verbs": ["get"], "nonResourceURLs": ["*"]}, res("get", "pods"), False),
        (rule(["get"], [""], ["pods"]), Attributes("get", path="/api"), False),
    ],
)
def test_rule_matching_is_kubernetes(
    policy: dict[str, Any], attrs: Attributes, allowed: bool
) -> None:
    assert rule_allows(attrs, policy) is allowed


def test_role_binding_grants_in_its_namespace_only() -> None:
    authorizer = Authorizer.of(
        [
            parse_object(role("pod-reader", rule(["get", "list"], [""], ["pods"]))),
            parse_object(
                binding("read", "ClusterRole", "pod-reader", sa("x"), namespace="default")
            ),
        ]
    )
    decision = authorizer.authorize(SA, res("list", "pods", "default"))
    assert decision == Decision(
        True,
        'RBAC: allowed by RoleBinding "read/default" of ClusterRole "pod-reader" '
        'to ServiceAccount "x/default"',
    )
    assert not authorizer.authorize(SA, res("list", "pods", "other")).allowed
    assert not authorizer.authorize(SA, res("list", "pods")).allowed


def test_cluster_role_binding_grants_everywhere_and_groups_match() -> None:
    authorizer = Authorizer.of(
        [
            role("nodes", rule(["get"], [""], ["nodes", "pods"])),
            binding(
                "all-sa",
                "ClusterRole",
                "nodes",
                {"kind": "Group", "name": "system:serviceaccounts"},
            ),
        ]
    )
    assert authorizer.authorize(SA, res("get", "nodes")).reason == (
        'RBAC: allowed by ClusterRoleBinding "all-sa" of ClusterRole "nodes" '
        'to Group "system:serviceaccounts"'
    )
    assert authorizer.authorize(SA, res("get", "pods", "anywhere")).allowed
    assert not authorizer.authorize(UserInfo("bob"), res("get", "nodes")).allowed


def test_namespaced_role_and_missing_roles() -> None:
    authorizer = Authorizer.of(
        [
            role("cm", rule(["create"], [""], ["configmaps"]), namespace="team"),
            binding("cm", "Role", "cm", {"kind": "User", "name": "alice"}, namespace="team"),
            binding("gone", "ClusterRole", "nothing", {"kind": "User", "name": "alice"}),
        ]
    )
    alice = UserInfo("alice", ("system:authenticated",))
    assert authorizer.authorize(alice, res("create", "configmaps", "team")).allowed
    denied = authorizer.authorize(alice, res("create", "configmaps", "prod"))
    assert denied == Decision(
        False, 'RBAC: clusterrole.rbac.authorization.k8s.io "nothing" not found'
    )


def test_system_masters_is_always_allowed() -> None:
    admin = UserInfo("kubernetes-admin", ("system:masters",))
    assert Authorizer.of([]).authorize(admin, res("delete", "nodes")).allowed


def test_forbidden_messages_are_kubernetes_text() -> None:
    assert forbidden_message(SA, res("list", "pods", "default")) == (
        'pods is forbidden: User "system:serviceaccount:default:x" cannot list resource '
        '"pods" in API group "" in the namespace "default"'
    )
    assert forbidden_message(
        UserInfo("bob"),
        res("get", "deployments", api_group="apps", name="web", subresource="scale"),
    ) == (
        'deployments.apps "web" is forbidden: User "bob" cannot get resource '
        '"deployments/scale" in API group "apps" at the cluster scope'
    )
    assert forbidden_message(UserInfo("bob"), Attributes("get", path="/metrics")) == (
        'forbidden: User "bob" cannot get path "/metrics"'
    )
    assert forbidden_message(
        UserInfo("bob"),
        res("get", "nodes"),
        'RBAC: clusterrole.rbac.authorization.k8s.io "x" not found',
    ).endswith('at the cluster scope: RBAC: clusterrole.rbac.authorization.k8s.io "x" not found')


def _filled_bootstrap() -> list[dict[str, Any]]:
    """The bootstrap policy with admin, edit and view aggregated (to a fixpoint:
    admin aggregates edit, which aggregates view)."""
    objects = bootstrap_policy()
    for _ in range(3):
        roles = [o for o in objects if o["kind"] == "ClusterRole"]
        for obj in roles:
            if obj.get("aggregationRule"):
                obj["rules"] = aggregated_rules(obj, roles)
    return objects


def test_bootstrap_roles_grant_what_kubernetes_grants() -> None:
    objects = _filled_bootstrap()
    objects.append(
        binding("v", "ClusterRole", "view", {"kind": "User", "name": "viewer"}, namespace="ns")
    )
    objects.append(
        binding("e", "ClusterRole", "edit", {"kind": "User", "name": "editor"}, namespace="ns")
    )
    objects.append(
        binding("a", "ClusterRole", "admin", {"kind": "User", "name": "boss"}, namespace="ns")
    )
    authorizer = Authorizer.of(objects)
    viewer = UserInfo("viewer", ("system:authenticated",))
    editor = UserInfo("editor", ("system:authenticated",))
    boss = UserInfo("boss", ("system:authenticated",))
    anonymous = UserInfo("system:anonymous", ("system:unauthenticated",))
    assert authorizer.authorize(viewer, res("list", "pods", "ns")).allowed
    assert authorizer.authorize(viewer, res("get", "pods", "ns", subresource="log")).allowed
    assert not authorizer.authorize(viewer, res("get", "secrets", "ns")).allowed
    assert not authorizer.authorize(viewer, res("create", "pods", "ns")).allowed
    assert authorizer.authorize(editor, res("get", "secrets", "ns")).allowed
    assert authorizer.authorize(
        editor, res("create", "deployments", "ns", api_group="apps")
    ).allowed
    assert not authorizer.authorize(
        editor, res("create", "roles", "ns", api_group="rbac.authorization.k8s.io")
    ).allowed
    assert authorizer.authorize(
        boss, res("create", "rolebindings", "ns", api_group="rbac.authorization.k8s.io")
    ).allowed
    assert authorizer.authorize(boss, res("list", "pods", "ns")).allowed
    assert not authorizer.authorize(boss, res("list", "pods", "elsewhere")).allowed
    assert authorizer.authorize(viewer, Attributes("get", path="/apis/apps/v1")).allowed
    assert authorizer.authorize(anonymous, Attributes("get", path="/version")).allowed
    assert not authorizer.authorize(anonymous, Attributes("get", path="/api")).allowed


# -- properties -------------------------------------------------------------------

VERBS = ["get", "list", "create", "delete", "*"]
GROUPS = ["", "apps", "*"]
RESOURCES = ["pods", "pods/log", "deployments", "*", "*/status", "configmaps"]
NAMESPACES = ["", "a", "b"]
USERS = ["alice", "bob", service_account_username("a", "x")]
USER_GROUPS = ["dev", "ops", "system:serviceaccounts"]

rules = st.builds(
    lambda verbs, groups, resources, names: {
        "verbs": verbs,
        "apiGroups": groups,
        "resources": resources,
        **({"resourceNames": names} if names else {}),
    },
    st.lists(st.sampled_from(VERBS), min_size=1, max_size=2),
    st.lists(st.sampled_from(GROUPS), min_size=1, max_size=2),
    st.lists(st.sampled_from(RESOURCES), min_size=1, max_size=2),
    st.lists(st.sampled_from(["n1", "n2"]), max_size=1),
)
subjects = st.one_of(
    st.builds(lambda n: {"kind": "User", "name": n}, st.sampled_from(["alice", "bob"])),
    st.builds(lambda n: {"kind": "Group", "name": n}, st.sampled_from(USER_GROUPS)),
    st.just({"kind": "ServiceAccount", "name": "x", "namespace": "a"}),
)
requests = st.builds(
    Attributes,
    verb=st.sampled_from(["get", "list", "create", "delete"]),
    api_group=st.sampled_from(["", "apps"]),
    resource=st.sampled_from(["pods", "deployments", "configmaps", "jobs"]),
    subresource=st.sampled_from(["", "", "log", "status"]),
    namespace=st.sampled_from(NAMESPACES),
    name=st.sampled_from(["", "n1", "n2"]),
)
users = st.builds(
    UserInfo,
    st.sampled_from(USERS),
    st.lists(st.sampled_from(USER_GROUPS), max_size=2, unique=True).map(tuple),
)


@st.composite
def policies(draw: st.DrawFn) -> list[dict[str, Any]]:
    objects: list[dict[str, Any]] = []
    for i in range(draw(st.integers(0, 4))):
        namespace = draw(st.sampled_from(NAMESPACES))
        role_rules = draw(st.lists(rules, max_size=3))
        if namespace and draw(st.booleans()):
            objects.append(role(f"r{i}", *role_rules, namespace=namespace))
            ref = ("Role", f"r{i}")
        else:
            objects.append(role(f"r{i}", *role_rules))
            ref = ("ClusterRole", f"r{i}")
        objects.append(
            binding(
                f"b{i}",
                ref[0],
                ref[1],
                *draw(st.lists(subjects, min_size=1, max_size=2)),
                namespace=namespace,
            )
        )
    return objects


def reference_allows(objects: list[dict[str, Any]], user: UserInfo, attrs: Attributes) -> bool:
    """A plain reading of the RBAC rules: scan every binding."""
    roles = {
        (o["metadata"].get("namespace", ""), o["kind"], o["metadata"]["name"]): o for o in objects
    }
    for b in objects:
        if b["kind"] not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        namespace = b["metadata"].get("namespace", "")
        if namespace and namespace != attrs.namespace:
            continue
        names = {
            service_account_username(s["namespace"], s["name"])
            if s["kind"] == "ServiceAccount"
            else s["name"]
            for s in b["subjects"]
            if s["kind"] in ("User", "ServiceAccount")
        }
        groups = {s["name"] for s in b["subjects"] if s["kind"] == "Group"}
        if user.name not in names and not groups & set(user.groups):
            continue
        ref = b["roleRef"]
        found = roles.get(
            ("" if ref["kind"] == "ClusterRole" else namespace, ref["kind"], ref["name"])
        )
        if found and any(rule_allows(attrs, r) for r in found["rules"]):
            return True
    return False


@given(policies(), users, requests)
def test_indexed_authorizer_agrees_with_a_full_scan(
    objects: list[dict[str, Any]], user: UserInfo, attrs: Attributes
) -> None:
    assert Authorizer.of(objects).authorize(user, attrs).allowed == reference_allows(
        objects, user, attrs
    )


@given(policies(), users, requests, rules)
def test_adding_a_rule_never_takes_a_permission_away(
    objects: list[dict[str, Any]], user: UserInfo, attrs: Attributes, extra: dict[str, Any]
) -> None:
    before = Authorizer.of(objects).authorize(user, attrs).allowed
    grown = [dict(o, rules=[*o["rules"], extra]) if "rules" in o else o for o in objects]
    assert not before or Authorizer.of(grown).authorize(user, attrs).allowed


@given(users, requests)
def test_an_exact_rule_allows_its_request(user: UserInfo, attrs: Attributes) -> None:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    exact = rule(
        [attrs.verb],
        [attrs.api_group],
        [resource],
        **({"resourceNames": [attrs.name]} if attrs.name else {}),
    )
    objects = [
        role("exact", exact),
        binding("exact", "ClusterRole", "exact", {"kind": "User", "name": user.name}),
    ]
    assert Authorizer.of(objects).authorize(user, attrs).allowed


# -- informers ------------------------------------------------------------------------


async def test_informer_fed_authorizer_sees_changes_promptly(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    manager = Manager(client, clock=clock)
    authorizer = Authorizer(manager.factory)
    async with manager:
        await manager.factory.wait_for_sync()
        assert authorizer.has_synced
        attrs = res("list", "pods", "default")
        assert not authorizer.authorize(SA, attrs).allowed
        store.create(
            parse_object(role("reader", rule(["list"], [""], ["pods"]), namespace="default"))
        )
        created = store.create(
            parse_object(binding("reader", "Role", "reader", sa("x"), namespace="default"))
        )
        await anyio.sleep(0.1)
        assert authorizer.authorize(SA, attrs).allowed
        store.delete(type(created), "reader", "default")
        await anyio.sleep(0.1)
        assert not authorizer.authorize(SA, attrs).allowed
