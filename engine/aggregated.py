"""Aggregated APIs: kinds a provider serves instead of the store (read only).

Kubernetes serves some API groups from other servers behind the apiserver
(an APIService: metrics-server's metrics.k8s.io, a custom metrics adapter's
custom.metrics.k8s.io). Such kinds answer get and list and nothing else. Here
a provider registers with `Store.add_aggregated(provider)`; from then on the
store answers `get`, `try_get` and `list` of the provider's kinds from it
(applying namespace, label and field selectors itself), and every write or
watch of them is 405 MethodNotAllowed. The provider selects by labels itself
(so it may index or cache); the store applies field selectors. Objects a provider hands out are
shared and immutable like the store's.

Neighbours: `engine.store` (dispatches to providers), `engine.api.metrics`
(the kinds served this way), `runtime.metrics` (the providers).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from engine.api.base import Resource
from engine.selectors import Selector

__all__ = ["AggregatedAPI"]


class AggregatedAPI(Protocol):
    """A provider of read-only kinds."""

    def served_kinds(self) -> Iterable[type[Resource]]:
        """The model classes this provider answers for."""
        ...

    def get_object(self, kind: type[Resource], name: str, namespace: str) -> Resource | None:
        """One object (`namespace` is "" for cluster-scoped kinds), or None."""
        ...

    def list_objects(
        self, kind: type[Resource], namespace: str | None, selector: Selector | None
    ) -> Sequence[Resource]:
        """Every object of `kind` (in `namespace`, or in all with None) whose
        labels `selector` matches (every one with None), sorted by (namespace,
        name) as the store lists them."""
        ...
