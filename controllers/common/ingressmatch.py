"""Kubernetes' Ingress rule matching as a pure function, for every ingress
data plane (the simulated traffic router, the process runtime's proxy).

`match(ingress, host, path)` returns the backend a request goes to, or None
(404). As the Ingress API documents it:

- Hosts: a rule without `host` matches every host; `foo.bar.com` matches
  exactly (case-insensitive, a `:port` suffix of the request's Host ignored);
  `*.bar.com` matches one DNS label in place of `*` (`baz.bar.com`, not
  `bar.com` nor `a.b.bar.com`). A request whose host some rule names exactly
  is routed by the rules of that host only; else, if a wildcard rule matches
  it, by the wildcard rules; else by the rules without host (ingress-nginx's
  server blocks: a host's server never falls through to the catch-all).
- Paths: `Exact` matches the path exactly (case-sensitive); `Prefix` matches
  by path element, with a trailing slash ignored (`/foo` matches `/foo`,
  `/foo/`, `/foo/bar`, not `/foobar`; `/` matches everything);
  `ImplementationSpecific` is treated as `Prefix` (as ingress-nginx does for
  plain paths). Among the matching paths of the chosen rules the longest
  wins, and on a tie `Exact` beats `Prefix`; on a further tie the first
  listed.
- No rule path matches: `spec.defaultBackend` if set, else None (404).

Neighbours: `controllers.common.routing` (what happens at the backend Service).
"""

from __future__ import annotations

from engine.api.networking import Ingress as IngressObject
from engine.api.networking import IngressBackend

__all__ = ["host_matches", "match", "path_matches"]


def _normal_host(host: str | None) -> str:
    if not host:
        return ""
    host = host.strip().lower()
    if host.startswith("["):  # an IPv6 literal with a port
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_matches(rule_host: str | None, host: str) -> bool:
    if not rule_host:
        return True
    rule_host = rule_host.lower()
    if rule_host.startswith("*."):
        suffix = rule_host[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and len(host) > len(suffix)
    return rule_host == host


def path_matches(path_type: str, rule_path: str | None, path: str) -> int | None:
    """The length of the match (for precedence), or None."""
    rule_path = rule_path or "/"
    if path_type == "Exact":
        return len(rule_path) if path == rule_path else None
    # Prefix and ImplementationSpecific: element-wise, trailing slash ignored.
    prefix = rule_path.rstrip("/")
    if not prefix:
        return 1
    if path == prefix or path.startswith(prefix + "/"):
        return len(prefix)
    return None


def match(ingress: IngressObject, host: str | None, path: str) -> IngressBackend | None:
    """The backend of the request, or None for 404 (see the module docstring)."""
    request_host = _normal_host(host)
    path = path or "/"
    rules = ingress.spec.rules
    named = [r for r in rules if r.host and host_matches(r.host, request_host)]
    exact = [r for r in named if not (r.host or "").startswith("*.")]
    group = exact or named or [r for r in rules if not r.host]
    best: tuple[int, int] | None = None
    chosen: IngressBackend | None = None
    for rule in group:
        if rule.http is None:
            continue
        for candidate in rule.http.paths:
            length = path_matches(candidate.path_type, candidate.path, path)
            if length is None:
                continue
            rank = (length, 1 if candidate.path_type == "Exact" else 0)
            if best is None or rank > best:
                best, chosen = rank, candidate.backend
    return chosen if chosen is not None else ingress.spec.default_backend
