"""ServiceAccount tokens: bound tokens as the TokenRequest API issues them, and
the authenticator that maps one back to its ServiceAccount's user.

Contract: `ServiceAccountTokens(clock=..., service_accounts=..., pods=...)`
signs JWTs with a per-cluster key (ES256 on a P-256 key made at construction
unless an RSA or EC private key is given; Kubernetes accepts both, and an EC
key is made in microseconds where RSA takes tens of milliseconds).
`issue(namespace, name, uid, ...)` gives a `TokenRequestStatus`: the token and
its expiry. Its claims are Kubernetes': `iss`, `sub`
(`system:serviceaccount:<ns>:<name>`), `aud` (the request's audiences, else
the issuer), `exp`, `iat`, `nbf`, `jti`, and `kubernetes.io` with the
namespace, the ServiceAccount's name and uid and, for a pod-bound token, the
pod's name and uid. `authenticate(token)` returns the
`UserInfo(system:serviceaccount:<ns>:<name>, (system:serviceaccounts,
system:serviceaccounts:<ns>, system:authenticated))` or None when the token is
not one of this issuer's, is badly signed, expired or not yet valid (60 s
leeway, as Kubernetes' go-jose validation allows), has none of the accepted
audiences, or names a ServiceAccount (or pod) that no longer exists or has
been recreated since (its uid differs). `reason` says why the last token was
refused, in Kubernetes' words where it has them.

All time comes from the injected clock (PyJWT's own time checks are turned
off and done here), the `jti` from the injected RNG. Legacy Secret-based
tokens are not issued nor accepted.

Neighbours: `engine.rbac` (authorizes the user), the HTTP server (the
TokenRequest subresource and bearer-token authentication).
"""

from __future__ import annotations

import base64
import hashlib
import random
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from engine.api.base import Resource
from engine.clock import Clock
from engine.rbac import UserInfo, service_account_username

__all__ = [
    "DEFAULT_EXPIRATION_SECONDS",
    "DEFAULT_ISSUER",
    "MIN_EXPIRATION_SECONDS",
    "ServiceAccountTokens",
    "TokenRequestStatus",
]

DEFAULT_ISSUER: Final = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION_SECONDS: Final = 3600
MIN_EXPIRATION_SECONDS: Final = 600
MAX_EXPIRATION_SECONDS: Final = 2**32
LEEWAY_SECONDS: Final = 60

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
Lookup = Callable[[str, str], Resource | Mapping[str, Any] | None]
"""(namespace, name) -> the live object, or None when there is none."""


@dataclass(frozen=True, slots=True)
class TokenRequestStatus:
    """A TokenRequest's status: the token and when it expires."""

    token: str
    expiration_timestamp: datetime

    def to_dict(self) -> dict[str, str]:
        return {
            "token": self.token,
            "expirationTimestamp": self.expiration_timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


def _uid(obj: Resource | Mapping[str, Any] | None) -> str | None:
    if obj is None:
        return None
    if isinstance(obj, Resource):
        return obj.metadata.uid
    return str((obj.get("metadata") or {}).get("uid") or "")


def _key_id(key: PrivateKey) -> str:
    """Kubernetes' kid: base64url of the SHA-256 of the DER public key."""
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).decode().rstrip("=")


class ServiceAccountTokens:
    """Issues and checks bound ServiceAccount tokens for one cluster."""

    def __init__(
        self,
        *,
        clock: Clock,
        service_accounts: Lookup,
        pods: Lookup | None = None,
        key: PrivateKey | None = None,
        issuer: str = DEFAULT_ISSUER,
        audiences: Sequence[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.service_accounts = service_accounts
        self.pods = pods
        self.key: PrivateKey = key if key is not None else ec.generate_private_key(ec.SECP256R1())
        self.algorithm = "RS256" if isinstance(self.key, rsa.RSAPrivateKey) else "ES256"
        self.key_id = _key_id(self.key)
        self.issuer = issuer
        self.audiences = tuple(audiences) or (issuer,)
        self.rng = rng or random.Random(0)
        self.reason = ""

    def _now(self) -> datetime:
        return self.clock.now().astimezone(UTC)

    def issue(
        self,
        namespace: str,
        name: str,
        uid: str,
        *,
        audiences: Sequence[str] = (),
        expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
        pod: tuple[str, str] | None = None,
    ) -> TokenRequestStatus:
        """A token for ServiceAccount `namespace/name` (of `uid`), optionally
        bound to `pod` (name, uid). ValueError for a lifetime under 10 minutes
        or over 2^32 seconds (the TokenRequest validation)."""
        if expiration_seconds < MIN_EXPIRATION_SECONDS:
            raise ValueError(
                "spec.expirationSeconds: may not specify a duration less than 10 minutes"
            )
        if expiration_seconds > MAX_EXPIRATION_SECONDS:
            raise ValueError(
                "spec.expirationSeconds: may not specify a duration larger than 2^32 seconds"
            )
        now = self._now().replace(microsecond=0)
        expires = now + timedelta(seconds=expiration_seconds)
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": name, "uid": uid},
        }
        if pod is not None:
            private["pod"] = {"name": pod[0], "uid": pod[1]}
        claims = {
            "aud": list(audiences) or list(self.audiences),
            "exp": int(expires.timestamp()),
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "iss": self.issuer,
            "jti": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "kubernetes.io": private,
            "sub": service_account_username(namespace, name),
        }
        token = jwt.encode(claims, self.key, algorithm=self.algorithm, headers={"kid": self.key_id})
        return TokenRequestStatus(token, expires)

    def _refuse(self, reason: str) -> UserInfo | None:
        self.reason = reason
        return None

    def authenticate(self, token: str) -> UserInfo | None:
        """The ServiceAccount user a token stands for, or None (see `reason`)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key.public_key(),
                algorithms=[self.algorithm],
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.PyJWTError:
            return self._refuse("invalid bearer token")
        if claims.get("iss") != self.issuer:
            return self._refuse("token issuer is not accepted")
        now = self._now().timestamp()
        if not isinstance(claims.get("exp"), int) or now > claims["exp"] + LEEWAY_SECONDS:
            return self._refuse("service account token has expired")
        if isinstance(claims.get("nbf"), int) and now < claims["nbf"] - LEEWAY_SECONDS:
            return self._refuse("service account token is not valid yet")
        if isinstance(claims.get("iat"), int) and now < claims["iat"] - LEEWAY_SECONDS:
            return self._refuse("service account token is issued in the future")
        audiences = claims.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or not set(audiences) & set(self.audiences):
            return self._refuse("token audiences are not accepted")
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            return self._refuse("token could not be validated")
        namespace = private.get("namespace")
        account = private.get("serviceaccount") or {}
        name, uid = account.get("name"), account.get("uid")
        if not all(isinstance(v, str) and v for v in (namespace, name, uid)):
            return self._refuse("token could not be validated")
        assert isinstance(namespace, str) and isinstance(name, str)
        if claims.get("sub") != service_account_username(namespace, name):
            return self._refuse("token could not be validated")
        live = _uid(self.service_accounts(namespace, name))
        if live is None:
            return self._refuse(f'serviceaccounts "{name}" not found')
        if live != uid:
            return self._refuse(f"service account UID ({live}) does not match claim ({uid})")
        pod = private.get("pod")
        if isinstance(pod, dict):
            pod_name, pod_uid = str(pod.get("name") or ""), str(pod.get("uid") or "")
            live_pod = _uid(self.pods(namespace, pod_name)) if self.pods is not None else None
            if live_pod is None:
                return self._refuse(f'pods "{pod_name}" not found')
            if live_pod != pod_uid:
                return self._refuse(f"pod UID ({live_pod}) does not match claim ({pod_uid})")
        self.reason = ""
        return UserInfo(
            service_account_username(namespace, name),
            (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ),
        )

    def jwks(self) -> dict[str, Any]:
        """The public key set (`/openid/v1/jwks`)."""
        if isinstance(self.key, rsa.RSAPrivateKey):
            jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        else:
            jwk = jwt.algorithms.ECAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "use": "sig", "kid": self.key_id, "alg": self.algorithm}]}

    def openid_configuration(self) -> dict[str, Any]:
        """The discovery document (`/.well-known/openid-configuration`)."""
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/openid/v1/jwks",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [self.algorithm],
        }
