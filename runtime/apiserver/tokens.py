"""The TokenRequest subresource: POST `serviceaccounts/{name}/token` with an
`authentication.k8s.io/v1 TokenRequest` answers 201 with the same object,
its `status.token` and `status.expirationTimestamp` filled in
(`kubectl create token NAME`).

As kube-apiserver's token REST storage: the ServiceAccount must exist (404);
`spec.expirationSeconds` defaults to 3600 and may not be under 600 nor over
2^32 (422); `spec.audiences` defaults to the issuer's. `spec.boundObjectRef`
binds the token to a Pod, Secret or Node (apiVersion v1) that must exist
(404), whose `uid`, when given, must be the live one (409), and, for a pod,
that runs as this ServiceAccount (400); a pod-bound token also names the
pod's node when it is scheduled. The token dies with the object it is bound
to (the issuer checks on every request, `engine.satokens`). Expiry is on the
cluster's clock. `dryRun=All` answers without a token.

The token itself comes from the `tokens` hook; without one the subresource
is 404.

Neighbours: `runtime.apiserver.app` (dispatch), `.encoding` (kubectl sends
protobuf), `engine.satokens`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from engine.api.base import Resource
from engine.api.core import Pod
from engine.errors import BadRequest, Conflict, FieldError, Invalid, NotFound
from runtime.apiserver.context import ApiContext, storage_model
from runtime.apiserver.encoding import Query, dumps, read_object
from runtime.apiserver.objects import dry_run
from runtime.apiserver.paths import Target

__all__ = ["token_request"]

API_VERSION = "authentication.k8s.io/v1"
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 2**32
BINDABLE = ("Pod", "Secret", "Node")


def _spec(body: dict[str, Any], subject: str) -> dict[str, Any]:
    """The request's spec, checked and defaulted."""
    if body.get("apiVersion", API_VERSION) != API_VERSION or (
        body.get("kind", "TokenRequest") != "TokenRequest"
    ):
        raise BadRequest(
            f"expected an {API_VERSION} TokenRequest, got {body.get('apiVersion')} "
            f"{body.get('kind')}"
        )
    spec = body.get("spec") or {}
    if not isinstance(spec, dict):
        raise BadRequest("spec must be an object")
    errors: list[FieldError] = []
    audiences = spec.get("audiences") or []
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        errors.append(FieldError("spec.audiences", "must be a list of strings"))
        audiences = []
    seconds = spec.get("expirationSeconds")
    if seconds is None:
        seconds = DEFAULT_EXPIRATION_SECONDS
    if type(seconds) is not int:
        errors.append(FieldError("spec.expirationSeconds", f"Invalid value: {seconds!r}"))
    elif seconds < MIN_EXPIRATION_SECONDS:
        errors.append(
            FieldError("spec.expirationSeconds", "may not specify a duration less than 10 minutes")
        )
    elif seconds > MAX_EXPIRATION_SECONDS:
        errors.append(
            FieldError(
                "spec.expirationSeconds", "may not specify a duration larger than 2^32 seconds"
            )
        )
    ref = spec.get("boundObjectRef")
    if ref is not None and not isinstance(ref, dict):
        errors.append(FieldError("spec.boundObjectRef", "must be an object"))
    if errors:
        raise Invalid(subject, errors)
    checked: dict[str, Any] = {"audiences": audiences, "expirationSeconds": seconds}
    if ref:
        checked["boundObjectRef"] = {k: v for k, v in ref.items() if v not in (None, "")}
    return checked


def _subject(name: str) -> str:
    return f'TokenRequest.authentication.k8s.io "{name}"'


def _bound(
    ctx: ApiContext, namespace: str, account: str, ref: dict[str, Any]
) -> tuple[str, Resource]:
    """The kind and live object `ref` names (see the module docstring)."""
    kind, name = ref.get("kind", ""), ref.get("name", "")
    api_version = ref.get("apiVersion", "v1")
    if kind not in BINDABLE or api_version != "v1":
        raise BadRequest(
            f'cannot bind token for serviceaccount "{account}" to object of type '
            f"{api_version}, Kind={kind}"
        )
    if not isinstance(name, str) or not name:
        raise Invalid(_subject(account), [FieldError("spec.boundObjectRef.name", "Required value")])
    model = ctx.store.registry.lookup("v1", kind).model
    obj = ctx.store.get(model, name, None if kind == "Node" else namespace)
    uid = ref.get("uid")
    if uid and uid != obj.metadata.uid:
        raise Conflict(
            f"the UID in the bound object reference ({uid}) does not match the UID in "
            "record. The object might have been deleted and then recreated"
        )
    if isinstance(obj, Pod) and (obj.spec.service_account_name or "default") != account:
        raise BadRequest(
            f'cannot bind token for serviceaccount "{account}" to pod running with '
            "different serviceaccount name."
        )
    return kind, obj


async def token_request(
    ctx: ApiContext, request: web.Request, target: Target
) -> web.StreamResponse:
    assert target.name is not None and target.namespace is not None
    issuer = ctx.hooks.tokens
    if issuer is None:
        raise NotFound("the server could not find the requested resource (serviceaccounts/token)")
    body = await read_object(request, "authentication.k8s.io/v1", "TokenRequest")
    spec = _spec(body, _subject(target.name))
    account = ctx.store.get(storage_model(target), target.name, target.namespace)
    bindings: dict[str, tuple[str, str]] = {}
    ref = spec.get("boundObjectRef")
    if ref is not None:
        kind, obj = _bound(ctx, target.namespace, target.name, ref)
        bindings[kind.lower()] = (obj.metadata.name, obj.metadata.uid)
        ref["uid"] = obj.metadata.uid
        if isinstance(obj, Pod) and obj.spec.node_name:
            node = ctx.store.try_get(
                ctx.store.registry.lookup("v1", "Node").model, obj.spec.node_name
            )
            if node is not None:
                bindings["node"] = (node.metadata.name, node.metadata.uid)
    if not spec["audiences"]:
        spec["audiences"] = list(issuer.audiences)
    now = ctx.store.clock.now()
    answer: dict[str, Any] = {
        "kind": "TokenRequest",
        "apiVersion": API_VERSION,
        "metadata": {
            "name": target.name,
            "namespace": target.namespace,
            "creationTimestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
        "spec": spec,
        "status": {"token": "", "expirationTimestamp": None},
    }
    if not dry_run(Query(request)):
        status = issuer.issue(
            target.namespace,
            target.name,
            account.metadata.uid,
            audiences=spec["audiences"],
            expiration_seconds=spec["expirationSeconds"],
            **bindings,
        )
        answer["status"] = status.to_dict()
    return web.Response(body=dumps(answer), status=201, content_type="application/json")
