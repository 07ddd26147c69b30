"""Service environment variables, as the kubelet gives them to containers."""

from __future__ import annotations

from typing import Any

from engine.api.core import Pod, Service
from engine.client import LocalClient
from engine.manifests import parse_object
from engine.quantity import Quantity
from engine.store import Store
from runtime.kubelet.containerconfig import container_config
from runtime.kubelet.serviceenv import service_environment, service_variables
from runtime.runtimes.protocol import ContainerConfig


def service(name: str, namespace: str = "default", **spec: Any) -> Service:
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )
    assert isinstance(obj, Service)
    return obj


def test_variables_of_a_service_with_named_and_udp_ports() -> None:
    redis = service(
        "redis-primary",
        clusterIP="10.0.0.11",
        ports=[
            {"name": "redis", "port": 6379},
            {"name": "dns-udp", "port": 53, "protocol": "UDP"},
        ],
    )
    assert service_variables(redis) == {
        "REDIS_PRIMARY_SERVICE_HOST": "10.0.0.11",
        "REDIS_PRIMARY_SERVICE_PORT": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_REDIS": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_DNS_UDP": "53",
        "REDIS_PRIMARY_PORT": "tcp://10.0.0.11:6379",
        "REDIS_PRIMARY_PORT_6379_TCP": "tcp://10.0.0.11:6379",
        "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
        "REDIS_PRIMARY_PORT_6379_TCP_ADDR": "10.0.0.11",
        "REDIS_PRIMARY_PORT_53_UDP": "udp://10.0.0.11:53",
        "REDIS_PRIMARY_PORT_53_UDP_PROTO": "udp",
        "REDIS_PRIMARY_PORT_53_UDP_PORT": "53",
        "REDIS_PRIMARY_PORT_53_UDP_ADDR": "10.0.0.11",
    }


def test_which_services_a_pod_gets() -> None:
    services = [
        service("kubernetes", clusterIP="10.96.0.1", ports=[{"name": "https", "port": 443}]),
        service("web", "shop", clusterIP="10.96.0.20", ports=[{"port": 80}]),
        service("other", "elsewhere", clusterIP="10.96.0.30", ports=[{"port": 80}]),
        service("headless", "shop", clusterIP="None", ports=[{"port": 80}]),
        service("ext", "shop", type="ExternalName", externalName="example.com"),
    ]
    env = service_environment(services, "shop", enable_service_links=True)
    assert env["WEB_SERVICE_HOST"] == "10.96.0.20"
    assert env["KUBERNETES_SERVICE_HOST"] == "10.96.0.1"
    assert env["KUBERNETES_SERVICE_PORT_HTTPS"] == "443"
    assert not any(k.startswith(("OTHER_", "HEADLESS_", "EXT_")) for k in env)
    # enableServiceLinks: false keeps only the master Service's variables.
    only_master = service_environment(services, "shop", enable_service_links=False)
    assert {k.split("_")[0] for k in only_master} == {"KUBERNETES"}
    # A Service named kubernetes in the pod's own namespace wins over the master one.
    own = service("kubernetes", "shop", clusterIP="10.96.0.99", ports=[{"port": 1}])
    assert service_environment([*services, own], "shop", True)["KUBERNETES_SERVICE_HOST"] == (
        "10.96.0.99"
    )


async def test_the_kubelet_puts_them_under_the_containers_own_env() -> None:
    store = Store()
    client = LocalClient(store)
    await client.create(service("web", clusterIP="10.96.0.20", ports=[{"port": 80}]))
    pod = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "namespace": "default"},
            "spec": {
                "containers": [
                    {
                        "name": "c",
                        "image": "x",
                        "env": [
                            {"name": "WEB_SERVICE_PORT", "value": "8080"},
                            {"name": "URL", "value": "http://$(WEB_SERVICE_HOST)/"},
                        ],
                    }
                ]
            },
        }
    )
    assert isinstance(pod, Pod)
    config = await container_config(
        client,
        pod,
        pod.spec.containers[0],
        init=False,
        attempt=0,
        pod_ip="10.244.0.5",
        host_ip="10.0.0.1",
        allocatable={"cpu": Quantity("1")},
    )
    assert isinstance(config, ContainerConfig)
    assert config.env["WEB_SERVICE_HOST"] == "10.96.0.20"
    assert config.env["WEB_SERVICE_PORT"] == "8080"  # the container's own value wins
    assert config.env["URL"] == "http://10.96.0.20/"
    assert config.env["WEB_PORT_80_TCP"] == "tcp://10.96.0.20:80"
