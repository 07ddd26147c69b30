"""ServiceAccount tokens: TokenRequest-style bound tokens and their
authentication, on virtual time (expiry, leeway, audiences, deleted and
recreated ServiceAccounts and pods)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import anyio
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from engine.clock import VirtualClock
from engine.rbac import UserInfo
from engine.satokens import DEFAULT_ISSUER, ServiceAccountTokens

ACCOUNT: dict[str, Any] = {"metadata": {"name": "builder", "namespace": "ci", "uid": "uid-1"}}
POD: dict[str, Any] = {"metadata": {"name": "runner", "namespace": "ci", "uid": "pod-1"}}


def make(
    clock: VirtualClock, accounts: dict[tuple[str, str], Any], **more: Any
) -> ServiceAccountTokens:
    return ServiceAccountTokens(
        clock=clock,
        service_accounts=lambda ns, name: accounts.get((ns, name)),
        pods=lambda ns, name: accounts.get(("pod", name)),
        rng=random.Random(7),
        **more,
    )


async def test_token_authenticates_as_the_service_account(clock: VirtualClock) -> None:
    tokens = make(clock, {("ci", "builder"): ACCOUNT})
    status = tokens.issue("ci", "builder", "uid-1")
    assert status.expiration_timestamp == clock.now().replace(microsecond=0) + timedelta(hours=1)
    assert tokens.authenticate(status.token) == UserInfo(
        "system:serviceaccount:ci:builder",
        ("system:serviceaccounts", "system:serviceaccounts:ci", "system:authenticated"),
    )
    header = jwt.get_unverified_header(status.token)
    assert header["alg"] == "ES256" and header["kid"] == tokens.key_id
    claims = jwt.decode(status.token, options={"verify_signature": False})
    assert claims["iss"] == DEFAULT_ISSUER and claims["aud"] == [DEFAULT_ISSUER]
    assert claims["sub"] == "system:serviceaccount:ci:builder"
    assert claims["kubernetes.io"] == {
        "namespace": "ci",
        "serviceaccount": {"name": "builder", "uid": "uid-1"},
    }
    assert claims["exp"] - claims["iat"] == 3600
    assert status.to_dict()["expirationTimestamp"].endswith("Z")


async def test_expiry_follows_the_injected_clock_with_kubernetes_leeway(
    clock: VirtualClock,
) -> None:
    tokens = make(clock, {("ci", "builder"): ACCOUNT})
    token = tokens.issue("ci", "builder", "uid-1", expiration_seconds=600).token
    await anyio.sleep(600 + 60)
    assert tokens.authenticate(token) is not None
    await anyio.sleep(1)
    assert tokens.authenticate(token) is None
    assert tokens.reason == "service account token has expired"


async def test_audiences_must_intersect(clock: VirtualClock) -> None:
    tokens = make(clock, {("ci", "builder"): ACCOUNT}, audiences=("api", "vault"))
    assert tokens.authenticate(tokens.issue("ci", "builder", "uid-1").token) is not None
    assert tokens.authenticate(tokens.issue("ci", "builder", "uid-1", audiences=["vault"]).token)
    assert (
        tokens.authenticate(tokens.issue("ci", "builder", "uid-1", audiences=["other"]).token)
        is None
    )
    assert tokens.reason == "token audiences are not accepted"


async def test_deleted_or_recreated_account_is_refused(clock: VirtualClock) -> None:
    accounts: dict[tuple[str, str], Any] = {("ci", "builder"): ACCOUNT}
    tokens = make(clock, accounts)
    token = tokens.issue("ci", "builder", "uid-1").token
    accounts[("ci", "builder")] = {"metadata": {"name": "builder", "uid": "uid-2"}}
    assert tokens.authenticate(token) is None
    assert tokens.reason == "service account UID (uid-2) does not match claim (uid-1)"
    del accounts[("ci", "builder")]
    assert tokens.authenticate(token) is None
    assert tokens.reason == 'serviceaccounts "builder" not found'


async def test_pod_bound_token_dies_with_its_pod(clock: VirtualClock) -> None:
    accounts: dict[tuple[str, str], Any] = {("ci", "builder"): ACCOUNT, ("pod", "runner"): POD}
    tokens = make(clock, accounts)
    token = tokens.issue("ci", "builder", "uid-1", pod=("runner", "pod-1")).token
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["kubernetes.io"]["pod"] == {"name": "runner", "uid": "pod-1"}
    assert tokens.authenticate(token) is not None
    del accounts[("pod", "runner")]
    assert tokens.authenticate(token) is None
    assert tokens.reason == 'pods "runner" not found'


async def test_foreign_forged_and_garbage_tokens_are_refused(clock: VirtualClock) -> None:
    accounts = {("ci", "builder"): ACCOUNT}
    ours, theirs = make(clock, accounts), make(clock, accounts)
    assert ours.authenticate(theirs.issue("ci", "builder", "uid-1").token) is None
    assert ours.authenticate("not-a-jwt") is None
    assert ours.reason == "invalid bearer token"
    forged = jwt.encode(
        {"iss": DEFAULT_ISSUER, "sub": "system:serviceaccount:ci:builder"},
        "an HMAC secret of thirty-two bytes",
        algorithm="HS256",
    )
    assert ours.authenticate(forged) is None
    other_issuer = make(clock, accounts, key=ours.key, issuer="https://elsewhere")
    assert ours.authenticate(other_issuer.issue("ci", "builder", "uid-1").token) is None
    assert ours.reason == "token issuer is not accepted"


async def test_rsa_keys_sign_rs256_and_publish_jwks(clock: VirtualClock) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tokens = make(clock, {("ci", "builder"): ACCOUNT}, key=key)
    token = tokens.issue("ci", "builder", "uid-1").token
    assert jwt.get_unverified_header(token)["alg"] == "RS256"
    assert tokens.authenticate(token) is not None
    (jwk,) = tokens.jwks()["keys"]
    assert jwk["kty"] == "RSA" and jwk["kid"] == tokens.key_id
    public = jwt.algorithms.RSAAlgorithm.from_jwk(jwk)
    assert isinstance(public, rsa.RSAPublicKey)
    assert jwt.decode(
        token, public, algorithms=["RS256"], audience=DEFAULT_ISSUER, options={"verify_exp": False}
    )
    assert tokens.openid_configuration()["jwks_uri"] == f"{DEFAULT_ISSUER}/openid/v1/jwks"


async def test_lifetime_limits(clock: VirtualClock) -> None:
    tokens = make(clock, {})
    with pytest.raises(ValueError, match="less than 10 minutes"):
        tokens.issue("ci", "builder", "uid-1", expiration_seconds=599)
    with pytest.raises(ValueError, match="2\\^32"):
        tokens.issue("ci", "builder", "uid-1", expiration_seconds=2**32 + 1)
