"""The clusterrole-aggregation controller (kube-controller-manager's
`clusterrole-aggregation`): a ClusterRole with an `aggregationRule` gets as
its `rules` the rules of every other ClusterRole that one of its
`clusterRoleSelectors` selects, each rule once, roles taken selector by
selector and in name order (Kubernetes' order, so the result is stable).

Any change to any ClusterRole may change what an aggregated role should hold
(its labels decide whether it is selected), so every ClusterRole event
re-checks every aggregating ClusterRole, as Kubernetes' controller does; a
reconcile computes the rules from the cache and writes only when they differ.
Aggregation does not chain through rules computed in the same pass: `admin`
selects `edit`, whose own rules are aggregated; the write of `edit` triggers
`admin` again, which then sees them (as in Kubernetes).

Neighbours: `engine.rbac` (reads the filled rules), `engine.rbac_bootstrap`
(admin, edit and view are aggregated roles).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from typing import Any

from engine.api.base import Resource
from engine.client import Client
from engine.clock import Clock
from engine.controller import Controller, Request, Result
from engine.errors import NotFound
from engine.informer import InformerFactory
from engine.manager import Manager
from engine.registry import REGISTRY
from engine.selectors import InvalidSelector, Operator, Requirement, Selector, selector_from_set

__all__ = ["ClusterRoleAggregationController", "aggregated_rules", "setup"]


def _selector(selector: Mapping[str, Any]) -> Selector:
    """A metav1.LabelSelector given as JSON."""
    requirements = [
        Requirement.make(k, Operator.EQUALS, (v,))
        for k, v in (selector.get("matchLabels") or {}).items()
    ]
    operators = {
        "In": Operator.IN,
        "NotIn": Operator.NOT_IN,
        "Exists": Operator.EXISTS,
        "DoesNotExist": Operator.DOES_NOT_EXIST,
    }
    for expression in selector.get("matchExpressions") or ():
        operator = operators.get(expression.get("operator"))
        if operator is None:
            raise InvalidSelector(f"{expression.get('operator')!r} is not a valid operator")
        requirements.append(
            Requirement.make(expression.get("key", ""), operator, expression.get("values") or ())
        )
    return Selector.of(requirements) if requirements else selector_from_set({})


def aggregated_rules(
    role: Mapping[str, Any], cluster_roles: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The rules an aggregating ClusterRole (JSON) should hold, given every
    ClusterRole (JSON)."""
    name = (role.get("metadata") or {}).get("name")
    everyone = sorted(cluster_roles, key=lambda r: str((r.get("metadata") or {}).get("name")))
    rules: list[dict[str, Any]] = []
    for selector_json in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or ():
        selector = _selector(selector_json)
        for other in everyone:
            metadata = other.get("metadata") or {}
            if metadata.get("name") == name or not selector.matches(metadata.get("labels") or {}):
                continue
            for rule in other.get("rules") or ():
                if rule not in rules:
                    rules.append(dict(rule))
    return rules


class ClusterRoleAggregationController:
    def __init__(
        self, client: Client, factory: InformerFactory, clock: Clock, *, workers: int = 1
    ) -> None:
        self.client = client
        self.kind = REGISTRY.lookup("rbac.authorization.k8s.io/v1", "ClusterRole").model
        self.roles = factory.informer(self.kind)
        self.controller = Controller("clusterrole-aggregation", self, clock=clock, workers=workers)
        self.controller.watches(self.roles, self._aggregators)

    def _aggregators(self, obj: Resource) -> list[Request]:
        return [
            Request(self.kind, "", role.metadata.name)
            for role in self.roles.cache.list()
            if getattr(role, "aggregation_rule", None)
        ]

    async def reconcile(self, request: Request) -> Result:
        role = self.roles.cache.get(request.name)
        if role is None:
            return Result()
        data = role.to_dict()
        if not data.get("aggregationRule"):
            return Result()
        rules = aggregated_rules(data, (r.to_dict() for r in self.roles.cache.list()))
        if rules == list(data.get("rules") or ()):
            return Result()
        # A merge patch replaces the list whole; a concurrent change of any
        # ClusterRole enqueues this role again, so the last write is current.
        with contextlib.suppress(NotFound):
            await self.client.patch(self.kind, request.name, {"rules": rules})
        return Result()


def setup(manager: Manager, *, workers: int = 1) -> ClusterRoleAggregationController:
    """Create the clusterrole-aggregation controller on `manager`'s informers and add it."""
    controller = ClusterRoleAggregationController(
        manager.client, manager.factory, manager.clock, workers=workers
    )
    manager.add(controller.controller)
    return controller
