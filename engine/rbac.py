"""RBAC authorization as kube-apiserver's RBAC authorizer decides it.

Contract: `Authorizer.authorize(user, attrs) -> Decision` allows a request
when any rule of a role bound to the user allows it: ClusterRoleBindings are
visited first (their ClusterRole's rules hold in every namespace and for
non-resource URLs), then the RoleBindings of the request's namespace (their
Role's, or ClusterRole's, rules hold in that namespace only). The first rule
that allows wins and the reason names it as Kubernetes does (`RBAC: allowed by
ClusterRoleBinding "x" of ClusterRole "y" to User "alice"`); a denial's reason
is empty unless a binding names a role that does not exist. Members of
`system:masters` are always allowed (kube-apiserver's privileged-group
authorizer runs before RBAC). `forbidden_message(user, attrs)` is the 403
`Status` message Kubernetes writes.

Rule matching (`rule_allows`) is Kubernetes' exactly: `*` verbs, groups and
resources; `resource/subresource` and `*/subresource`; resourceNames (an empty
list allows every name); nonResourceURLs equal or with a trailing `*` prefix.
A ServiceAccount subject matches the user `system:serviceaccount:<ns>:<name>`.

Data: an `RBACIndex` holds the four kinds, with bindings indexed by subject so
that a request looks at the bindings of its user and groups only (a few dict
lookups, whatever the number of bindings). `Authorizer(factory)` keeps it
current from shared informers (an event updates it before the next request);
`Authorizer.of(objects)` builds one from objects for offline use and tests.
Aggregated ClusterRoles are filled by `controllers.clusterroleaggregation`;
the authorizer reads their rules as stored.

Neighbours: `engine.rbac_bootstrap` (the default roles and bindings),
`engine.satokens` (who a ServiceAccount token is).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from engine.api.base import Resource
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.registry import REGISTRY

__all__ = [
    "RBAC_API_VERSION",
    "SYSTEM_MASTERS",
    "Attributes",
    "Authorizer",
    "Decision",
    "RBACIndex",
    "UserInfo",
    "forbidden_message",
    "rule_allows",
    "service_account_username",
]

RBAC_API_VERSION: Final = "rbac.authorization.k8s.io/v1"
SYSTEM_MASTERS: Final = "system:masters"
_KINDS: Final = ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")


def service_account_username(namespace: str, name: str) -> str:
    """serviceaccount.MakeUsername: `system:serviceaccount:<namespace>:<name>`."""
    return f"system:serviceaccount:{namespace}:{name}"


@dataclass(frozen=True, slots=True)
class UserInfo:
    """Who makes a request: a user name and the groups it belongs to; `uid`
    and `extra` (authenticator-specific key to values, as a TokenReview or
    SelfSubjectReview shows them) play no part in authorization or equality."""

    name: str
    groups: tuple[str, ...] = ()
    uid: str = field(default="", compare=False)
    extra: tuple[tuple[str, tuple[str, ...]], ...] = field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class Attributes:
    """What a request asks: a resource request (`resource` set) or a
    non-resource one (`path`, e.g. /healthz). `verb` is the API verb (get,
    list, watch, create, update, patch, delete, deletecollection) or, for a
    non-resource request, the lower-case HTTP method."""

    verb: str
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    namespace: str = ""
    name: str = ""
    path: str = ""

    @property
    def is_resource_request(self) -> bool:
        return bool(self.resource)


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: str = ""


# -- rule matching (rbac/validation's RuleAllows) -----------------------------


def _has(values: Sequence[Any], wanted: str) -> bool:
    return "*" in values or wanted in values


def _resource_matches(rule: Mapping[str, Any], combined: str, subresource: str) -> bool:
    for resource in rule.get("resources") or ():
        if resource in ("*", combined):
            return True
        # "*/status" grants the status subresource of every resource.
        if (
            subresource
            and len(resource) == len(subresource) + 2
            and resource.startswith("*/")
            and resource.endswith(subresource)
        ):
            return True
    return False


def _url_matches(rule: Mapping[str, Any], path: str) -> bool:
    for url in rule.get("nonResourceURLs") or ():
        if url in ("*", path):
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs: Attributes, rule: Mapping[str, Any]) -> bool:
    """Whether one PolicyRule allows the request."""
    if not _has(rule.get("verbs") or (), attrs.verb):
        return False
    if not attrs.is_resource_request:
        return _url_matches(rule, attrs.path)
    if not _has(rule.get("apiGroups") or (), attrs.api_group):
        return False
    combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if not _resource_matches(rule, combined, attrs.subresource):
        return False
    names = rule.get("resourceNames") or ()
    return not names or attrs.name in names


# -- the index ------------------------------------------------------------------

_Key = tuple[str, str]  # (namespace, name)
_SubjectKey = tuple[str, str]  # ("user" | "group", name)


def _subject_key(subject: Mapping[str, Any], binding_namespace: str) -> _SubjectKey | None:
    kind, name = subject.get("kind"), str(subject.get("name") or "")
    if kind == "User":
        return ("user", name)
    if kind == "Group":
        return ("group", name)
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return ("user", service_account_username(namespace, name)) if namespace else None
    return None


def _describe_subject(subject: Mapping[str, Any], binding_namespace: str) -> str:
    kind, name = str(subject.get("kind") or ""), str(subject.get("name") or "")
    if kind == "ServiceAccount":
        namespace = str(subject.get("namespace") or binding_namespace)
        return f'{kind} "{name}/{namespace}"'
    return f'{kind} "{name}"'


def _identity(obj: Resource | Mapping[str, Any]) -> tuple[Mapping[str, Any], str, str, str]:
    """An RBAC object as JSON, with its kind, namespace and name."""
    data = obj.to_dict() if isinstance(obj, Resource) else obj
    metadata = data.get("metadata") or {}
    return (
        data,
        str(data.get("kind") or ""),
        str(metadata.get("namespace") or ""),
        str(metadata.get("name") or ""),
    )


@dataclass(slots=True)
class RBACIndex:
    """The RBAC objects, as plain JSON, with bindings indexed by subject."""

    roles: dict[_Key, Mapping[str, Any]] = field(default_factory=dict)
    cluster_roles: dict[str, Mapping[str, Any]] = field(default_factory=dict)
    # (namespace, name) of a binding -> the binding; namespace "" for cluster-wide.
    bindings: dict[_Key, Mapping[str, Any]] = field(default_factory=dict)
    # subject -> the bindings naming it (cluster-wide ones under namespace "").
    by_subject: dict[_SubjectKey, dict[_Key, None]] = field(default_factory=dict)

    def upsert(self, obj: Resource | Mapping[str, Any]) -> None:
        data, kind, namespace, name = _identity(obj)
        if kind == "Role":
            self.roles[(namespace, name)] = data
        elif kind == "ClusterRole":
            self.cluster_roles[name] = data
        elif kind in ("RoleBinding", "ClusterRoleBinding"):
            key = ("" if kind == "ClusterRoleBinding" else namespace, name)
            self._unindex(key)
            self.bindings[key] = data
            for subject in data.get("subjects") or ():
                subject_key = _subject_key(subject, key[0])
                if subject_key is not None:
                    self.by_subject.setdefault(subject_key, {})[key] = None

    def remove(self, obj: Resource | Mapping[str, Any]) -> None:
        _, kind, namespace, name = _identity(obj)
        if kind == "Role":
            self.roles.pop((namespace, name), None)
        elif kind == "ClusterRole":
            self.cluster_roles.pop(name, None)
        elif kind in ("RoleBinding", "ClusterRoleBinding"):
            self._unindex(("" if kind == "ClusterRoleBinding" else namespace, name))

    def _unindex(self, key: _Key) -> None:
        old = self.bindings.pop(key, None)
        if old is None:
            return
        for subject in old.get("subjects") or ():
            subject_key = _subject_key(subject, key[0])
            entries = self.by_subject.get(subject_key) if subject_key else None
            if entries is not None:
                entries.pop(key, None)
                if not entries:
                    del self.by_subject[subject_key]  # type: ignore[arg-type]

    def bindings_of(self, user: UserInfo) -> list[_Key]:
        """The keys of the bindings naming the user or one of its groups."""
        found: dict[_Key, None] = {}
        for subject_key in (("user", user.name), *(("group", g) for g in user.groups)):
            found.update(self.by_subject.get(subject_key, {}))
        return list(found)


class Authorizer:
    """RBAC decisions over an `RBACIndex`."""

    def __init__(self, factory: InformerFactory | None = None) -> None:
        """With a factory: informers of the four RBAC kinds keep the index
        current (start the factory and wait for it to sync before use)."""
        self.index = RBACIndex()
        self._informers = []
        if factory is not None:
            for kind_name in _KINDS:
                model = REGISTRY.lookup(RBAC_API_VERSION, kind_name).model
                informer = factory.informer(model)
                informer.add_event_handler(
                    EventHandler(
                        add=self._on_upsert, update=self._on_update, delete=self._on_delete
                    )
                )
                self._informers.append(informer)

    @classmethod
    def of(cls, objects: Iterable[Resource | Mapping[str, Any]]) -> Authorizer:
        """An authorizer over fixed objects (Roles, ClusterRoles and bindings)."""
        authorizer = cls()
        for obj in objects:
            authorizer.index.upsert(obj)
        return authorizer

    @property
    def has_synced(self) -> bool:
        return all(informer.has_synced for informer in self._informers)

    def _on_upsert(self, obj: Resource) -> None:
        self.index.upsert(obj)

    def _on_update(self, old: Resource, new: Resource) -> None:
        self.index.upsert(new)

    def _on_delete(self, obj: Resource | DeletedFinalStateUnknown[Resource]) -> None:
        self.index.remove(obj.obj if isinstance(obj, DeletedFinalStateUnknown) else obj)

    def _rules(self, role_ref: Mapping[str, Any], namespace: str) -> tuple[Sequence[Any], str]:
        """The rules a roleRef names, or an error text when the role is missing."""
        kind, name = role_ref.get("kind"), str(role_ref.get("name") or "")
        if kind == "ClusterRole":
            role = self.index.cluster_roles.get(name)
            if role is None:
                return (), f'clusterrole.rbac.authorization.k8s.io "{name}" not found'
        elif kind == "Role" and namespace:
            role = self.index.roles.get((namespace, name))
            if role is None:
                return (), f'role.rbac.authorization.k8s.io "{name}" not found'
        else:
            return (), f"unsupported role reference kind: {kind!r}"
        return role.get("rules") or (), ""

    def authorize(self, user: UserInfo, attrs: Attributes) -> Decision:
        if SYSTEM_MASTERS in user.groups:
            return Decision(True)
        keys = self.index.bindings_of(user)
        # Cluster-wide bindings first, then those of the request's namespace,
        # each in name order (Kubernetes lists them; the order only picks
        # which allowing binding the reason names).
        cluster = sorted(k for k in keys if k[0] == "")
        local = sorted(k for k in keys if attrs.namespace and k[0] == attrs.namespace)
        errors: list[str] = []
        for key in (*cluster, *local):
            binding = self.index.bindings[key]
            role_ref = binding.get("roleRef") or {}
            rules, error = self._rules(role_ref, key[0])
            if error:
                errors.append(error)
                continue
            if not any(rule_allows(attrs, rule) for rule in rules):
                continue
            subject = next(
                s
                for s in binding.get("subjects") or ()
                if _subject_key(s, key[0])
                in (("user", user.name), *(("group", g) for g in user.groups))
            )
            where = (
                f'ClusterRoleBinding "{key[1]}"'
                if key[0] == ""
                else f'RoleBinding "{key[1]}/{key[0]}"'
            )
            return Decision(
                True,
                f'RBAC: allowed by {where} of {role_ref.get("kind")} "{role_ref.get("name")}" '
                f"to {_describe_subject(subject, key[0])}",
            )
        return Decision(False, "RBAC: " + "; ".join(errors) if errors else "")


def forbidden_message(user: UserInfo, attrs: Attributes, reason: str = "") -> str:
    """The message of kube-apiserver's 403 Status for a denied request."""
    if not attrs.is_resource_request:
        text = f'User "{user.name}" cannot {attrs.verb} path "{attrs.path}"'
        message = f"forbidden: {text}"
    else:
        resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        if attrs.namespace:
            text = (
                f'User "{user.name}" cannot {attrs.verb} resource "{resource}" in API group '
                f'"{attrs.api_group}" in the namespace "{attrs.namespace}"'
            )
        else:
            text = (
                f'User "{user.name}" cannot {attrs.verb} resource "{resource}" in API group '
                f'"{attrs.api_group}" at the cluster scope'
            )
        qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
        if attrs.name:
            message = f'{qualified} "{attrs.name}" is forbidden: {text}'
        else:
            message = f"{qualified} is forbidden: {text}"
    return f"{message}: {reason}" if reason else message
