"""Service ClusterIP and NodePort allocation by the store (the Service REST storage)."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from engine.api.core import Service
from engine.errors import Invalid
from engine.serviceips import ServiceAllocator
from engine.store import Store


def service(name: str, **spec: Any) -> Service:
    spec.setdefault("ports", [{"port": 80}])
    spec.setdefault("selector", {"app": name})
    return Service.model_validate({"metadata": {"name": name}, "spec": spec})


def test_kubernetes_service_holds_the_first_address() -> None:
    store = Store()
    kube = store.get(Service, "kubernetes", "default")
    assert kube.spec.cluster_ip == "10.96.0.1"
    assert kube.spec.ports[0].port == 443
    assert kube.spec.ip_families == ["IPv4"]
    assert kube.spec.ip_family_policy == "SingleStack"


def test_cluster_ip_allocated_from_the_service_cidr_and_defaults() -> None:
    store = Store()
    created = store.create(service("web"))
    ip = ipaddress.ip_address(created.spec.cluster_ip or "")
    assert ip in ipaddress.ip_network("10.96.0.0/12")
    assert created.spec.cluster_ips == [created.spec.cluster_ip]
    assert created.spec.ip_families == ["IPv4"]
    assert created.spec.ip_family_policy == "SingleStack"


def test_configured_service_cidr() -> None:
    store = Store(service_cidr="10.100.0.0/24")
    assert store.get(Service, "kubernetes", "default").spec.cluster_ip == "10.100.0.1"
    ip = store.create(service("web")).spec.cluster_ip or ""
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.100.0.0/24")


def test_chosen_ip_honoured_then_refused_when_taken() -> None:
    store = Store()
    assert store.create(service("dns", clusterIP="10.96.0.10")).spec.cluster_ip == "10.96.0.10"
    with pytest.raises(Invalid, match="provided IP is already allocated"):
        store.create(service("other", clusterIP="10.96.0.10"))
    assert store.try_get(Service, "other") is None


def test_chosen_ip_out_of_range_refused() -> None:
    with pytest.raises(Invalid) as error:
        Store().create(service("web", clusterIP="192.168.0.5"))
    assert "the provided IP (192.168.0.5) is not in the valid range" in str(error.value)
    assert "The range of valid IPs is 10.96.0.0/12" in str(error.value)


def test_release_on_delete_makes_the_address_free() -> None:
    store = Store()
    store.create(service("a", clusterIP="10.96.0.20"))
    store.delete(Service, "a")
    assert store.create(service("b", clusterIP="10.96.0.20")).spec.cluster_ip == "10.96.0.20"


def test_headless_and_external_name() -> None:
    store = Store()
    headless = store.create(service("h", clusterIP="None"))
    assert headless.spec.cluster_ips == ["None"]
    assert headless.spec.ip_family_policy == "SingleStack"
    selectorless = store.create(service("hs", clusterIP="None", selector={}))
    assert selectorless.spec.ip_family_policy == "RequireDualStack"
    external = store.create(
        service("ext", type="ExternalName", externalName="db.example.com", ports=[])
    )
    assert external.spec.cluster_ip is None
    assert external.spec.ip_families == []


def test_cluster_ip_is_immutable_and_kept_when_omitted() -> None:
    store = Store()
    created = store.create(service("web"))
    again = store.update(service("web"))  # re-applied without clusterIP
    assert again.spec.cluster_ip == created.spec.cluster_ip
    changed = again.model_copy(
        update={
            "spec": again.spec.model_copy(
                update={"cluster_ip": "10.96.0.99", "cluster_ips": ["10.96.0.99"]}
            )
        }
    )
    with pytest.raises(Invalid, match="field is immutable"):
        store.update(changed)


def test_node_ports_allocated_honoured_and_conflicts_refused() -> None:
    store = Store()
    auto = store.create(service("a", type="NodePort"))
    port = auto.spec.ports[0].node_port
    assert port is not None and 30000 <= port <= 32767
    chosen = store.create(service("b", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    assert chosen.spec.ports[0].node_port == 30080
    with pytest.raises(Invalid, match="provided port is already allocated"):
        store.create(service("c", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
    with pytest.raises(Invalid, match="provided port is not in the valid range"):
        store.create(service("d", type="NodePort", ports=[{"port": 80, "nodePort": 8080}]))
    kept = store.update(service("a", type="NodePort"))
    assert kept.spec.ports[0].node_port == port
    store.delete(Service, "b")
    assert (
        store.create(service("e", type="NodePort", ports=[{"port": 80, "nodePort": 30080}]))
        .spec.ports[0]
        .node_port
        == 30080
    )


def test_changing_type_to_cluster_ip_releases_node_ports() -> None:
    store = Store()
    store.create(service("a", type="NodePort", ports=[{"port": 80, "nodePort": 30081}]))
    store.update(service("a", type="ClusterIP", ports=[{"port": 80}]))
    assert 30081 not in store.service_ips.allocated_ports()
    store.create(service("b", type="NodePort", ports=[{"port": 80, "nodePort": 30081}]))


def test_load_balancer_local_gets_a_health_check_node_port() -> None:
    store = Store()
    lb = store.create(service("lb", type="LoadBalancer", externalTrafficPolicy="Local"))
    assert lb.spec.health_check_node_port is not None
    assert lb.spec.ports[0].node_port is not None
    no_ports = store.create(
        service("lb2", type="LoadBalancer", allocateLoadBalancerNodePorts=False)
    )
    assert no_ports.spec.ports[0].node_port is None


def test_allocator_rebuilt_from_the_store_agrees() -> None:
    store = Store()
    for i in range(20):
        store.create(service(f"s{i}", type="NodePort" if i % 2 else "ClusterIP"))
    store.delete(Service, "s3")
    rebuilt = ServiceAllocator()
    rebuilt.rebuild(store.objects(Service))
    assert rebuilt.allocated_ips() == store.service_ips.allocated_ips()
    assert rebuilt.allocated_ports() == store.service_ips.allocated_ports()
    store.service_ips.rebuild(store.objects(Service))  # a restarted allocator
    taken = next(s for s in store.objects(Service) if s.metadata.name == "s4").spec.cluster_ip
    with pytest.raises(Invalid, match="already allocated"):
        store.create(service("x", clusterIP=taken))


def test_ipv6_family_refused() -> None:
    with pytest.raises(Invalid, match="ipFamilies"):
        Store().create(service("v6", ipFamilies=["IPv6"]))


def test_allocation_is_deterministic_per_seed() -> None:
    import random

    a = Store(rng=random.Random(7)).create(service("web")).spec.cluster_ip
    b = Store(rng=random.Random(7)).create(service("web")).spec.cluster_ip
    assert a == b


def test_a_service_cannot_become_headless_by_update() -> None:
    store = Store()
    created = store.create(service("web"))
    headless = created.model_copy(
        update={
            "spec": created.spec.model_copy(update={"cluster_ip": "None", "cluster_ips": ["None"]})
        }
    )
    with pytest.raises(Invalid, match="field is immutable"):
        store.update(headless)
