"""Ingress rule matching for the process-runtime ingress controller (pure).

`IngressRoutes.build(ingresses)` flattens the rules of the Ingresses one
controller serves; `routes.match(host, path)` picks the backend for a
request, with Kubernetes' (and ingress-nginx's) precedence:

* **host**: rules whose `host` equals the request's host (case-insensitive,
  port stripped) come first, then `*.` wildcard rules (the wildcard is exactly
  one DNS label: `*.foo.com` matches `bar.foo.com`, not `foo.com` nor
  `a.bar.foo.com`), then rules without a host (every host);
* **path**, within the first host group that has a matching path: `Exact`
  matches the path exactly (case-sensitive); `Prefix` matches by path
  element (`/foo` matches `/foo`, `/foo/` and `/foo/bar`, not `/foobar`; a
  trailing `/` in the rule is ignored; `/` matches every path);
  `ImplementationSpecific` is treated as `Prefix`. The longest matching path
  wins; between equal lengths, `Exact` beats `Prefix`; then the oldest
  Ingress (creation, then namespace/name) wins;
* no rule matches: the `defaultBackend` of the oldest Ingress that has one;
  none: no match (the controller answers 404).

A match carries the Ingress's namespace (backends are Services of it) and the
`IngressBackend`.

Neighbours: `runtime.network.ingress` (the controller), `engine.api.networking`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from engine.api.networking import Ingress, IngressBackend

__all__ = ["IngressRoutes", "Route", "host_matches", "path_matches"]


@dataclass(frozen=True, slots=True)
class Route:
    namespace: str
    ingress: str
    host: str | None  # None: every host
    path: str
    path_type: str  # "Exact" or "Prefix" (ImplementationSpecific is read as Prefix)
    backend: IngressBackend
    order: int  # the Ingress's rank by age


def host_matches(rule_host: str, host: str) -> bool:
    rule_host, host = rule_host.lower(), host.lower()
    if rule_host.startswith("*."):
        suffix = rule_host[1:]
        return host.endswith(suffix) and "." not in host[: -len(suffix)] and host != suffix[1:]
    return rule_host == host


def path_matches(path_type: str, rule_path: str, path: str) -> bool:
    if path_type == "Exact":
        return path == rule_path
    prefix = rule_path.rstrip("/")
    if not prefix:
        return True
    return path == prefix or path.startswith(prefix + "/")


def _precedence(route: Route) -> tuple[int, bool, int]:
    """Longest path first, then Exact before Prefix, then the oldest Ingress."""
    return (-len(route.path.rstrip("/") or "/"), route.path_type != "Exact", route.order)


def _request_host(host: str) -> str:
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class IngressRoutes:
    """The routes of a set of Ingresses (module docstring)."""

    def __init__(self, routes: list[Route], defaults: list[tuple[str, IngressBackend]]) -> None:
        self.routes = routes
        self.defaults = defaults

    @classmethod
    def build(cls, ingresses: Iterable[Ingress]) -> IngressRoutes:
        ordered = sorted(
            ingresses,
            key=lambda i: (
                i.metadata.creation_timestamp.isoformat() if i.metadata.creation_timestamp else "~",
                i.metadata.namespace,
                i.metadata.name,
            ),
        )
        routes: list[Route] = []
        defaults: list[tuple[str, IngressBackend]] = []
        for order, ingress in enumerate(ordered):
            namespace = ingress.metadata.namespace
            if ingress.spec.default_backend is not None:
                defaults.append((namespace, ingress.spec.default_backend))
            for rule in ingress.spec.rules:
                if rule.http is None:
                    continue
                routes.extend(
                    Route(
                        namespace=namespace,
                        ingress=ingress.metadata.name,
                        host=rule.host.lower() if rule.host else None,
                        path=path.path or "/",
                        path_type="Exact" if path.path_type == "Exact" else "Prefix",
                        backend=path.backend,
                        order=order,
                    )
                    for path in rule.http.paths
                )
        return cls(routes, defaults)

    def match(self, host: str, path: str) -> tuple[str, IngressBackend] | None:
        """(namespace, backend) for a request, or None (module docstring)."""
        host = _request_host(host)
        exact = [r for r in self.routes if r.host is not None and not r.host.startswith("*.")]
        wildcard = [r for r in self.routes if r.host is not None and r.host.startswith("*.")]
        anyhost = [r for r in self.routes if r.host is None]
        for group in (exact, wildcard, anyhost):
            candidates = [
                r
                for r in group
                if (r.host is None or host_matches(r.host, host))
                and path_matches(r.path_type, r.path, path)
            ]
            if candidates:
                best = min(
                    candidates,
                    key=lambda r: (
                        -len(r.path.rstrip("/") or "/"),
                        r.path_type != "Exact",
                        r.order,
                    ),
                )
                return (best.namespace, best.backend)
        return self.defaults[0] if self.defaults else None
