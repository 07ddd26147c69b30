"""A cluster with a data directory stops and starts again where it was: the
same objects, uids and resourceVersions, converged, and it goes on working;
`kubeloop snapshot save|restore` copy a data directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.api.apps import Deployment
from engine.api.core import ConfigMap, Node, Pod
from engine.clock import VirtualClock
from engine.durable import DATABASE_NAME, SqliteJournal
from engine.store import Store
from runtime.cli import main
from runtime.cluster import Cluster, ClusterConfig, NodePool

MANIFEST = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: nginx:1.27}]}
"""


def _identities(cluster: Cluster) -> dict[tuple[str, str], tuple[str, str]]:
    store = cluster.store
    assert store is not None
    return {
        (obj.kind, obj.metadata.name): (obj.metadata.uid, obj.metadata.resource_version)
        for kind in (Deployment, Pod, Node)
        for obj in store.objects(kind)
    }


async def test_a_cluster_starts_again_from_its_data_directory(tmp_path: Path) -> None:
    config = ClusterConfig(node_pools=(NodePool(count=2),), data_dir=tmp_path / "state")
    async with Cluster(config) as cluster:
        await cluster.apply(MANIFEST)
        await cluster.wait_converged(timeout=300)
        assert cluster.store is not None
        pods_before = {p.metadata.uid for p in cluster.store.objects(Pod)}
        assert len(pods_before) == 4
    async with Cluster(config) as again:
        assert again.store is not None
        assert {p.metadata.uid for p in again.store.objects(Pod)} == pods_before
        await again.wait_converged(timeout=300)
        settled = _identities(again)
        assert {p.metadata.uid for p in again.store.objects(Pod)} == pods_before
        await again.apply(MANIFEST.replace("replicas: 4", "replicas: 6"))
        await again.wait_converged(timeout=300)
        assert len(list(again.store.objects(Pod))) == 6
        pods_after = {p.metadata.uid for p in again.store.objects(Pod)}
    last = again.store.revision  # after the cluster stopped: every write it made
    deployment = again.store.get(Deployment, "web", "default")
    async with Cluster(config) as third:
        assert third.store is not None
        assert third.store.revision >= last
        assert {p.metadata.uid for p in third.store.objects(Pod)} == pods_after
        kept = third.store.get(Deployment, "web", "default")
        assert kept == deployment
        assert settled[("Deployment", "web")][0] == kept.metadata.uid
        made = third.store.create(
            Pod.model_validate(
                {"metadata": {"name": "new"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
            )
        )
        assert int(made.metadata.resource_version) > last


def test_snapshot_commands_save_and_restore_a_data_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(clock=VirtualClock())
    journal = SqliteJournal(tmp_path / "live" / DATABASE_NAME)
    journal.attach(store)
    store.create(ConfigMap.model_validate({"metadata": {"name": "saved"}}))
    revision = store.revision
    snap = tmp_path / "snap.db"
    assert main(["snapshot", "save", str(snap), "--data-dir", str(tmp_path / "live")]) == 0
    assert f"saved revision {revision}" in capsys.readouterr().out
    journal.close()
    assert main(["snapshot", "restore", str(snap), "--data-dir", str(tmp_path / "new")]) == 0
    assert f"restored revision {revision}" in capsys.readouterr().out
    restored = Store(clock=VirtualClock())
    journal = SqliteJournal(tmp_path / "new" / DATABASE_NAME)
    journal.restore(restored)
    assert restored.get(ConfigMap, "saved", "default").metadata.resource_version == str(
        store.get(ConfigMap, "saved", "default").metadata.resource_version
    )
    journal.close()
    for argv, says in (
        (["snapshot", "restore", str(snap), "--data-dir", str(tmp_path / "new")], "already holds"),
        (
            ["snapshot", "save", str(snap), "--data-dir", str(tmp_path / "none")],
            "no kubeloop state",
        ),
    ):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and says in err
