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
namespace, the ServiceAccount's name and uid and, for a bound token, the
object it is bound to: a `pod` (with the `node` it runs on, when scheduled), a
`secret` or a `node`, each as name and uid. `authenticate(token)` returns the
`UserInfo(system:serviceaccount:<ns>:<name>, (system:serviceaccounts,
system:serviceaccounts:<ns>, system:authenticated))` (uid: the
ServiceAccount's; extra: the credential id and the bound pod or node, as
Kubernetes' `authentication.kubernetes.io/...` keys) or None when the token is
not one of this issuer's, is badly signed, expired or not yet valid (60 s
leeway, as Kubernetes' go-jose validation allows), has none of the accepted
audiences, or names a ServiceAccount or bound object that no longer exists or
has been recreated since (its uid differs; a pod token's node is not checked,
only a token bound to the node itself, as Kubernetes validates). `reason`
says why the last token was refused, in Kubernetes' words where it has them.
`review(token, audiences)` is the TokenReview: the user, and which of the
given audiences (else the issuer's) the token is for.

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
    "TokenReviewResult",
]

DEFAULT_ISSUER: Final = "https://kubernetes.default.svc.cluster.local"
DEFAULT_EXPIRATION_SECONDS: Final = 3600
MIN_EXPIRATION_SECONDS: Final = 600
MAX_EXPIRATION_SECONDS: Final = 2**32
LEEWAY_SECONDS: Final = 60
EXTRA_PREFIX: Final = "authentication.kubernetes.io/"

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
Lookup = Callable[[str, str], Resource | Mapping[str, Any] | None]
"""(namespace, name) -> the live object, or None when there is none (a
cluster-scoped kind's lookup is given "" as the namespace)."""
BoundRef = tuple[str, str]
"""(name, uid) of the object a token is bound to."""


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


@dataclass(frozen=True, slots=True)
class TokenReviewResult:
    """What a TokenReview answers: the user (None when the token is refused,
    `error` saying why) and the audiences the token was accepted for."""

    user: UserInfo | None
    audiences: tuple[str, ...] = ()
    error: str = ""


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
        secrets: Lookup | None = None,
        nodes: Lookup | None = None,
        key: PrivateKey | None = None,
        issuer: str = DEFAULT_ISSUER,
        audiences: Sequence[str] = (),
        rng: random.Random | None = None,
    ) -> None:
        self.clock = clock
        self.service_accounts = service_accounts
        self.pods = pods
        self.secrets = secrets
        self.nodes = nodes
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
        pod: BoundRef | None = None,
        secret: BoundRef | None = None,
        node: BoundRef | None = None,
    ) -> TokenRequestStatus:
        """A token for ServiceAccount `namespace/name` (of `uid`), optionally
        bound to a `pod`, a `secret` or a `node` (name, uid each; a pod-bound
        token may also name its pod's node). ValueError for a lifetime under
        10 minutes or over 2^32 seconds (the TokenRequest validation)."""
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
        for claim, ref in (("pod", pod), ("secret", secret), ("node", node)):
            if ref is not None:
                private[claim] = {"name": ref[0], "uid": ref[1]}
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

    def _refuse(self, reason: str) -> tuple[None, tuple[str, ...]]:
        self.reason = reason
        return None, ()

    def authenticate(self, token: str) -> UserInfo | None:
        """The ServiceAccount user a token stands for, or None (see `reason`)."""
        return self._check(token, self.audiences)[0]

    def review(self, token: str, audiences: Sequence[str] = ()) -> TokenReviewResult:
        """The TokenReview of `token` for `audiences` (else the issuer's)."""
        wanted = tuple(audiences) or self.audiences
        user, matched = self._check(token, wanted)
        if user is None:
            return TokenReviewResult(None, (), f"[invalid bearer token, {self.reason}]")
        return TokenReviewResult(user, matched)

    def _check(self, token: str, wanted: Sequence[str]) -> tuple[UserInfo | None, tuple[str, ...]]:
        refused = self._refuse
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
            return refused("invalid bearer token")
        if claims.get("iss") != self.issuer:
            return refused("token issuer is not accepted")
        now = self._now().timestamp()
        if not isinstance(claims.get("exp"), int) or now > claims["exp"] + LEEWAY_SECONDS:
            return refused("service account token has expired")
        if isinstance(claims.get("nbf"), int) and now < claims["nbf"] - LEEWAY_SECONDS:
            return refused("service account token is not valid yet")
        if isinstance(claims.get("iat"), int) and now < claims["iat"] - LEEWAY_SECONDS:
            return refused("service account token is issued in the future")
        audiences = claims.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        matched = tuple(a for a in wanted if isinstance(audiences, list) and a in audiences)
        if not matched:
            return refused("token audiences are not accepted")
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            return refused("token could not be validated")
        namespace = private.get("namespace")
        account = private.get("serviceaccount") or {}
        name, uid = account.get("name"), account.get("uid")
        if not all(isinstance(v, str) and v for v in (namespace, name, uid)):
            return refused("token could not be validated")
        assert isinstance(namespace, str) and isinstance(name, str)
        if claims.get("sub") != service_account_username(namespace, name):
            return refused("token could not be validated")
        live = _uid(self.service_accounts(namespace, name))
        if live is None:
            return refused(f'serviceaccounts "{name}" not found')
        if live != uid:
            return refused(f"service account UID ({live}) does not match claim ({uid})")
        extra: list[tuple[str, tuple[str, ...]]] = []
        if isinstance(claims.get("jti"), str):
            extra.append((f"{EXTRA_PREFIX}credential-id", (f"JTI={claims['jti']}",)))
        bound = {k: v for k, v in private.items() if k in ("pod", "secret", "node")}
        for claim, ref in bound.items():
            if not isinstance(ref, dict):
                return refused("token could not be validated")
            ref_name, ref_uid = str(ref.get("name") or ""), str(ref.get("uid") or "")
            if claim == "node" and "pod" in bound:
                # A pod token names its pod's node for information; only a token
                # bound to the node itself dies with it (Kubernetes' validator).
                pass
            else:
                lookup = {"pod": self.pods, "secret": self.secrets, "node": self.nodes}[claim]
                scope = "" if claim == "node" else namespace
                live_ref = _uid(lookup(scope, ref_name)) if lookup is not None else None
                if live_ref is None:
                    return refused(f'{claim}s "{ref_name}" not found')
                if live_ref != ref_uid:
                    return refused(f"{claim} UID ({live_ref}) does not match claim ({ref_uid})")
            if claim in ("pod", "node"):
                extra.append((f"{EXTRA_PREFIX}{claim}-name", (ref_name,)))
                extra.append((f"{EXTRA_PREFIX}{claim}-uid", (ref_uid,)))
        self.reason = ""
        user = UserInfo(
            service_account_username(namespace, name),
            (
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ),
            uid=uid,
            extra=tuple(sorted(extra)),
        )
        return user, matched

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
