"""The review kinds: requests that are answered, never stored.

* `authentication.k8s.io/v1` TokenReview (`tokenreviews`): is `spec.token`
  one the server accepts (the kubeconfig's, or a ServiceAccount token the
  `tokens` hook issued and still honours), for `spec.audiences` (else the
  issuer's)? `status.authenticated`, `user` (username, uid, groups, extra),
  `audiences`, or `error` saying why not.
* `authentication.k8s.io/v1` SelfSubjectReview (`selfsubjectreviews`): who
  the requester is (`kubectl auth whoami`).
* `authorization.k8s.io/v1` SubjectAccessReview (`subjectaccessreviews`: for
  `spec.user`/`groups`), LocalSubjectAccessReview
  (`namespaces/{ns}/localsubjectaccessreviews`: the same, within the
  namespace) and SelfSubjectAccessReview (`selfsubjectaccessreviews`: for the
  requester, `kubectl auth can-i`): would the request that
  `spec.resourceAttributes` or `spec.nonResourceAttributes` describe be
  allowed? `status.allowed` and `reason`, from the server's authorizer
  (without one every user may do everything).

Each is a POST answered 201 with the request and its `status`, taking JSON,
YAML or the protobuf kubectl sends. Who may ask is the authorizer's call like
any other request (every authenticated user may ask about itself, through
kube-apiserver's bootstrap `system:basic-user` role). SelfSubjectRulesReview
(`kubectl auth can-i --list`) is not served.

Neighbours: `runtime.apiserver.app` (routes and authorizes), `.encoding` (protobuf bodies),
`.hooks` (authenticate, tokens, authorizer), `engine.rbac`.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from engine.errors import BadRequest, FieldError, Invalid
from engine.rbac import UserInfo
from runtime.apiserver.context import ApiContext, request_user
from runtime.apiserver.encoding import dumps, read_object
from runtime.apiserver.hooks import ADMIN, User

__all__ = ["REVIEWS", "Review", "answer", "find_review", "user_document"]

AUTHENTICATION = "authentication.k8s.io"
AUTHORIZATION = "authorization.k8s.io"

ReviewHandler = Callable[[ApiContext, web.Request, str], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Review:
    """One review resource: where it is served and what answers it."""

    group: str
    resource: str
    kind: str
    namespaced: bool
    answer: ReviewHandler


def user_document(user: User) -> dict[str, Any]:
    """A user as TokenReview's and SelfSubjectReview's `UserInfo`."""
    document: dict[str, Any] = {"username": user.name}
    uid = getattr(user, "uid", "")
    if uid:
        document["uid"] = uid
    document["groups"] = list(user.groups)
    extra = getattr(user, "extra", ())
    if extra:
        document["extra"] = {key: list(values) for key, values in extra}
    return document


def _object(body: dict[str, Any], key: str) -> dict[str, Any]:
    value = body.get(key) or {}
    if not isinstance(value, dict):
        raise BadRequest(f"{key} must be an object")
    return value


def _strings(value: Any, path: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{path} must be a list of strings")
    return value


async def _token_review(ctx: ApiContext, request: web.Request, namespace: str) -> dict[str, Any]:
    body = await read_object(request, "authentication.k8s.io/v1", "TokenReview")
    spec = _object(body, "spec")
    token = spec.get("token")
    if not isinstance(token, str) or not token:
        raise BadRequest(f"token is required for TokenReview in {AUTHENTICATION}")
    audiences = _strings(spec.get("audiences"), "spec.audiences")
    tokens = ctx.hooks.tokens
    default = list(tokens.audiences) if tokens is not None else []
    status: dict[str, Any]
    if ctx.token and hmac.compare_digest(token.encode(), ctx.token.encode()):
        status = {
            "authenticated": True,
            "user": user_document(ADMIN),
            "audiences": audiences or default,
        }
    elif tokens is not None:
        result = tokens.review(token, audiences)
        if result.user is None:
            status = {"user": {}, "error": result.error}
        else:
            status = {
                "authenticated": True,
                "user": user_document(result.user),
                "audiences": list(result.audiences),
            }
    else:
        status = {"user": {}, "error": "[invalid bearer token]"}
    return {**body, "status": status}


async def _self_subject_review(
    ctx: ApiContext, request: web.Request, namespace: str
) -> dict[str, Any]:
    body = await read_object(request, "authentication.k8s.io/v1", "SelfSubjectReview")
    return {**body, "status": {"userInfo": user_document(request_user(request))}}


def _attributes(ctx: ApiContext, spec: dict[str, Any], namespace: str | None) -> Any:
    """What `spec` asks about, as the authorizer reads it; 422 unless exactly
    one of resourceAttributes and nonResourceAttributes is given."""
    resource = spec.get("resourceAttributes")
    non_resource = spec.get("nonResourceAttributes")
    if (resource is None) == (non_resource is None):
        field = "spec.nonResourceAttributes" if resource is not None else "spec.resourceAttributes"
        message = (
            "cannot be specified in combination with resourceAttributes"
            if resource is not None
            else "Required: exactly one of nonResourceAttributes or resourceAttributes must "
            "be specified"
        )
        raise Invalid("SubjectAccessReview", [FieldError(field, message)])
    if resource is not None:
        if not isinstance(resource, dict):
            raise BadRequest("spec.resourceAttributes must be an object")
        given = {k: str(resource.get(k) or "") for k in _RESOURCE_FIELDS}
        if namespace is not None and given["namespace"] != namespace:
            raise BadRequest(f"spec.resourceAttributes.namespace must match namespace: {namespace}")
        return ctx.hooks.attributes(
            verb=given["verb"],
            api_group=given["group"],
            resource=given["resource"],
            subresource=given["subresource"],
            namespace=given["namespace"],
            name=given["name"],
            path="",
        )
    if not isinstance(non_resource, dict):
        raise BadRequest("spec.nonResourceAttributes must be an object")
    if namespace is not None:
        raise BadRequest("nonResourceAttributes are not allowed in a LocalSubjectAccessReview")
    return ctx.hooks.attributes(
        verb=str(non_resource.get("verb") or ""),
        api_group="",
        resource="",
        subresource="",
        namespace="",
        name="",
        path=str(non_resource.get("path") or ""),
    )


_RESOURCE_FIELDS = ("namespace", "verb", "group", "resource", "subresource", "name")


def _decide(ctx: ApiContext, user: User, attrs: Any) -> dict[str, Any]:
    authorizer = ctx.hooks.authorizer
    if authorizer is None:
        return {"allowed": True}  # as kube-apiserver's AlwaysAllow authorizer answers
    decision = authorizer.authorize(user, attrs)
    status: dict[str, Any] = {"allowed": decision.allowed}
    if decision.reason:
        status["reason"] = decision.reason
    return status


def _subject(spec: dict[str, Any]) -> UserInfo:
    user = spec.get("user") or ""
    groups = _strings(spec.get("groups"), "spec.groups")
    if not isinstance(user, str):
        raise BadRequest("spec.user must be a string")
    if not user and not groups:
        raise Invalid(
            "SubjectAccessReview",
            [
                FieldError(
                    "spec.user",
                    'Invalid value: "": at least one of user or group must be specified',
                )
            ],
        )
    return UserInfo(user, tuple(groups), uid=str(spec.get("uid") or ""))


async def _subject_access_review(
    ctx: ApiContext, request: web.Request, namespace: str
) -> dict[str, Any]:
    kind = "LocalSubjectAccessReview" if namespace else "SubjectAccessReview"
    body = await read_object(request, "authorization.k8s.io/v1", kind)
    spec = _object(body, "spec")
    attrs = _attributes(ctx, spec, namespace or None)
    return {**body, "status": _decide(ctx, _subject(spec), attrs)}


async def _self_subject_access_review(
    ctx: ApiContext, request: web.Request, namespace: str
) -> dict[str, Any]:
    body = await read_object(request, "authorization.k8s.io/v1", "SelfSubjectAccessReview")
    attrs = _attributes(ctx, _object(body, "spec"), None)
    return {**body, "status": _decide(ctx, request_user(request), attrs)}


REVIEWS: tuple[Review, ...] = (
    Review(AUTHENTICATION, "tokenreviews", "TokenReview", False, _token_review),
    Review(AUTHENTICATION, "selfsubjectreviews", "SelfSubjectReview", False, _self_subject_review),
    Review(
        AUTHORIZATION,
        "localsubjectaccessreviews",
        "LocalSubjectAccessReview",
        True,
        _subject_access_review,
    ),
    Review(
        AUTHORIZATION,
        "selfsubjectaccessreviews",
        "SelfSubjectAccessReview",
        False,
        _self_subject_access_review,
    ),
    Review(
        AUTHORIZATION, "subjectaccessreviews", "SubjectAccessReview", False, _subject_access_review
    ),
)
_BY_PATH = {(r.group, r.resource): r for r in REVIEWS}


def find_review(group: str, version: str, rest: list[str]) -> tuple[Review, str] | None:
    """The review a `/apis/{group}/{version}/...` path names, with its
    namespace ("" for the cluster-scoped ones), or None."""
    if version != "v1":
        return None
    namespace = ""
    if len(rest) == 3 and rest[0] == "namespaces" and rest[1]:
        namespace, rest = rest[1], rest[2:]
    if len(rest) != 1:
        return None
    review = _BY_PATH.get((group, rest[0]))
    if review is None or review.namespaced != bool(namespace):
        return None
    return review, namespace


async def answer(
    ctx: ApiContext, request: web.Request, review: Review, namespace: str
) -> web.Response:
    document = await review.answer(ctx, request, namespace)
    document["apiVersion"] = f"{review.group}/v1"
    document["kind"] = review.kind
    metadata = document.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
    # Nothing is stored: the answer's metadata is what was sent, without the
    # empty strings a protobuf body carries.
    document["metadata"] = {k: v for k, v in metadata.items() if v not in ("", None, {})}
    return web.Response(body=dumps(document), status=201, content_type="application/json")
