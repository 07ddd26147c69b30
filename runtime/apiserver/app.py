"""The API server: an aiohttp application on the cluster's event loop.

    server = ApiServer(store, hooks=Hooks(logs=...))
    endpoint = await server.start()          # Endpoint(url, token, ca_pem)
    ...
    await server.stop()

Why aiohttp: one well-kept asyncio library that is both server and client
(the tests and benchmarks use its client), streams responses chunk by chunk
with back-pressure (`StreamResponse.write` waits for the socket to drain,
which is what bounds a slow watcher), serves TLS from an `ssl.SSLContext`, and
runs inside an existing event loop (`AppRunner`/`TCPSite`) instead of owning
it, as uvicorn would. The store is synchronous and single-threaded, so every
handler runs on the loop that runs the cluster.

Every request but the health probes (`/healthz`, `/livez`, `/readyz`, which
Kubernetes also answers anonymously) needs `Authorization: Bearer <token>`;
anything else is 401 with a Status that says no more than "Unauthorized".
Impersonation headers (`kubectl --as`, `.impersonation`) may then change
who the request acts as. Then the authorization seam (`Hooks.authorizer`)
decides (403 with its message), then the route. The answer is JSON, or
protobuf for a client that accepts only that (`.negotiation`). Every error
is a `Status` (`runtime.apiserver.status`); an unexpected exception is
logged and answered 500 (the fuzz tests hold that bad input never gets one).

Neighbours: `.paths` (resource paths), `.discovery`, `.resources`,
`.watching`, `.patching`, `.subresources`, `.tls`, `.kubeconfig`, `.hooks`.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from aiohttp import web

from engine.errors import ApiError, BadRequest, Forbidden, InternalError, MethodNotAllowed, NotFound
from engine.openapi_proto import PROTOBUF_CONTENT_TYPE
from engine.selectors import InvalidSelector
from engine.store import Store
from runtime.apiserver import (
    discovery,
    patching,
    resources,
    reviews,
    subresources,
    tokens,
    watching,
)
from runtime.apiserver.context import USER_KEY, ApiContext, Limits
from runtime.apiserver.encoding import Query, dumps
from runtime.apiserver.hooks import ADMIN, Hooks, User
from runtime.apiserver.impersonation import impersonate
from runtime.apiserver.kubeconfig import Endpoint
from runtime.apiserver.negotiation import FORMAT_KEY, response_format, to_protobuf
from runtime.apiserver.paths import Target, parse_resource_path
from runtime.apiserver.status import Unauthorized, status_response
from runtime.apiserver.tls import Certificates, make_certificates

__all__ = ["ApiServer"]

log = structlog.get_logger("kubeloop.apiserver")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
READ_VERBS = {"GET": "get", "PUT": "update", "PATCH": "patch", "POST": "create", "DELETE": "delete"}


def _authenticate(request: web.Request, token: str, hooks: Hooks) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    given = given.strip()
    if scheme.lower() != "bearer" or not given:
        raise Unauthorized("Unauthorized")
    if hmac.compare_digest(given.encode(), token.encode()):
        return ADMIN
    if hooks.authenticate is not None:
        # The one place ServiceAccount tokens are checked (engine.satokens.authenticate).
        user = hooks.authenticate(given)
        if user is not None:
            return user
    raise Unauthorized("Unauthorized")


def _verb(request: web.Request, target: Target | None) -> str:
    method = request.method
    if target is None or method not in ("GET", "DELETE"):
        return READ_VERBS.get(method, method.lower())
    if method == "DELETE":
        return "delete" if target.name is not None else "deletecollection"
    if target.subresource is None and (target.watch_path or Query(request).flag("watch")):
        return "watch"
    return "get" if target.name is not None else "list"


def _authorize(request: web.Request, ctx: ApiContext, target: Target | None) -> None:
    if target is None:
        _authorize_attributes(request, ctx, _verb(request, None), "", "", "", "", "")
    else:
        _authorize_attributes(
            request,
            ctx,
            _verb(request, target),
            target.group,
            target.info.plural,
            target.subresource or "",
            target.namespace or "",
            target.name or "",
        )


def _authorize_attributes(
    request: web.Request,
    ctx: ApiContext,
    verb: str,
    api_group: str,
    resource: str,
    subresource: str,
    namespace: str,
    name: str,
) -> None:
    authorizer = ctx.hooks.authorizer
    if authorizer is None:
        return  # no RBAC plugged in: every authenticated user is cluster-admin
    user = request[USER_KEY]
    if user is ADMIN:
        return
    attrs = ctx.hooks.attributes(
        verb=verb,
        api_group=api_group,
        resource=resource,
        subresource=subresource,
        namespace=namespace,
        name=name,
        path=request.path,
    )
    # The one place requests are authorized (engine.rbac.Authorizer).
    decision = authorizer.authorize(user, attrs)
    if not decision.allowed:
        raise Forbidden(authorizer.forbidden_message(user, attrs))


class ApiServer:
    """See the module docstring."""

    def __init__(
        self,
        store: Store,
        *,
        hooks: Hooks | None = None,
        limits: Limits | None = None,
        address: str = "127.0.0.1",
        port: int = 0,
        tls: bool = True,
        token: str | None = None,
    ) -> None:
        self.store = store
        self.address = address
        self.port = port
        self.tls = tls
        # A bearer token is a secret: it comes from the OS's randomness, never
        # from the cluster's seeded RNG.
        self.token = token or secrets.token_urlsafe(32)
        self.context = ApiContext(store, hooks or Hooks(), limits or Limits(), token=self.token)
        self.certificates: Certificates | None = None
        self._runner: web.AppRunner | None = None
        self.endpoint: Endpoint | None = None

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> Endpoint:
        if self.endpoint is not None:
            return self.endpoint
        app = self.application()
        runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await runner.setup()
        ssl_context = None
        if self.tls:
            self.certificates = make_certificates([self.address])
            ssl_context = self.certificates.server_context()
        sock = socket.create_server((self.address, self.port), reuse_port=False)
        site = web.SockSite(runner, sock, ssl_context=ssl_context)
        await site.start()
        self._runner = runner
        host, port = sock.getsockname()[:2]
        self.port = port
        shown = f"[{host}]" if ":" in host else host
        self.context.server_address = f"{shown}:{port}"
        scheme = "https" if self.tls else "http"
        ca = self.certificates.ca_pem if self.certificates is not None else None
        self.endpoint = Endpoint(f"{scheme}://{shown}:{port}", self.token, ca)
        log.info("api_serving", url=self.endpoint.url)
        return self.endpoint

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        self.endpoint = None
        if runner is not None:
            await runner.cleanup()

    async def __aenter__(self) -> ApiServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- the application ---------------------------------------------------------

    def application(self) -> web.Application:
        # Bodies are read (and limited to 3 MiB) by the handlers themselves.
        app = web.Application(middlewares=[self._middleware], client_max_size=2**62)
        get = app.router.add_get
        get("/version", self._version, allow_head=False)
        get("/version/", self._version, allow_head=False)
        for probe in PUBLIC_PATHS:
            get(probe, _healthy, allow_head=False)
        get("/api", self._api_versions, allow_head=False)
        get("/api/", self._api_versions, allow_head=False)
        get("/apis", self._group_list, allow_head=False)
        get("/apis/", self._group_list, allow_head=False)
        get("/api/v1", self._core_resources, allow_head=False)
        get("/api/v1/", self._core_resources, allow_head=False)
        get("/apis/{group}", self._group, allow_head=False)
        get("/apis/{group}/{version}", self._group_resources, allow_head=False)
        get("/openapi/v2", self._openapi_v2, allow_head=False)
        get("/openapi/v3", self._openapi_v3_index, allow_head=False)
        get("/openapi/v3/{path:.+}", self._openapi_v3, allow_head=False)
        app.router.add_route("*", "/api/v1/{rest:.+}", self._core)
        app.router.add_route("*", "/apis/{group}/{version}/{rest:.+}", self._grouped)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        request[FORMAT_KEY] = "json"
        try:
            if request.path not in PUBLIC_PATHS:
                user = _authenticate(request, self.token, self.context.hooks)
                request[USER_KEY] = impersonate(request, user, self.context.hooks)
                if not request.path.startswith("/openapi/"):
                    request[FORMAT_KEY] = response_format(request)
            response = await handler(request)
            if self.context.hooks.flush is not None:
                self.context.hooks.flush()  # durable before the client hears of it
            if request[FORMAT_KEY] == "protobuf" and isinstance(response, web.Response):
                return to_protobuf(response)
            return response
        except ApiError as error:
            if request[FORMAT_KEY] == "protobuf":
                return to_protobuf(status_response(error))
            return status_response(error)
        except InvalidSelector as error:
            return status_response(BadRequest(str(error)))
        except web.HTTPNotFound:
            return status_response(NotFound("the server could not find the requested resource"))
        except web.HTTPMethodNotAllowed as error:
            return status_response(
                MethodNotAllowed(
                    f"the server does not allow this method ({error.method}) on "
                    "the requested resource"
                )
            )
        except web.HTTPException:
            raise
        except (ConnectionResetError, asyncio.CancelledError):
            raise
        except Exception:
            log.exception("api_internal_error", method=request.method, path=request.path)
            return status_response(InternalError("an internal error occurred"))

    # -- discovery -----------------------------------------------------------------

    async def _version(self, request: web.Request) -> web.Response:
        return _json(discovery.version_info())

    async def _api_versions(self, request: web.Request) -> web.Response:
        aggregated = _aggregated(request, self.store, core=True)
        if aggregated is not None:
            return aggregated
        return _json(discovery.api_versions(self.context.server_address))

    async def _group_list(self, request: web.Request) -> web.Response:
        aggregated = _aggregated(request, self.store, core=False)
        if aggregated is not None:
            return aggregated
        return _json(discovery.api_group_list(self.store.registry))

    async def _group(self, request: web.Request) -> web.Response:
        group = discovery.api_group(self.store.registry, request.match_info["group"])
        if group is None:
            raise NotFound("the server could not find the requested resource")
        return _json(group)

    async def _core_resources(self, request: web.Request) -> web.Response:
        listed = discovery.api_resource_list(self.store.registry, "", "v1")
        assert listed is not None  # the core group is always served
        return _json(listed)

    async def _group_resources(self, request: web.Request) -> web.Response:
        info = request.match_info
        listed = discovery.api_resource_list(self.store.registry, info["group"], info["version"])
        if listed is None:
            raise NotFound("the server could not find the requested resource")
        return _json(listed)

    # -- OpenAPI -----------------------------------------------------------------------

    def _crds(self) -> list[dict[str, Any]]:
        info = self.store.registry.lookup("apiextensions.k8s.io/v1", "CustomResourceDefinition")
        return [obj.to_dict() for obj in self.store.list(info.model).items]

    async def _openapi_v2(self, request: web.Request) -> web.Response:
        openapi = self.context.hooks.openapi
        if openapi is None:
            raise NotFound("OpenAPI documents are not served by this server")
        # The one place OpenAPI documents are made (engine.openapi).
        document = openapi.openapi_v2(self._crds())
        if "protobuf" in request.headers.get("Accept", ""):
            return web.Response(
                body=openapi.openapi_v2_protobuf(document),
                # kube-apiserver's spelling (a dot before v1.0): kubectl refuses the "@" form.
                headers={"Content-Type": PROTOBUF_CONTENT_TYPE},
            )
        return _json(document)

    async def _openapi_v3_index(self, request: web.Request) -> web.Response:
        openapi = self.context.hooks.openapi
        if openapi is None:
            raise NotFound("OpenAPI documents are not served by this server")
        return _json(openapi.openapi_v3_index(self._crds()))

    async def _openapi_v3(self, request: web.Request) -> web.Response:
        openapi = self.context.hooks.openapi
        if openapi is None:
            raise NotFound("OpenAPI documents are not served by this server")
        document = openapi.openapi_v3(request.match_info["path"], self._crds())
        if document is None:
            raise NotFound("the server could not find the requested resource")
        return _json(document)

    # -- resources -----------------------------------------------------------------------

    async def _core(self, request: web.Request) -> web.StreamResponse:
        rest = request.match_info["rest"].split("/")
        target = parse_resource_path(self.store.registry, "", "v1", rest)
        return await self._dispatch(request, target)

    async def _grouped(self, request: web.Request) -> web.StreamResponse:
        info = request.match_info
        group, version, rest = info["group"], info["version"], info["rest"].split("/")
        found = reviews.find_review(group, version, rest)
        if found is not None:
            return await self._review(request, *found)
        target = parse_resource_path(self.store.registry, group, version, rest)
        return await self._dispatch(request, target)

    async def _review(
        self, request: web.Request, review: reviews.Review, namespace: str
    ) -> web.StreamResponse:
        verb = _verb(request, None)
        _authorize_attributes(
            request, self.context, verb, review.group, review.resource, "", namespace, ""
        )
        if request.method != "POST":
            raise MethodNotAllowed(
                f"the server does not allow this method ({request.method}) on {review.resource}"
            )
        return await reviews.answer(self.context, request, review, namespace)

    async def _dispatch(self, request: web.Request, target: Target) -> web.StreamResponse:
        ctx = self.context
        _authorize(request, ctx, target)
        method = request.method
        sub = target.subresource
        if sub is None:
            if target.watch_path or (method == "GET" and Query(request).flag("watch")):
                if method != "GET":
                    raise MethodNotAllowed(f"{method} is not allowed on a watch")
                return await watching.watch(ctx, request, target)
            handler = (_COLLECTION if target.name is None else _OBJECT).get(method)
            if handler is None:
                raise MethodNotAllowed(
                    f"the server does not allow this method ({method}) on the requested resource"
                )
            return await handler(ctx, request, target)
        if target.name is None:
            raise NotFound("the server could not find the requested resource")
        if sub == "status" and target.info.has_status_subresource:
            handler = _STATUS.get(method)
        elif sub == "scale":
            handler = subresources.scale
        elif target.info.group == "" and target.info.plural == "serviceaccounts" and sub == "token":
            handler = tokens.token_request if method == "POST" else None
        elif target.info.group == "" and target.info.plural == "pods" and sub in _POD:
            wanted, handler = _POD[sub]
            if method != wanted:
                handler = None
        else:
            raise NotFound(
                f"the server could not find the requested resource ({target.info.plural}/{sub})"
            )
        if handler is None:
            raise MethodNotAllowed(
                f"the server does not allow this method ({method}) on {target.info.plural}/{sub}"
            )
        return await handler(ctx, request, target)


Route = Callable[[ApiContext, web.Request, Target], Awaitable[web.StreamResponse]]
_COLLECTION: dict[str, Route] = {
    "GET": resources.list_objects,
    "POST": resources.create,
    "DELETE": resources.delete_collection,
}
_OBJECT: dict[str, Route] = {
    "GET": resources.get,
    "PUT": resources.update,
    "PATCH": patching.patch,
    "DELETE": resources.delete,
}
_STATUS: dict[str, Route] = {
    "GET": resources.get,
    "PUT": resources.update,
    "PATCH": patching.patch,
}
_POD: dict[str, tuple[str, Route]] = {
    "binding": ("POST", subresources.binding),
    "eviction": ("POST", subresources.eviction),
    "log": ("GET", subresources.logs),
}


def _aggregated(request: web.Request, store: Store, *, core: bool) -> web.Response | None:
    """The aggregated discovery document, when the request asks for it."""
    media_type = discovery.aggregated_media_type(request.headers.get("Accept", ""))
    if media_type is None:
        return None
    document = discovery.aggregated_discovery(store.registry, media_type, core=core)
    return web.Response(body=dumps(document), headers={"Content-Type": media_type})


def _json(document: Any) -> web.Response:
    return web.Response(body=dumps(document), content_type="application/json")


async def _healthy(request: web.Request) -> web.Response:
    return web.Response(text="ok")
