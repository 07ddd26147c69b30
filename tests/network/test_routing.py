"""kube-proxy's endpoint choice and Ingress rule matching as pure functions."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from controllers.common.ingressmatch import host_matches, match, path_matches
from controllers.common.routing import (
    Backend,
    ClientIPAffinity,
    service_backends,
    usable_backends,
)
from engine.api import Service
from engine.api.discovery import EndpointSlice
from engine.api.networking import Ingress


def backend(
    ip: str, *, ready: bool = True, serving: bool = True, term: bool = False, node: str = "n1"
) -> Backend:
    return Backend(ip=ip, port=80, ready=ready, serving=serving, terminating=term, node=node)


def test_ready_endpoints_else_serving_terminating_else_refused() -> None:
    a, b = backend("1"), backend("2", ready=False, serving=True, term=True)
    assert usable_backends([a, b]) == [a]
    c = backend("3", ready=False, serving=False, term=True)
    assert usable_backends([b, c]) == [b]
    assert usable_backends([c, backend("4", ready=False, serving=False)]) == []


def test_local_policy_only_uses_endpoints_on_the_node() -> None:
    here, there = backend("1", node="n1"), backend("2", node="n2")
    assert usable_backends([here, there], node="n1", local=True) == [here]
    assert usable_backends([there], node="n1", local=True) == []  # dropped, not sent elsewhere


def test_client_ip_affinity_sticks_until_timeout_or_endpoint_gone() -> None:
    rng = random.Random(1)
    backends = [backend(str(i)) for i in range(10)]
    affinity = ClientIPAffinity(timeout=10)
    first = affinity.pick("c", backends, 0.0, rng)
    assert all(affinity.pick("c", backends, t, rng) == first for t in (1.0, 5.0, 14.0))
    assert first is not None
    rest = [b for b in backends if b != first]
    assert affinity.pick("c", rest, 15.0, rng) in rest


def test_service_backends_by_port_name() -> None:
    service = Service.model_validate(
        {
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "selector": {"a": "b"},
                "ports": [{"name": "http", "port": 80}, {"name": "m", "port": 9}],
            },
        }
    )
    slice_ = EndpointSlice.model_validate(
        {
            "metadata": {
                "name": "web-1",
                "namespace": "default",
                "labels": {"kubernetes.io/service-name": "web"},
            },
            "addressType": "IPv4",
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            "endpoints": [{"addresses": ["10.0.0.1"], "conditions": {"ready": True}}],
        }
    )
    assert [(b.ip, b.port) for b in service_backends(service, [slice_], "http")] == [
        ("10.0.0.1", 8080)
    ]
    assert service_backends(service, [slice_], 80)[0].port == 8080
    assert service_backends(service, [slice_], "m") == []
    assert service_backends(service, [slice_], 443) == []


def ingress(spec: dict[str, Any]) -> Ingress:
    return Ingress.model_validate({"metadata": {"name": "i", "namespace": "default"}, "spec": spec})


def svc(name: str) -> dict[str, Any]:
    return {"service": {"name": name, "port": {"number": 80}}}


def test_paths_longest_match_and_exact_over_prefix() -> None:
    ing = ingress(
        {
            "rules": [
                {
                    "http": {
                        "paths": [
                            {"path": "/", "pathType": "Prefix", "backend": svc("root")},
                            {"path": "/foo", "pathType": "Prefix", "backend": svc("foo")},
                            {"path": "/foo", "pathType": "Exact", "backend": svc("foo-exact")},
                            {"path": "/foo/bar/", "pathType": "Prefix", "backend": svc("bar")},
                            {
                                "path": "/img",
                                "pathType": "ImplementationSpecific",
                                "backend": svc("img"),
                            },
                        ]
                    }
                }
            ]
        }
    )

    def to(path: str) -> str | None:
        b = match(ing, "x", path)
        return b.service.name if b is not None and b.service is not None else None

    assert to("/foo") == "foo-exact"
    assert to("/foo/") == "foo"
    assert to("/foobar") == "root"
    assert to("/foo/bar") == "bar"
    assert to("/foo/bar/baz") == "bar"
    assert to("/img/a.png") == "img"
    assert to("/other") == "root"


def test_hosts_exact_over_wildcard_over_any_and_default_backend() -> None:
    ing = ingress(
        {
            "defaultBackend": svc("default"),
            "rules": [
                {
                    "host": "foo.bar.com",
                    "http": {
                        "paths": [{"path": "/a", "pathType": "Prefix", "backend": svc("exact")}]
                    },
                },
                {
                    "host": "*.bar.com",
                    "http": {
                        "paths": [{"path": "/", "pathType": "Prefix", "backend": svc("wild")}]
                    },
                },
                {"http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": svc("any")}]}},
            ],
        }
    )

    def to(host: str, path: str = "/") -> str | None:
        b = match(ing, host, path)
        return b.service.name if b is not None and b.service is not None else None

    assert to("foo.bar.com", "/a/b") == "exact"
    assert to("FOO.bar.com:8080", "/a") == "exact"
    assert to("foo.bar.com", "/z") == "default"  # that host's rules only
    assert to("baz.bar.com") == "wild"
    assert to("a.b.bar.com") == "any"  # a wildcard covers one label
    assert to("bar.com") == "any"
    no_default = ingress(
        {
            "rules": [
                {
                    "host": "x.com",
                    "http": {"paths": [{"path": "/", "pathType": "Exact", "backend": svc("x")}]},
                }
            ]
        }
    )
    assert match(no_default, "x.com", "/y") is None  # 404


def test_host_matching() -> None:
    assert host_matches("*.foo.com", "bar.foo.com")
    assert not host_matches("*.foo.com", "foo.com")
    assert not host_matches("*.foo.com", "baz.bar.foo.com")
    assert host_matches(None, "anything")


@given(st.lists(st.sampled_from(["a", "b", "ab", "c"]), min_size=1, max_size=4), st.booleans())
def test_prefix_matches_exactly_the_element_prefixes(parts: list[str], slash: bool) -> None:
    path = "/" + "/".join(parts) + ("/" if slash else "")
    for k in range(1, len(parts) + 1):
        assert path_matches("Prefix", "/" + "/".join(parts[:k]), path) is not None
        assert path_matches("Prefix", "/" + "/".join(parts[:k]) + "/", path) is not None
    assert path_matches("Prefix", "/" + "/".join(parts) + "x", path) is None
