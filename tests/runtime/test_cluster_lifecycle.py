"""A cluster's whole life through the facade, on virtual time: apply, converge,
rolling update, node failure, healing, deletion -- and the same scenario
through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.api.apps import Deployment, ReplicaSet
from engine.api.core import Node, Pod
from runtime.cli import main
from runtime.cluster import Cluster, ClusterConfig, NodePool
from runtime.scenario import SetImageArgs, set_image

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "rollout"


def images(pods: list[Pod]) -> set[str | None]:
    return {p.spec.containers[0].image for p in pods}


async def test_apply_converge_update_fail_heal_delete() -> None:
    config = ClusterConfig(node_pools=(NodePool(count=12, zones=("a", "b", "c")),), seed=3)
    async with Cluster(config) as cluster:
        store = cluster.store
        assert store is not None

        def shop_pods(app: str) -> list[Pod]:
            return [
                p
                for p in store.list(Pod, "shop", label_selector=f"app={app}").items
                if p.metadata.deletion_timestamp is None
            ]

        # apply -> converge
        await cluster.apply(EXAMPLES / "workloads.yaml")
        await cluster.wait_converged(timeout=600)
        assert len(shop_pods("frontend")) == 60
        catalog_zones = [
            store.get(Node, p.spec.node_name or "").metadata.labels["topology.kubernetes.io/zone"]
            for p in shop_pods("catalog")
        ]
        assert sorted(catalog_zones.count(z) for z in "abc") == [10, 10, 10]

        # rolling update: never more than replicas + maxSurge pods of cart
        most_cart_pods = 0

        def watch_cart(record: object) -> None:
            nonlocal most_cart_pods
            most_cart_pods = max(most_cart_pods, len(shop_pods("cart")))

        store.observers.append(watch_cart)
        await set_image(
            cluster, SetImageArgs(deployment="cart", namespace="shop", image="cart:2.4")
        )
        message = await cluster.rollout_status("cart", "shop", timeout=600)
        assert "successfully rolled out" in message
        store.observers.remove(watch_cart)
        await cluster.wait_converged(timeout=600)
        assert images(shop_pods("cart")) == {"cart:2.4"}
        assert most_cart_pods <= 31  # replicas 30, maxSurge 1
        cart = await cluster.get(Deployment, "cart", "shop")
        assert cart.metadata.annotations["deployment.kubernetes.io/revision"] == "2"

        # rollback restores the first template as revision 3
        await cluster.rollback("cart", "shop")
        await cluster.rollout_status("cart", "shop", timeout=600)
        await cluster.wait_converged(timeout=600)
        assert images(shop_pods("cart")) == {"example/cart:2.3"}

        # node failure -> eviction after 50 s + 300 s -> healed elsewhere
        victim = shop_pods("frontend")[0].spec.node_name
        assert victim
        failed_at = cluster.clock.monotonic()
        await cluster.crash_node(victim)
        await cluster.wait_for(lambda: not store.get(Node, victim).is_ready, timeout=120)
        await cluster.wait_converged(timeout=900)
        assert 340 <= cluster.clock.monotonic() - failed_at <= 420
        assert all(p.spec.node_name != victim for p in shop_pods("frontend"))
        assert len(shop_pods("frontend")) == 60

        # the node comes back: its stuck pods finish terminating
        await cluster.restore_node(victim)
        await cluster.wait_for(
            lambda: all(p.metadata.deletion_timestamp is None for p in store.list(Pod).items),
            timeout=600,
        )

        # delete: the garbage collector removes ReplicaSets and pods
        deleted_at = cluster.clock.monotonic()
        await cluster.delete(Deployment, "frontend", "shop")
        await cluster.wait_for(
            lambda: not store.list(Pod, "shop", label_selector="app=frontend").items,
            timeout=600,
        )
        # pods are deleted gracefully: terminationGracePeriodSeconds 30 at most
        assert cluster.clock.monotonic() - deleted_at <= 31
        assert not [
            rs
            for rs in store.list(ReplicaSet, "shop").items
            if rs.metadata.labels.get("app") == "frontend"
        ]
        assert cluster.converged()


def test_bundled_scenario_through_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", str(EXAMPLES / "scenario.yaml"), "--json"])
    out, _ = capsys.readouterr()
    assert code == 0, out
    summary = json.loads(out)
    assert summary["converged"] and summary["nodes"] == 100
    assert summary["pods"]["ready"] == 120
    heal = summary["steps"][7]
    assert heal["step"] == "wait converged"
    assert (
        280 <= heal["seconds"] <= 360
    )  # tolerationSeconds 300, less the 60 s already waited + 50 s
