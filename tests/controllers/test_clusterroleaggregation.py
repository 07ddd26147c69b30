"""The clusterrole-aggregation controller: admin, edit and view hold the rules
of the ClusterRoles their selectors pick, and follow labels as they change."""

from __future__ import annotations

from typing import Any

import anyio

from controllers import clusterroleaggregation
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.rbac_bootstrap import bootstrap_policy, ensure_bootstrap_policy
from engine.registry import REGISTRY
from engine.store import Store
from tests.engine.test_rbac import API, _filled_bootstrap, role, rule


def model(kind: str) -> Any:
    return REGISTRY.lookup(API, kind).model


async def test_aggregation_controller_fills_admin_edit_and_view(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    manager = Manager(client, clock=clock)
    clusterroleaggregation.setup(manager)
    ClusterRole = model("ClusterRole")
    async with manager:
        assert await ensure_bootstrap_policy(client) == len(bootstrap_policy())
        assert await ensure_bootstrap_policy(client) == 0
        await anyio.sleep(1)
        view = store.get(ClusterRole, "view").to_dict()["rules"]
        edit = store.get(ClusterRole, "edit").to_dict()["rules"]
        admin = store.get(ClusterRole, "admin").to_dict()["rules"]
        expected = {
            r["metadata"]["name"]: r for r in _filled_bootstrap() if r["kind"] == "ClusterRole"
        }
        assert view == expected["view"]["rules"]
        assert edit == expected["edit"]["rules"]
        assert admin == expected["admin"]["rules"]
        assert all(r in edit for r in view) and all(r in admin for r in edit)
        # A CRD's role labelled for aggregation joins view at once (and edit, admin).
        store.create(
            parse_object(
                {
                    **role("widgets-view", rule(["get"], ["example.com"], ["widgets"])),
                    "metadata": {
                        "name": "widgets-view",
                        "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"},
                    },
                }
            )
        )
        await anyio.sleep(1)
        widget_rule = rule(["get"], ["example.com"], ["widgets"])
        for name in ("view", "edit", "admin"):
            assert widget_rule in store.get(ClusterRole, name).to_dict()["rules"], name
        store.delete(ClusterRole, "widgets-view")
        await anyio.sleep(1)
        assert widget_rule not in store.get(ClusterRole, "view").to_dict()["rules"]
