"""The mutation detector reports a shared object changed in place by itself, at
the next check point (a store call, a cluster's wait or its exit), as client-go's
cache mutation detector does: nobody has to call `check()`."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.api.core import ConfigMap
from engine.clock import VirtualClock
from engine.mutation import SAMPLE_EVERY, MutationDetected, detector
from engine.store import Store
from runtime.cluster import Cluster, ClusterConfig, NodePool
from tests.runtime.test_cli import REPLICASET


@pytest.fixture
def store() -> Store:
    return Store(clock=VirtualClock(), rng=random.Random(1))


def test_a_write_trips_it_and_the_next_store_call_raises(store: Store) -> None:
    first = store.create(ConfigMap(metadata={"name": "a"}, data={"k": "1"}))
    first.data["k"] = "2"
    store.create(ConfigMap(metadata={"name": "b0"}))
    recorded = len(detector)
    with pytest.raises(MutationDetected, match="ConfigMap default/a"):
        # The round robin reaches every current object within SAMPLE_EVERY *
        # `recorded` writes; the write after the one that found the change raises.
        for i in range(1, SAMPLE_EVERY * recorded + 2):
            store.create(ConfigMap(metadata={"name": f"b{i}"}))
    assert detector.failure is not None
    with pytest.raises(MutationDetected, match="ConfigMap default/a"):
        store.get(ConfigMap, "b0")
    with pytest.raises(MutationDetected):  # and every later call, until reset
        store.list(ConfigMap)
    detector.reset()
    assert store.get(ConfigMap, "b0").metadata.name == "b0"


def test_updating_the_shared_object_changed_in_place_raises_at_once(store: Store) -> None:
    cached = store.create(ConfigMap(metadata={"name": "a"}, data={"k": "1"}))
    cached.data["k"] = "2"
    with pytest.raises(MutationDetected, match="ConfigMap default/a"):
        store.update(cached)
    detector.reset()


def test_the_version_a_write_replaces_is_compared(store: Store) -> None:
    cached = store.create(ConfigMap(metadata={"name": "a", "labels": {"x": "1"}}))
    cached.metadata.labels["x"] = "2"
    store.update(cached.model_copy(update={"data": {"k": "v"}}))
    assert detector.failure is not None and "ConfigMap default/a" in str(detector.failure)
    detector.reset()


async def test_a_cluster_wait_raises_instead_of_timing_out_and_so_does_its_exit() -> None:
    config = ClusterConfig(node_pools=(NodePool(count=2),))
    with pytest.raises(MutationDetected, match="ConfigMap default/settings"):
        async with Cluster(config) as cluster:
            await cluster.apply(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {mode: fast}\n"
            )
            settings = await cluster.get(ConfigMap, "settings", "default")
            settings.data["mode"] = "slow"
            # Node heartbeats keep writing; the round robin reaches the ConfigMap.
            with pytest.raises(MutationDetected, match="ConfigMap default/settings"):
                await cluster.wait_for(lambda: False, timeout=3600)
    detector.reset()


USER_TESTS = """
import asyncio

from engine.api.core import Pod
from runtime.cluster import Cluster, ClusterConfig, NodePool

REPLICASET = MANIFEST


async def relabel_a_cached_pod() -> None:
    async with Cluster(ClusterConfig(node_pools=(NodePool(count=1),))) as cluster:
        await cluster.apply(REPLICASET)
        await cluster.wait_converged(timeout=60)
        pod = (await cluster.list(Pod, "default")).items[0]
        pod.metadata.labels["tier"] = "gold"  # the bug: a shared object changed in place
        print("relabelled", pod.metadata.name)


def test_relabel_a_cached_pod() -> None:
    asyncio.run(relabel_a_cached_pod())


def test_the_next_test_runs() -> None:
    assert True
"""


def test_a_users_test_run_fails_naming_the_object(tmp_path: Path) -> None:
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(USER_TESTS).replace("MANIFEST", repr(REPLICASET))
    )
    env = {**os.environ, "KUBELOOP_MUTATION_DETECTOR": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "test_user.py"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env=env,
    )
    out = result.stdout
    assert result.returncode == 1, out + result.stderr
    assert "1 failed, 1 passed" in out
    relabelled = next(line for line in out.splitlines() if "relabelled" in line).split()[-1]
    assert "MutationDetected" in out
    assert f"Pod default/{relabelled}" in out
