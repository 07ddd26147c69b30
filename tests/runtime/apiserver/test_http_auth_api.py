"""The authentication and authorization APIs over HTTP: the TokenRequest
subresource, TokenReview, SelfSubjectReview and the access reviews, answered
from the server's ServiceAccount token issuer and RBAC authorizer, with JSON
bodies and with the protobuf bodies the real kubectl sends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest

from engine.api.core import Pod
from engine.client import LocalClient
from engine.clock import RealClock
from engine.rbac import Attributes
from engine.rbac_bootstrap import ensure_bootstrap_policy
from engine.satokens import ServiceAccountTokens
from engine.store import Store
from runtime.apiserver import ApiServer, Hooks
from runtime.apiserver.encoding import PROTOBUF
from runtime.cluster.serving import StoreAuthorizer
from tests.runtime.apiserver.conftest import Api, pod

SA = "/api/v1/namespaces/default/serviceaccounts"
PODS = "/api/v1/namespaces/default/pods"
SECRETS = "/api/v1/namespaces/default/secrets"
REVIEWS = "/apis/authorization.k8s.io/v1"

# What `kubectl create token robot` and `kubectl auth can-i get pods` (1.32)
# send, byte for byte.
KUBECTL_TOKEN_REQUEST = (
    b"k8s\x00\n(\n\x18authentication.k8s.io/v1\x12\x0cTokenRequest\x12\x1a\n\x10\n\x00\x12\x00"
    b'\x1a\x00"\x00*\x002\x008\x00B\x00\x12\x00\x1a\x04\n\x00\x12\x00\x1a\x00"\x00'
)
KUBECTL_CAN_I_GET_PODS = (
    b"k8s\x00\n2\n\x17authorization.k8s.io/v1\x12\x17SelfSubjectAccessReview\x12<\n\x10\n\x00"
    b'\x12\x00\x1a\x00"\x00*\x002\x008\x00B\x00\x12\x1e\n\x1c\n\x07default\x12\x03get\x1a\x00'
    b'"\x00*\x04pods2\x00:\x00\x1a\x08\x08\x00\x12\x00\x1a\x00 \x00\x1a\x00"\x00'
)
VIEW_BINDING = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "RoleBinding",
    "metadata": {"name": "robot-view", "namespace": "default"},
    "roleRef": {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "pod-reader",
    },
    "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": "default"}],
}
VIEW_ROLE = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRole",
    "metadata": {"name": "pod-reader"},
    "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}],
}


class SteppedClock(RealClock):
    """The real clock, moved forward by hand (expiry without waiting)."""

    def __init__(self) -> None:
        super().__init__()
        self.offset = timedelta()

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class Served:
    api: Api
    clock: SteppedClock
    tokens: ServiceAccountTokens

    async def as_token(self, token: str, method: str, path: str, body: Any = None) -> Any:
        status, answer, _ = await self.api.call(
            method, path, body, headers={"Authorization": f"Bearer {token}"}
        )
        return status, answer


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    clock = SteppedClock()
    store = Store(clock=clock)
    # kube-apiserver's default roles: every user may ask who it is and what it may do.
    await ensure_bootstrap_policy(LocalClient(store))
    registry = store.registry
    account = registry.lookup("v1", "ServiceAccount").model
    secret = registry.lookup("v1", "Secret").model
    node = registry.lookup("v1", "Node").model
    tokens = ServiceAccountTokens(
        clock=clock,
        service_accounts=lambda ns, name: store.try_get(account, name, ns),
        pods=lambda ns, name: store.try_get(Pod, name, ns),
        secrets=lambda ns, name: store.try_get(secret, name, ns),
        nodes=lambda _, name: store.try_get(node, name),
    )
    hooks = Hooks(
        authenticate=tokens.authenticate,
        tokens=tokens,
        authorizer=StoreAuthorizer(store),
        attributes=Attributes,
    )
    server = ApiServer(store, tls=False, hooks=hooks)
    endpoint = await server.start()
    headers = {"Authorization": f"Bearer {endpoint.token}"}
    async with aiohttp.ClientSession(base_url=endpoint.url, headers=headers) as http:
        api = Api(store, server, endpoint, http)
        status, _, _ = await api.call("POST", SA, {"metadata": {"name": "robot"}})
        assert status == 201
        yield Served(api, clock, tokens)
    await server.stop()


async def _token(served: Served, spec: dict[str, Any] | None = None) -> tuple[int, Any]:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec or {}}
    status, answer, _ = await served.api.call("POST", f"{SA}/robot/token", body)
    return status, answer


async def test_token_request_issues_a_token_that_authenticates_as_the_account(
    served: Served,
) -> None:
    status, answer, _ = await served.api.call(
        "POST", f"{SA}/robot/token", data=KUBECTL_TOKEN_REQUEST, content_type=PROTOBUF
    )
    assert status == 201, answer
    assert answer["kind"] == "TokenRequest"
    assert answer["spec"]["expirationSeconds"] == 3600
    assert answer["spec"]["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    expires = datetime.fromisoformat(answer["status"]["expirationTimestamp"])
    assert abs((expires - served.clock.now()).total_seconds() - 3600) < 5
    token = answer["status"]["token"]
    status, refused = await served.as_token(token, "GET", PODS)
    assert status == 403
    assert 'User "system:serviceaccount:default:robot" cannot list' in refused["message"]
    await served.api.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", VIEW_ROLE)
    await served.api.call(
        "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", VIEW_BINDING
    )
    status, _ = await served.as_token(token, "GET", PODS)
    assert status == 200


async def test_token_request_lifetime_is_checked_and_expires_on_the_cluster_clock(
    served: Served,
) -> None:
    status, short = await _token(served, {"expirationSeconds": 599})
    assert status == 422
    assert "may not specify a duration less than 10 minutes" in short["message"]
    assert short["details"]["causes"][0]["field"] == "spec.expirationSeconds"
    status, answer = await _token(served, {"expirationSeconds": 600})
    assert status == 201 and answer["spec"]["expirationSeconds"] == 600
    token = answer["status"]["token"]
    assert (await served.as_token(token, "GET", "/apis"))[0] == 200
    served.clock.offset = timedelta(seconds=600 + 61)  # past Kubernetes' 60 s leeway
    status, denied = await served.as_token(token, "GET", "/apis")
    assert status == 401 and denied["message"] == "Unauthorized"


async def test_token_request_for_a_missing_account_or_a_bad_body(served: Served) -> None:
    status, missing, _ = await served.api.call("POST", f"{SA}/nobody/token", {"spec": {}})
    assert status == 404 and missing["message"] == 'serviceaccounts "nobody" not found'
    status, wrong, _ = await served.api.call(
        "POST", f"{SA}/robot/token", {"kind": "Pod", "apiVersion": "v1"}
    )
    assert status == 400 and "TokenRequest" in wrong["message"]
    status, _, _ = await served.api.call("GET", f"{SA}/robot/token")
    assert status == 405
    status, garbage, _ = await served.api.call(
        "POST", f"{SA}/robot/token", data=b"k8s\x00\xff\xff", content_type=PROTOBUF
    )
    assert status == 400 and "protobuf" in garbage["message"]


async def test_a_token_bound_to_a_secret_dies_with_it(served: Served) -> None:
    ref = {"kind": "Secret", "apiVersion": "v1", "name": "creds"}
    status, missing = await _token(served, {"boundObjectRef": ref})
    assert status == 404 and missing["message"] == 'secrets "creds" not found'
    status, secret, _ = await served.api.call("POST", SECRETS, {"metadata": {"name": "creds"}})
    assert status == 201
    status, answer = await _token(served, {"boundObjectRef": ref})
    assert status == 201
    assert answer["spec"]["boundObjectRef"]["uid"] == secret["metadata"]["uid"]
    token = answer["status"]["token"]
    assert (await served.as_token(token, "GET", "/apis"))[0] == 200
    await served.api.call("DELETE", f"{SECRETS}/creds")
    assert (await served.as_token(token, "GET", "/apis"))[0] == 401
    assert served.tokens.reason == 'secrets "creds" not found'
    stale = {**ref, "uid": secret["metadata"]["uid"]}
    await served.api.call("POST", SECRETS, {"metadata": {"name": "creds"}})
    status, conflict = await _token(served, {"boundObjectRef": stale})
    assert status == 409 and "does not match the UID in record" in conflict["message"]


async def test_a_pod_bound_token_needs_the_pods_account_and_dies_with_the_pod(
    served: Served,
) -> None:
    other = pod("other")
    other["spec"]["serviceAccountName"] = "default"
    await served.api.call("POST", PODS, other)
    status, refused = await _token(
        served, {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "other"}}
    )
    assert status == 400
    assert "to pod running with different serviceaccount name" in refused["message"]
    mine = pod("mine")
    mine["spec"]["serviceAccountName"] = "robot"
    await served.api.call("POST", PODS, mine)
    status, answer = await _token(
        served, {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "mine"}}
    )
    assert status == 201
    token = answer["status"]["token"]
    status, review, _ = await served.api.call(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert status == 201
    extra = review["status"]["userInfo"]["extra"]
    assert extra["authentication.kubernetes.io/pod-name"] == ["mine"]
    await served.api.call("DELETE", f"{PODS}/mine", params={"gracePeriodSeconds": "0"})
    assert (await served.as_token(token, "GET", "/apis"))[0] == 401


async def test_tokens_bound_to_nodes_and_unsupported_kinds(served: Served) -> None:
    await served.api.call("POST", "/api/v1/nodes", {"metadata": {"name": "n1"}})
    ref = {"kind": "Node", "apiVersion": "v1", "name": "n1"}
    status, answer = await _token(served, {"boundObjectRef": ref})
    assert status == 201
    token = answer["status"]["token"]
    assert (await served.as_token(token, "GET", "/apis"))[0] == 200
    await served.api.call("DELETE", "/api/v1/nodes/n1")
    assert (await served.as_token(token, "GET", "/apis"))[0] == 401
    status, refused = await _token(
        served, {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "x"}}
    )
    assert status == 400
    assert refused["message"] == (
        'cannot bind token for serviceaccount "robot" to object of type v1, Kind=ConfigMap'
    )


async def test_token_review_checks_tokens_and_audiences(served: Served) -> None:
    _, answer = await _token(served, {"audiences": ["vault"]})
    token = answer["status"]["token"]

    async def review(token: str, audiences: list[str] | None = None) -> Any:
        spec: dict[str, Any] = {"token": token}
        if audiences is not None:
            spec["audiences"] = audiences
        status, body, _ = await served.api.call(
            "POST",
            "/apis/authentication.k8s.io/v1/tokenreviews",
            {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec},
        )
        assert status == 201, body
        return body["status"]

    accepted = await review(token, ["vault", "other"])
    assert accepted["authenticated"] is True
    assert accepted["audiences"] == ["vault"]
    assert accepted["user"]["username"] == "system:serviceaccount:default:robot"
    assert "system:serviceaccounts:default" in accepted["user"]["groups"]
    refused = await review(token)  # not for the API server's own audience
    assert "authenticated" not in refused
    assert "token audiences are not accepted" in refused["error"]
    admin = await review(served.api.endpoint.token)
    assert admin["authenticated"] is True and admin["user"]["username"] == "kubeloop-admin"
    assert "authenticated" not in await review("garbage")
    status, empty, _ = await served.api.call(
        "POST", "/apis/authentication.k8s.io/v1/tokenreviews", {"spec": {}}
    )
    assert status == 400 and "token is required" in empty["message"]


async def test_access_reviews_answer_from_rbac(served: Served) -> None:
    status, answer, _ = await served.api.call(
        "POST",
        f"{REVIEWS}/selfsubjectaccessreviews",
        data=KUBECTL_CAN_I_GET_PODS,
        content_type=PROTOBUF,
    )
    assert status == 201 and answer["status"]["allowed"] is True
    assert answer["spec"]["resourceAttributes"]["resource"] == "pods"
    _, token_answer = await _token(served)
    robot = token_answer["status"]["token"]
    status, mine = await served.as_token(
        robot,
        "POST",
        f"{REVIEWS}/selfsubjectaccessreviews",
        {
            "spec": {
                "resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}
            }
        },
    )
    assert status == 201 and mine["status"]["allowed"] is False
    # The account may ask about itself, not about others.
    status, _ = await served.as_token(
        robot, "POST", f"{REVIEWS}/subjectaccessreviews", {"spec": {"user": "x"}}
    )
    assert status == 403
    await served.api.call("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", VIEW_ROLE)
    await served.api.call(
        "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", VIEW_BINDING
    )
    spec: dict[str, Any] = {
        "user": "system:serviceaccount:default:robot",
        "groups": ["system:serviceaccounts"],
        "resourceAttributes": {"namespace": "default", "verb": "list", "resource": "pods"},
    }
    status, sar, _ = await served.api.call(
        "POST", f"{REVIEWS}/subjectaccessreviews", {"spec": spec}
    )
    assert status == 201 and sar["status"]["allowed"] is True
    assert 'RoleBinding "robot-view/default"' in sar["status"]["reason"]
    status, local, _ = await served.api.call(
        "POST", f"{REVIEWS}/namespaces/default/localsubjectaccessreviews", {"spec": spec}
    )
    assert status == 201 and local["kind"] == "LocalSubjectAccessReview"
    assert local["status"]["allowed"] is True
    status, elsewhere, _ = await served.api.call(
        "POST", f"{REVIEWS}/namespaces/other/localsubjectaccessreviews", {"spec": spec}
    )
    assert status == 400 and "must match namespace" in elsewhere["message"]
    writes = {**spec, "resourceAttributes": {**spec["resourceAttributes"], "verb": "delete"}}
    _, denied, _ = await served.api.call(
        "POST", f"{REVIEWS}/subjectaccessreviews", {"spec": writes}
    )
    assert denied["status"]["allowed"] is False
    status, neither, _ = await served.api.call(
        "POST", f"{REVIEWS}/subjectaccessreviews", {"spec": {"user": "x"}}
    )
    assert status == 422
    assert "exactly one of nonResourceAttributes or resourceAttributes" in neither["message"]
    status, nobody, _ = await served.api.call(
        "POST",
        f"{REVIEWS}/subjectaccessreviews",
        {"spec": {"nonResourceAttributes": {"path": "/healthz", "verb": "get"}}},
    )
    assert status == 422 and "at least one of user or group" in nobody["message"]
    status, _, _ = await served.api.call("GET", f"{REVIEWS}/subjectaccessreviews")
    assert status == 405


async def test_review_kinds_are_discoverable(served: Served) -> None:
    _, authz, _ = await served.api.call("GET", REVIEWS)
    by_name = {r["name"]: r for r in authz["resources"]}
    assert by_name["selfsubjectaccessreviews"]["verbs"] == ["create"]
    assert by_name["localsubjectaccessreviews"]["namespaced"] is True
    _, core, _ = await served.api.call("GET", "/api/v1")
    token = next(r for r in core["resources"] if r["name"] == "serviceaccounts/token")
    assert token["kind"] == "TokenRequest" and token["group"] == "authentication.k8s.io"
    _, groups, _ = await served.api.call("GET", "/apis")
    assert {"authentication.k8s.io", "authorization.k8s.io"} <= {
        g["name"] for g in groups["groups"]
    }


async def test_impersonation_acts_as_the_user_when_the_requester_may(served: Served) -> None:
    robot = {"Impersonate-User": "system:serviceaccount:default:robot"}
    status, who, _ = await served.api.call(
        "POST",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        {"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1"},
        headers=robot,
    )
    assert status == 201
    assert who["status"]["userInfo"]["username"] == "system:serviceaccount:default:robot"
    assert who["status"]["userInfo"]["groups"] == [
        "system:serviceaccounts",
        "system:serviceaccounts:default",
        "system:authenticated",
    ]
    status, denied, _ = await served.api.call("GET", PODS, headers=robot)
    assert status == 403 and "system:serviceaccount:default:robot" in denied["message"]
    _, token_answer = await _token(served)
    token = token_answer["status"]["token"]
    status, refused, _ = await served.api.call(
        "GET", PODS, headers={"Authorization": f"Bearer {token}", "Impersonate-User": "alice"}
    )
    assert status == 403
    assert refused["message"] == (
        'users "alice" is forbidden: User "system:serviceaccount:default:robot" cannot '
        'impersonate resource "users" in API group "" at the cluster scope'
    )
    status, _, _ = await served.api.call("GET", PODS, headers={"Impersonate-Group": "x"})
    assert status == 400


async def test_without_an_authorizer_every_access_review_is_allowed(api: Api) -> None:
    spec = {"resourceAttributes": {"verb": "delete", "resource": "nodes"}}
    status, review, _ = await api.call(
        "POST", f"{REVIEWS}/selfsubjectaccessreviews", {"spec": spec}
    )
    assert status == 201 and review["status"] == {"allowed": True}
    status, missing, _ = await api.call("POST", f"{SA}/default/token", {"spec": {}})
    assert status == 404 and "serviceaccounts/token" in missing["message"]  # no issuer


def test_protobuf_strings_that_are_not_utf8_are_refused() -> None:
    from engine.errors import BadRequest
    from engine.protobuf import decode

    def field(number: int, payload: bytes) -> bytes:  # a length-delimited field
        return bytes([number << 3 | 2, len(payload)]) + payload

    type_meta = field(1, b"authentication.k8s.io/v1") + field(2, b"TokenRequest")
    raw = field(1, field(1, b"\xff\xfe\xfd"))  # metadata.name: three bytes, not UTF-8
    with pytest.raises(BadRequest, match=r"metadata\.name: a string field is not UTF-8"):
        decode(b"k8s\x00" + field(1, type_meta) + field(2, raw), default=("v1", "TokenRequest"))
