"""`IngressController`: Ingresses of the `kubeloop` class served by a real HTTP reverse proxy.

It serves the Ingresses whose `ingressClassName` (or legacy
`kubernetes.io/ingress.class` annotation) is its class (`kubeloop` by
default) or names an IngressClass whose `spec.controller` is
`kubeloop.io/ingress-controller`; an Ingress with no class is served when
such a class is the default one (annotation
`ingressclass.kubernetes.io/is-default-class: "true"`).

Requests are routed by `runtime.network.ingress_match` (host, then path,
with Kubernetes' precedence). The backend Service port (by number or name)
is resolved to its endpoints through the EndpointSlices, and one ready
endpoint (serving terminating ones only when none is ready) is picked at
random from the injected RNG, as ingress-nginx balances over endpoints
rather than the ClusterIP. No rule matches: 404; a backend with no usable
endpoint (or a missing Service or port): 503; an endpoint that fails: 502.

The proxy (aiohttp server and client): request bodies are streamed to the
endpoint and response bodies back (a response of at most 64 KiB with a
Content-Length is read whole and sent with its headers in one write),
connections to clients and to endpoints are kept alive, hop-by-hop headers
are dropped, `Host` is passed on, and `X-Forwarded-For` (appended),
`X-Forwarded-Proto`, `X-Forwarded-Host`, `X-Forwarded-Port` and `X-Real-IP`
are set. HTTPS is served with the `kubernetes.io/tls` Secrets
named in the Ingresses' `tls` sections, chosen by SNI (a `tls.hosts` entry
may be a `*.` wildcard); a client without SNI, or with a name no entry
covers, gets the first certificate (ingress-nginx would show its default
one); with no TLS Secret at all the handshake fails.

It listens on `address` (loopback by default), HTTP on `port` and HTTPS on
`tls_port` (0: chosen at start), and writes every served Ingress's
`status.loadBalancer.ingress` as `[{ip: address, ports: [{port, protocol:
TCP}, {port: tls_port, protocol: TCP}]}]`.

Neighbours: `runtime.network.ingress_match`, `runtime.network.proxyrules`
(endpoint choice), `runtime.network.plane`.
"""

from __future__ import annotations

import asyncio
import random
import ssl
import tempfile
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict
from yarl import URL

from engine.api.core import Secret, Service
from engine.api.discovery import EndpointSlice
from engine.api.networking import (
    Ingress,
    IngressBackend,
    IngressClass,
    IngressLoadBalancerIngress,
    IngressLoadBalancerStatus,
    IngressPortStatus,
    IngressStatus,
)
from engine.client import Client
from engine.errors import ApiError
from engine.informer import EventHandler, InformerFactory
from engine.logging import get_logger
from runtime.network.dnsserver import SLICE_INDEX
from runtime.network.hostaddresses import HostAddresses
from runtime.network.ingress_match import IngressRoutes, host_matches
from runtime.network.proxyrules import index_by_service_name, service_backends, usable

__all__ = ["CONTROLLER_NAME", "IngressController"]

CONTROLLER_NAME = "kubeloop.io/ingress-controller"
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
HOP_BY_HOP = frozenset(
    h.lower()
    for h in (
        "Connection",
        "Keep-Alive",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Connection",
        "TE",
        "Trailer",
        "Transfer-Encoding",
        "Upgrade",
    )
)

SMALL_BODY = 64 * 1024
"""Responses up to this size (with a Content-Length) are read whole and sent
in one write; larger or chunked ones are streamed."""

log = get_logger("network.ingress")


class IngressController:
    """See the module docstring."""

    def __init__(
        self,
        factory: InformerFactory,
        client: Client,
        *,
        address: str,
        port: int,
        tls_port: int,
        ingress_class: str,
        addresses: HostAddresses,
        rng: random.Random,
    ) -> None:
        self.client = client
        self.address = address
        self.port = port
        self.tls_port = tls_port
        self.ingress_class = ingress_class
        self.addresses = addresses
        self.rng = rng
        self.ingresses = factory.informer(Ingress)
        self.classes = factory.informer(IngressClass)
        self.services = factory.informer(Service)
        self.slices = factory.informer(EndpointSlice)
        self.slices.add_indexer(SLICE_INDEX, index_by_service_name)
        self.secrets = factory.informer(Secret)
        self._routes: IngressRoutes | None = None
        self._dirty = asyncio.Event()
        handler: EventHandler[Any] = EventHandler(
            add=lambda _: self._changed(),
            update=lambda _, __: self._changed(),
            delete=lambda _: self._changed(),
        )
        self.ingresses.add_event_handler(handler)
        self.classes.add_event_handler(handler)
        self._runner: web.ServerRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._contexts: dict[tuple[str, str, str], ssl.SSLContext] = {}
        self._keys = tempfile.TemporaryDirectory(prefix="kubeloop-ingress-tls-")

    def _changed(self) -> None:
        self._routes = None
        self._dirty.set()

    # -- which Ingresses ----------------------------------------------------------

    def handles(self, ingress: Ingress) -> bool:
        classes = self.classes.cache.list()
        ours = {self.ingress_class}
        ours.update(c.metadata.name for c in classes if c.spec.controller == CONTROLLER_NAME)
        name = ingress.spec.ingress_class_name or ingress.metadata.annotations.get(
            LEGACY_CLASS_ANNOTATION
        )
        if name:
            return name in ours
        return any(
            c.metadata.annotations.get(DEFAULT_CLASS_ANNOTATION) == "true"
            and c.metadata.name in ours
            for c in classes
        )

    def served(self) -> list[Ingress]:
        return [i for i in self.ingresses.cache.list() if self.handles(i)]

    def routes(self) -> IngressRoutes:
        if self._routes is None:
            self._routes = IngressRoutes.build(self.served())
        return self._routes

    # -- lifecycle ------------------------------------------------------------------

    async def start(self) -> None:
        await self.addresses.ensure(self.address)
        server = web.Server(self._handle, access_log=None)
        self._runner = web.ServerRunner(server, access_log=None)
        await self._runner.setup()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, keepalive_timeout=60),
            auto_decompress=False,
            # A proxy keeps no cookies: one client's Set-Cookie must never
            # ride on another client's request.
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept-Encoding", "Accept"),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=10),
        )
        site = web.TCPSite(self._runner, self.address, self.port)
        await site.start()
        self.port = _bound_port(site)
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.sni_callback = self._sni
        tls_site = web.TCPSite(self._runner, self.address, self.tls_port, ssl_context=tls)
        await tls_site.start()
        self.tls_port = _bound_port(tls_site)

    async def aclose(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None
        self._keys.cleanup()

    async def run(self) -> None:
        """Keep the served Ingresses' status written, until cancelled."""
        await self.ingresses.wait_for_sync()
        await self.classes.wait_for_sync()
        while True:
            self._dirty.clear()
            await self._write_statuses()
            await self._dirty.wait()

    def status(self) -> IngressStatus:
        ports = [
            IngressPortStatus(port=self.port, protocol="TCP"),
            IngressPortStatus(port=self.tls_port, protocol="TCP"),
        ]
        entry = IngressLoadBalancerIngress(ip=self.address, ports=ports)
        return IngressStatus(load_balancer=IngressLoadBalancerStatus(ingress=[entry]))

    async def _write_statuses(self) -> None:
        wanted = self.status()
        for ingress in self.served():
            if ingress.status == wanted:
                continue
            try:
                await self.client.update_status(ingress.model_copy(update={"status": wanted}))
            except ApiError as error:  # a newer version is on its way: written then
                log.debug("ingress status not written", ingress=ingress.metadata.name, error=error)

    # -- TLS --------------------------------------------------------------------------

    def _sni(self, sslobj: ssl.SSLObject, server_name: str | None, _: ssl.SSLContext) -> int | None:
        context = self._context_for(server_name)
        if context is None:
            return ssl.ALERT_DESCRIPTION_UNRECOGNIZED_NAME
        sslobj.context = context
        return None

    def _context_for(self, server_name: str | None) -> ssl.SSLContext | None:
        first: ssl.SSLContext | None = None
        for ingress in self.served():
            for tls in ingress.spec.tls:
                if not tls.secret_name:
                    continue
                context = self._load(ingress.metadata.namespace, tls.secret_name)
                if context is None:
                    continue
                if server_name and any(host_matches(h, server_name) for h in tls.hosts):
                    return context
                first = first or context
        return first

    def _load(self, namespace: str, name: str) -> ssl.SSLContext | None:
        secret = self.secrets.cache.get(name, namespace)
        if secret is None or secret.type != "kubernetes.io/tls":
            return None
        key = (namespace, name, secret.metadata.resource_version or "")
        context = self._contexts.get(key)
        if context is not None:
            return context
        folder = Path(self._keys.name)
        cert, private = folder / f"{namespace}_{name}.crt", folder / f"{namespace}_{name}.key"
        try:
            cert.write_bytes(secret.decoded("tls.crt"))
            private.touch(mode=0o600)
            private.write_bytes(secret.decoded("tls.key"))
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, private)
        except (KeyError, ValueError, ssl.SSLError, OSError) as error:
            log.warning("bad TLS secret", secret=f"{namespace}/{name}", error=str(error))
            return None
        finally:
            private.unlink(missing_ok=True)
            cert.unlink(missing_ok=True)
        self._contexts[key] = context
        return context

    # -- proxying -----------------------------------------------------------------------

    def target(self, namespace: str, backend: IngressBackend) -> tuple[str, int] | None:
        """An endpoint of the backend's Service port, or None (503)."""
        ref = backend.service
        if ref is None:
            return None
        service = self.services.cache.get(ref.name, namespace)
        if service is None:
            return None
        wanted = ref.port
        port = next(
            (
                p
                for p in service.spec.ports
                if wanted is None
                or (wanted.number is not None and p.port == wanted.number)
                or (wanted.name is not None and p.name == wanted.name)
            ),
            None,
        )
        if port is None or port.protocol != "TCP":
            return None
        slices = self.slices.cache.by_index(SLICE_INDEX, f"{namespace}/{ref.name}")
        candidates = usable(service_backends(port.name or "", "TCP", slices), None, False)
        if not candidates:
            return None
        chosen = candidates[self.rng.randrange(len(candidates))]
        return (chosen.ip, chosen.port)

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        match = self.routes().match(host, request.rel_url.path)
        if match is None:
            return web.Response(status=404, text="404 Not Found: no Ingress rule matches\n")
        target = self.target(*match)
        if target is None or self._session is None:
            return web.Response(status=503, text="503 Service Unavailable: no ready endpoint\n")
        headers = CIMultiDict(
            (k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP
        )
        peer = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        headers["X-Real-IP"] = peer
        headers["X-Forwarded-Proto"] = request.scheme
        headers["X-Forwarded-Host"] = host
        headers["X-Forwarded-Port"] = str(self.tls_port if request.secure else self.port)
        url = URL.build(scheme="http", host=target[0], port=target[1], encoded=True).join(
            URL(request.raw_path, encoded=True)
        )
        data = request.content if request.body_exists else None
        try:
            async with self._session.request(
                request.method, url, headers=headers, data=data, allow_redirects=False
            ) as upstream:
                length = upstream.content_length
                if length is not None and length <= SMALL_BODY and request.method != "HEAD":
                    # A small body goes out with its headers, in one write.
                    small = web.Response(
                        status=upstream.status, reason=upstream.reason, body=await upstream.read()
                    )
                    _copy_headers(upstream, small)
                    return small
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                _copy_headers(upstream, response)
                if length is not None and upstream.status not in (204, 304):
                    response.content_length = length
                await response.prepare(request)
                async for chunk in upstream.content.iter_any():
                    await response.write(chunk)
                await response.write_eof()
                return response
        except (aiohttp.ClientError, OSError) as error:
            return web.Response(status=502, text=f"502 Bad Gateway: {error}\n")


def _copy_headers(upstream: aiohttp.ClientResponse, response: web.StreamResponse) -> None:
    for name, value in upstream.headers.items():
        if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
            response.headers.add(name, value)


def _bound_port(site: web.TCPSite) -> int:
    server = site._server
    assert isinstance(server, asyncio.Server)
    return int(server.sockets[0].getsockname()[1])
