"""Cluster DNS: the records (pure) and the server answering over UDP and TCP."""

from __future__ import annotations

from typing import Any

import anyio
import dns.asyncquery
import dns.message
import dns.rcode
import dns.rdatatype

from engine.api.core import Pod, Service
from engine.client import LocalClient
from engine.clock import RealClock
from engine.informer import InformerFactory
from engine.manifests import parse_object
from engine.store import Store
from runtime.network.config import LOOPBACK_SERVICE_CIDR
from runtime.network.dnsrecords import ClusterRecords
from runtime.network.dnsserver import ClusterDNS
from runtime.network.hostaddresses import HostAddresses
from tests.runtime.network.netfixtures import eventually


def obj(manifest: dict[str, Any]) -> Any:
    return parse_object(manifest)


def svc(name: str, **spec: Any) -> Service:
    found = obj(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }
    )
    assert isinstance(found, Service)
    return found


def endpoints(service: str, items: list[dict[str, Any]], ports: list[dict[str, Any]]) -> Any:
    return obj(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": f"{service}-x",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": service},
            },
            "addressType": "IPv4",
            "endpoints": items,
            "ports": ports,
        }
    )


def pod(name: str, ip: str) -> Pod:
    found = obj(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"containers": [{"name": "c", "image": "x"}]},
            "status": {"podIP": ip},
        }
    )
    assert isinstance(found, Pod)
    return found


SERVICES = [
    svc("web", clusterIP="127.96.0.5", ports=[{"name": "http", "port": 80}]),
    svc("nginx", clusterIP="None", ports=[{"name": "web", "port": 80}]),
    svc("ext", type="ExternalName", externalName="example.com"),
]
SLICES = [
    endpoints(
        "nginx",
        [
            {"addresses": ["127.128.0.2"], "hostname": "web-0", "conditions": {"ready": True}},
            {"addresses": ["127.128.0.3"], "hostname": "web-1", "conditions": {"ready": True}},
            {"addresses": ["127.128.0.4"], "hostname": "web-2", "conditions": {"ready": False}},
        ],
        [{"name": "web", "port": 8080}],
    )
]
PODS = [pod("web-0", "127.128.0.2")]


def answers(name: str, qtype: str) -> tuple[bool, list[tuple[str, str]]]:
    answer = ClusterRecords.of("cluster.local", SERVICES, SLICES, PODS).lookup(name, qtype)
    return answer.exists, [(r.type, r.data) for r in answer.records]


def test_service_headless_statefulset_srv_and_pod_records() -> None:
    assert answers("web.default.svc.cluster.local.", "A") == (True, [("A", "127.96.0.5")])
    assert answers("WEB.Default.svc.cluster.local", "AAAA") == (True, [])  # NODATA
    assert answers("nginx.default.svc.cluster.local.", "A") == (
        True,
        [("A", "127.128.0.2"), ("A", "127.128.0.3")],  # the not-ready one is left out
    )
    assert answers("web-0.nginx.default.svc.cluster.local.", "A") == (
        True,
        [("A", "127.128.0.2")],
    )
    assert answers("web-2.nginx.default.svc.cluster.local.", "A")[0] is False
    assert answers("_http._tcp.web.default.svc.cluster.local.", "SRV") == (
        True,
        [("SRV", "0 100 80 web.default.svc.cluster.local.")],
    )
    assert answers("_web._tcp.nginx.default.svc.cluster.local.", "SRV") == (
        True,
        [
            ("SRV", "0 100 8080 web-0.nginx.default.svc.cluster.local."),
            ("SRV", "0 100 8080 web-1.nginx.default.svc.cluster.local."),
        ],
    )
    assert answers("ext.default.svc.cluster.local.", "A") == (True, [("CNAME", "example.com.")])
    assert answers("127-128-0-2.default.pod.cluster.local.", "A") == (
        True,
        [("A", "127.128.0.2")],
    )
    assert answers("127-128-0-9.default.pod.cluster.local.", "A")[0] is False
    assert answers("nothing.default.svc.cluster.local.", "A")[0] is False
    outside = ClusterRecords.of("cluster.local", [], [], []).lookup("example.com.", "A")
    assert not outside.authoritative


async def test_the_server_answers_over_udp_and_tcp() -> None:
    store = Store(service_cidr=LOOPBACK_SERVICE_CIDR)
    for item in [*SERVICES, *SLICES]:
        store.create(item)
    clock = RealClock()
    factory = InformerFactory(LocalClient(store), clock=clock)
    server = ClusterDNS(
        factory,
        address="127.0.0.1",
        port=0,
        domain="cluster.local",
        addresses=HostAddresses("loopback"),
    )
    await server.start()
    try:
        async with anyio.create_task_group() as group:
            factory.start(group)
            await factory.wait_for_sync()
            query = dns.message.make_query("web.default.svc.cluster.local.", "A")
            reply = await dns.asyncquery.udp(query, "127.0.0.1", port=server.port, timeout=5)
            assert reply.rcode() == dns.rcode.NOERROR
            assert [r.to_text() for r in reply.answer[0]] == ["127.96.0.5"]
            srv = dns.message.make_query("_web._tcp.nginx.default.svc.cluster.local.", "SRV")
            reply = await dns.asyncquery.tcp(srv, "127.0.0.1", port=server.port, timeout=5)
            assert len(reply.answer[0]) == 2
            missing = dns.message.make_query("gone.default.svc.cluster.local.", "A")
            reply = await dns.asyncquery.udp(missing, "127.0.0.1", port=server.port, timeout=5)
            assert reply.rcode() == dns.rcode.NXDOMAIN
            # A Service created later is answered once the informer has it.
            store.create(svc("late", clusterIP="127.96.0.6", ports=[{"port": 1}]))
            late = dns.message.make_query("late.default.svc.cluster.local.", "A")

            async def resolves() -> bool:
                got = await dns.asyncquery.udp(late, "127.0.0.1", port=server.port, timeout=5)
                return got.rcode() == dns.rcode.NOERROR

            await eventually(resolves)
            group.cancel_scope.cancel()
    finally:
        await server.aclose()
