"""User impersonation: `Impersonate-User`, `Impersonate-Group` and
`Impersonate-Uid` headers (`kubectl --as`, `--as-group`, `--as-uid`) make a
request act as another user, as kube-apiserver's impersonation filter does.

The requester must be allowed the `impersonate` verb on each: `users` (named
by the user, or `serviceaccounts` in its namespace for a
`system:serviceaccount:<ns>:<name>` user), `groups`, and
`authentication.k8s.io` `uids`; else 403 with Kubernetes' message. The
impersonated user has the groups asked for plus `system:authenticated`
(and, for a ServiceAccount given no groups, `system:serviceaccounts` and
`system:serviceaccounts:<ns>`). Groups or a uid without a user are a 400.
Without an authorizer every authenticated user is cluster-admin and may
impersonate anyone. `Impersonate-Extra-*` headers with a user are refused
(400): no authorizer here reads extras.

Neighbours: `runtime.apiserver.app` (calls `impersonate` after
authentication, before authorization), `.hooks`.
"""

from __future__ import annotations

from aiohttp import web

from engine.errors import BadRequest, Forbidden
from engine.rbac import UserInfo
from runtime.apiserver.hooks import Hooks, User

__all__ = ["impersonate"]

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


def _allow(
    hooks: Hooks, user: User, resource: str, name: str, *, namespace: str = "", api_group: str = ""
) -> None:
    authorizer = hooks.authorizer
    if authorizer is None:
        return
    attrs = hooks.attributes(
        verb="impersonate",
        api_group=api_group,
        resource=resource,
        subresource="",
        namespace=namespace,
        name=name,
        path="",
    )
    if not authorizer.authorize(user, attrs).allowed:
        where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
        raise Forbidden(
            f'{resource} "{name}" is forbidden: User "{user.name}" cannot impersonate '
            f'resource "{resource}" in API group "{api_group}" {where}'
        )


def impersonate(request: web.Request, user: User, hooks: Hooks) -> User:
    """The user the request acts as (see the module docstring)."""
    headers = request.headers
    name = headers.get("Impersonate-User")
    if name is None:
        if "Impersonate-Group" in headers or "Impersonate-Uid" in headers:
            raise BadRequest("impersonating groups or a uid requires impersonating a user")
        return user  # the common case: nothing more to look at
    groups = headers.getall("Impersonate-Group", [])
    uid = headers.get("Impersonate-Uid")
    if any(key.lower().startswith("impersonate-extra-") for key in headers):
        raise BadRequest("impersonating user extras is not supported by this server")
    if name.startswith(SERVICE_ACCOUNT_PREFIX) and name.count(":") == 3:
        namespace, account = name[len(SERVICE_ACCOUNT_PREFIX) :].split(":")
        _allow(hooks, user, "serviceaccounts", account, namespace=namespace)
        if not groups:
            groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        _allow(hooks, user, "users", name)
    for group in headers.getall("Impersonate-Group", []):
        _allow(hooks, user, "groups", group)
    if uid is not None:
        _allow(hooks, user, "uids", uid, api_group="authentication.k8s.io")
    if name != "system:anonymous" and "system:authenticated" not in groups:
        groups = [*groups, "system:authenticated"]
    return UserInfo(name, tuple(groups), uid=uid or "")
