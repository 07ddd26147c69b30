"""The seams the API server leaves for modules that plug in: authentication,
authorization, `as=Table` printing, OpenAPI documents and container logs.

`Hooks` holds one optional callable (or object) per seam. The server calls
each at exactly one place (`app`, `resources`, `discovery`, `subresources`),
and until one is given it behaves as documented here:

* `authenticate(token) -> UserInfo | None`: extra bearer tokens (ServiceAccount
  tokens). Without it only the kubeconfig's token is accepted; its user is
  `kubeloop-admin` in `system:masters`.
* `tokens`: the ServiceAccount token issuer (`engine.satokens.
  ServiceAccountTokens`): `issue(...)` answers the TokenRequest subresource
  (`serviceaccounts/{name}/token`) and `review(token, audiences)` a
  TokenReview. Without it the subresource is 404 and a TokenReview knows only
  the kubeconfig's token.
* `authorizer.authorize(user, attributes) -> Decision` and
  `authorizer.forbidden_message(user, attributes)`: RBAC. Without it every
  authenticated request is allowed (the kubeconfig user is cluster-admin).
* `table(objects, group=, version=, kind=, include_object=, crd_columns=, now=)`:
  a `meta.k8s.io/v1 Table` for `Accept: ...;as=Table`. Without it those
  requests get the plain JSON object or list, which kubectl also prints.
* `openapi`: the OpenAPI v2/v3 documents. Without it `/openapi/*` is 404 (kubectl
  then needs `--validate=false`).
* `logs(pod, container, tail=, follow=, previous=)`: a container's log lines
  (the cluster's node agents provide it). Without it `pods/log` is 404.
* `flush()`: makes every write so far durable; called before each response
  is sent, so no client is told of a write that a crash could lose
  (`engine.durable`'s group commit). Without it responses go out at once.

Neighbours: `runtime.apiserver.app` (takes a `Hooks`), `runtime.cluster`
(fills `logs`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from engine.api.core import Pod

__all__ = [
    "ADMIN",
    "AccessAttributes",
    "AccessDecision",
    "Authorizer",
    "Hooks",
    "LogSource",
    "OpenAPI",
    "TablePrinter",
    "TokenIssuer",
    "User",
]


class User(Protocol):
    """Who made a request (`engine.rbac.UserInfo` fits)."""

    @property
    def name(self) -> str: ...

    @property
    def groups(self) -> Sequence[str]: ...


@dataclass(frozen=True, slots=True)
class _AdminUser:
    name: str = "kubeloop-admin"
    groups: tuple[str, ...] = ("system:masters", "system:authenticated")


ADMIN: User = _AdminUser()
"""The kubeconfig's user: cluster-admin."""


@dataclass(frozen=True, slots=True)
class AccessAttributes:
    """What a request does, as an authorizer reads it (`engine.rbac.Attributes`)."""

    verb: str
    api_group: str
    resource: str
    subresource: str
    namespace: str
    name: str
    path: str


class AccessDecision(Protocol):
    @property
    def allowed(self) -> bool: ...

    @property
    def reason(self) -> str: ...


class Authorizer(Protocol):
    def authorize(self, user: Any, attrs: Any) -> AccessDecision: ...

    def forbidden_message(self, user: Any, attrs: Any) -> str: ...


class TokenIssuer(Protocol):
    """`engine.satokens.ServiceAccountTokens` fits."""

    @property
    def audiences(self) -> tuple[str, ...]: ...

    def issue(
        self,
        namespace: str,
        name: str,
        uid: str,
        *,
        audiences: Sequence[str] = (),
        expiration_seconds: int = 3600,
        pod: tuple[str, str] | None = None,
        secret: tuple[str, str] | None = None,
        node: tuple[str, str] | None = None,
    ) -> Any:
        """A status with `token`, `expiration_timestamp` and `to_dict()`."""
        ...

    def review(self, token: str, audiences: Sequence[str] = ()) -> Any:
        """A result with `user` (None if refused), `audiences` and `error`."""
        ...


class TablePrinter(Protocol):
    def __call__(
        self,
        objects: Sequence[Mapping[str, Any]],
        *,
        group: str,
        version: str,
        kind: str,
        include_object: str = "Metadata",
        crd_columns: Sequence[Mapping[str, Any]] | None = None,
        now: datetime,
    ) -> dict[str, Any]: ...


class OpenAPI(Protocol):
    """`engine.openapi`'s functions; `crds` are the stored CRDs as JSON."""

    def openapi_v2(self, crds: Sequence[Mapping[str, Any]]) -> dict[str, Any]: ...

    def openapi_v2_protobuf(self, doc: dict[str, Any]) -> bytes: ...

    def openapi_v3_index(self, crds: Sequence[Mapping[str, Any]]) -> dict[str, Any]: ...

    def openapi_v3(
        self, group_version: str, crds: Sequence[Mapping[str, Any]]
    ) -> dict[str, Any] | None: ...


class LogSource(Protocol):
    def __call__(
        self,
        pod: Pod,
        container: str,
        *,
        tail: int | None,
        follow: bool,
        previous: bool,
    ) -> AsyncIterator[str]: ...


@dataclass(frozen=True, slots=True)
class Hooks:
    """See the module docstring; every field is optional."""

    authenticate: Callable[[str], User | None] | None = None
    tokens: TokenIssuer | None = None
    authorizer: Authorizer | None = None
    table: TablePrinter | None = None
    openapi: OpenAPI | None = None
    logs: LogSource | None = None
    flush: Callable[[], None] | None = None
    attributes: Callable[..., Any] = AccessAttributes
    """Builds what `authorizer` reads from keyword arguments (verb, api_group,
    resource, subresource, namespace, name, path): `engine.rbac.Attributes`."""
