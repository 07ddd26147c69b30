"""The process network's configuration and address plan."""

from __future__ import annotations

import pytest

from runtime.network.config import (
    ProcessNetworkConfig,
    loopback_node_address,
    loopback_pod_cidr,
)
from runtime.network.netns import resolv_conf
from runtime.network.podnetwork import loopback_address


def test_loopback_address_plan() -> None:
    assert loopback_pod_cidr(0) == "127.128.0.0/24"
    assert loopback_pod_cidr(257) == "127.129.1.0/24"
    assert loopback_node_address(0) == "127.16.0.1"
    assert loopback_node_address(300) == "127.16.1.45"
    with pytest.raises(ValueError, match="at most 32768 nodes"):
        loopback_pod_cidr(32768)
    assert loopback_address("127.128.0.7") == "127.128.0.7"
    assert loopback_address("10.1.2.3") == "127.1.2.3"
    with pytest.raises(ValueError, match="not an IPv4 address"):
        loopback_address("fd00::1")


def test_bad_settings_are_refused_with_their_name() -> None:
    with pytest.raises(ValueError, match="network mode must be"):
        ProcessNetworkConfig(mode="bridge")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="dns_port must be within"):
        ProcessNetworkConfig(dns_port=70000)
    with pytest.raises(ValueError, match="ingress_address must be an IPv4 address, got 'x'"):
        ProcessNetworkConfig(ingress_address="x")
    with pytest.raises(ValueError, match="not a loopback address"):
        ProcessNetworkConfig(ingress_address="10.0.0.1")
    assert ProcessNetworkConfig().resolved_dns_address == "127.0.0.10"
    assert ProcessNetworkConfig(mode="namespaces").resolved_dns_address == "169.254.20.10"


def test_pod_resolv_conf_has_the_cluster_first_search_path() -> None:
    assert resolv_conf("shop", "169.254.20.10", "cluster.local") == (
        "search shop.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 169.254.20.10\noptions ndots:5\n"
    )
