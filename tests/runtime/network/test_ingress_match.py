"""Ingress rule matching: hosts, wildcards, path types and precedence."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.api.networking import Ingress
from engine.manifests import parse_object
from runtime.network.ingress_match import IngressRoutes, host_matches, path_matches


def ingress(name: str, rules: list[dict[str, Any]], default: str | None = None) -> Ingress:
    spec: dict[str, Any] = {"rules": rules}
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    found = parse_object(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name, "namespace": "default"},
            "spec": spec,
        }
    )
    assert isinstance(found, Ingress)
    return found


def rule(host: str | None, *paths: tuple[str, str, str]) -> dict[str, Any]:
    value: dict[str, Any] = {
        "http": {
            "paths": [
                {
                    "path": path,
                    "pathType": kind,
                    "backend": {"service": {"name": to, "port": {"number": 80}}},
                }
                for path, kind, to in paths
            ]
        }
    }
    if host:
        value["host"] = host
    return value


def routed(routes: IngressRoutes, host: str, path: str) -> str | None:
    found = routes.match(host, path)
    if found is None or found[1].service is None:
        return None
    return found[1].service.name


def test_kubernetes_path_examples() -> None:
    # The table of the Ingress documentation's "Examples" section.
    cases = [
        ("Prefix", "/", "/", True),
        ("Prefix", "/", "/aaa/bbb", True),
        ("Exact", "/foo", "/foo", True),
        ("Exact", "/foo", "/bar", False),
        ("Exact", "/foo", "/foo/", False),
        ("Exact", "/foo/", "/foo", False),
        ("Prefix", "/foo", "/foo", True),
        ("Prefix", "/foo", "/foo/", True),
        ("Prefix", "/foo/", "/foo", True),
        ("Prefix", "/foo/", "/foo/", True),
        ("Prefix", "/aaa/bb", "/aaa/bbb", False),
        ("Prefix", "/aaa/bbb", "/aaa/bbb", True),
        ("Prefix", "/aaa/bbb/", "/aaa/bbb", True),
        ("Prefix", "/aaa/bbb", "/aaa/bbb/", True),
        ("Prefix", "/aaa/bbb", "/aaa/bbb/ccc", True),
        ("Prefix", "/aaa/bbb", "/aaa/bbbxyz", False),
    ]
    for kind, rule_path, path, expected in cases:
        assert path_matches(kind, rule_path, path) is expected, (kind, rule_path, path)


def test_precedence_longest_path_then_exact_then_host_specificity() -> None:
    routes = IngressRoutes.build(
        [
            ingress(
                "a",
                [
                    rule("foo.bar.com", ("/", "Prefix", "root"), ("/aaa", "Prefix", "aaa")),
                    rule("foo.bar.com", ("/aaa/bbb", "Prefix", "bbb")),
                    rule("foo.bar.com", ("/aaa", "Exact", "exact-aaa")),
                    rule("*.bar.com", ("/", "Prefix", "wild")),
                    rule(None, ("/", "Prefix", "any")),
                ],
                default="fallback",
            )
        ]
    )
    assert routed(routes, "foo.bar.com", "/aaa/bbb/ccc") == "bbb"
    assert routed(routes, "foo.bar.com", "/aaa") == "exact-aaa"
    assert routed(routes, "foo.bar.com", "/aaa/x") == "aaa"
    assert routed(routes, "FOO.bar.com:8080", "/zzz") == "root"
    assert routed(routes, "baz.bar.com", "/") == "wild"
    assert routed(routes, "bar.com", "/") == "any"
    assert routed(routes, "a.baz.bar.com", "/") == "any"
    only_default = IngressRoutes.build([ingress("b", [], default="fallback")])
    assert routed(only_default, "x", "/") == "fallback"
    assert IngressRoutes.build([]).match("x", "/") is None


def test_wildcard_hosts_cover_exactly_one_label() -> None:
    assert host_matches("*.foo.com", "bar.foo.com")
    assert not host_matches("*.foo.com", "baz.bar.foo.com")
    assert not host_matches("*.foo.com", "foo.com")
    assert host_matches("Foo.com", "foo.COM")


segments = st.lists(st.sampled_from(["a", "b", "ab", "x1"]), min_size=0, max_size=4)


@given(segments, segments, st.booleans())
def test_prefix_matches_by_whole_path_elements(
    rule_parts: list[str], path_parts: list[str], trailing: bool
) -> None:
    rule_path = "/" + "/".join(rule_parts) + ("/" if trailing and rule_parts else "")
    path = "/" + "/".join(path_parts)
    expected = path_parts[: len(rule_parts)] == rule_parts
    assert path_matches("Prefix", rule_path, path) is expected
