"""kube-proxy's rules and endpoint choice, without sockets."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.api.core import Service
from engine.api.discovery import EndpointSlice
from engine.clock import VirtualClock
from engine.manifests import parse_object
from runtime.network.proxier import NodeProxier
from runtime.network.proxyrules import Backend, build_rules, usable


def service(name: str = "web", **spec: Any) -> Service:
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }
    )
    assert isinstance(obj, Service)
    return obj


def endpoint_slice(
    endpoints: list[tuple[str, str, bool, bool, bool]],
    ports: list[dict[str, Any]],
    service_name: str = "web",
    name: str = "web-1",
) -> EndpointSlice:
    obj = parse_object(
        {
            "apiVersion": "discovery.k8s.io/v1",
            "kind": "EndpointSlice",
            "metadata": {
                "name": name,
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": service_name},
            },
            "addressType": "IPv4",
            "endpoints": [
                {
                    "addresses": [ip],
                    "nodeName": node,
                    "conditions": {"ready": ready, "serving": serving, "terminating": term},
                }
                for ip, node, ready, serving, term in endpoints
            ],
            "ports": ports,
        }
    )
    assert isinstance(obj, EndpointSlice)
    return obj


def test_frontends_of_a_load_balancer_service() -> None:
    svc = Service.model_validate(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "type": "LoadBalancer",
                "clusterIP": "127.96.0.5",
                "externalIPs": ["127.99.0.1"],
                "ports": [
                    {"name": "http", "port": 80, "targetPort": 8080, "nodePort": 30080},
                    {"name": "dns", "port": 53, "protocol": "UDP"},
                ],
            },
            "status": {"loadBalancer": {"ingress": [{"ip": "127.98.0.1"}]}},
        }
    )
    slices = [
        endpoint_slice(
            [("127.128.0.2", "n0", True, True, False)],
            [{"name": "http", "port": 8080}, {"name": "dns", "port": 5353, "protocol": "UDP"}],
        )
    ]
    rules = build_rules([svc], slices, {"n0": "127.16.0.1", "n1": "127.16.0.2"}, host_node="n0")
    assert set(rules) == {
        ("127.96.0.5", 80, "TCP"),
        ("127.96.0.5", 53, "UDP"),
        ("127.16.0.1", 30080, "TCP"),
        ("127.16.0.2", 30080, "TCP"),
        ("127.0.0.1", 30080, "TCP"),
        ("127.99.0.1", 80, "TCP"),
        ("127.99.0.1", 53, "UDP"),
        ("127.98.0.1", 80, "TCP"),
        ("127.98.0.1", 53, "UDP"),
    }
    assert rules[("127.96.0.5", 53, "UDP")].backends[0].port == 5353
    assert rules[("127.16.0.2", 30080, "TCP")].node == "n1"
    assert rules[("127.96.0.5", 80, "TCP")].internal
    assert not rules[("127.98.0.1", 80, "TCP")].internal


def test_headless_and_external_name_services_are_not_proxied() -> None:
    rules = build_rules(
        [
            service("headless", clusterIP="None", ports=[{"port": 80}]),
            service("ext", type="ExternalName", externalName="example.com"),
            service("unallocated", ports=[{"port": 80}]),
        ],
        [],
        {},
    )
    assert rules == {}


def test_ports_are_matched_by_name_and_protocol() -> None:
    svc = service(
        clusterIP="127.96.0.5", ports=[{"name": "a", "port": 1}, {"name": "b", "port": 2}]
    )
    slices = [
        endpoint_slice([("127.128.0.2", "n0", True, True, False)], [{"name": "b", "port": 9}])
    ]
    rules = build_rules([svc], slices, {})
    assert rules[("127.96.0.5", 1, "TCP")].backends == ()
    assert [b.port for b in rules[("127.96.0.5", 2, "TCP")].backends] == [9]


def backend(ip: str, node: str, ready: bool, serving: bool, terminating: bool) -> Backend:
    return Backend(ip, 80, node, ready, serving, terminating)


def test_terminating_endpoints_only_when_none_is_ready_and_local_policy() -> None:
    ready_n0 = backend("a", "n0", True, True, False)
    draining_n0 = backend("b", "n0", False, True, True)
    draining_n1 = backend("c", "n1", False, True, True)
    gone = backend("d", "n1", False, False, True)
    ready_n1 = backend("e", "n1", True, True, False)
    everything = [ready_n0, draining_n0, draining_n1, gone, ready_n1]
    assert usable(everything, "n0", local=False) == [ready_n0, ready_n1]
    assert usable([draining_n0, draining_n1, gone], "n0", local=False) == [
        draining_n0,
        draining_n1,
    ]
    assert usable(everything, "n1", local=True) == [ready_n1]
    assert usable([ready_n0, draining_n1, gone], "n1", local=True) == [draining_n1]
    assert usable([ready_n0], "n1", local=True) == []


@given(st.integers(min_value=2, max_value=6), st.integers(min_value=0, max_value=2**32))
def test_choice_is_uniform_enough_and_replays_with_the_seed(count: int, seed: int) -> None:
    svc = service(clusterIP="127.96.0.5", ports=[{"port": 80}])
    endpoints = [(f"127.128.0.{i + 2}", "n0", True, True, False) for i in range(count)]
    slices = [endpoint_slice(endpoints, [{"port": 8080}])]
    frontend = build_rules([svc], slices, {})[("127.96.0.5", 80, "TCP")]

    def picks() -> list[str]:
        proxier = NodeProxier("n0", clock=VirtualClock(), rng=random.Random(seed))
        chosen = [proxier.choose(frontend, "127.0.0.1") for _ in range(60 * count)]
        return [b.ip for b in chosen if b is not None]

    first = picks()
    assert first == picks()
    assert set(first) == {ip for ip, *_ in endpoints}


async def test_client_ip_affinity_holds_until_its_timeout_and_the_endpoint_goes(
    clock: VirtualClock,
) -> None:
    svc = service(
        clusterIP="127.96.0.5",
        sessionAffinity="ClientIP",
        sessionAffinityConfig={"clientIP": {"timeoutSeconds": 30}},
        ports=[{"port": 80}],
    )
    endpoints = [(f"127.128.0.{i}", "n0", True, True, False) for i in range(2, 12)]
    slices = [endpoint_slice(endpoints, [{"port": 8080}])]
    frontend = build_rules([svc], slices, {})[("127.96.0.5", 80, "TCP")]
    assert frontend.affinity_seconds == 30
    proxier = NodeProxier("n0", clock=clock, rng=random.Random(1))
    first = proxier.choose(frontend, "127.0.0.1")
    assert first is not None
    for _ in range(20):
        await clock.sleep(29)  # each use renews the entry
        assert proxier.choose(frontend, "127.0.0.1") == first
    others = {proxier.choose(frontend, f"127.0.0.{n}") for n in range(2, 30)}
    assert len(others) > 1  # other clients spread
    # Past the timeout the choice is made afresh.
    await clock.sleep(31)
    fresh = {proxier.choose(frontend, "127.0.0.1")}
    for _ in range(10):
        await clock.sleep(31)
        fresh.add(proxier.choose(frontend, "127.0.0.1"))
    assert len(fresh) > 1
    # A gone endpoint is never reused.
    first = proxier.choose(frontend, "127.0.0.1")
    assert first is not None
    without = [e for e in endpoints if e[0] != first.ip]
    frontend = build_rules([svc], [endpoint_slice(without, [{"port": 8080}])], {})[
        ("127.96.0.5", 80, "TCP")
    ]
    again = proxier.choose(frontend, "127.0.0.1")
    assert again is not None and again.ip != first.ip
